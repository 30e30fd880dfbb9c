package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// plans are a build's resolved package sets.
type plans struct {
	target Target
	base   *resolver.Plan
	// stage is the staging on top of base: what it erases (Erase) and
	// what it installs (Packages).
	stage *resolver.Plan
	// staged are the plans that make up stage, in order (the appliance
	// erases, then installs, as VIC's two package-manager calls do).
	staged []*resolver.Plan
	// takenAlong are the packages a staging erase removed besides those it
	// named, and warnings says when those include a base package or the
	// kernel.
	takenAlong []*rpmrepo.Package
	warnings   []string
	// installed is what the image ends up with, in install order.
	installed []*rpmrepo.Package
	// syslinux is the boot loader's package (nil when the boot loader
	// comes from elsewhere).
	syslinux *rpmrepo.Package
	// kernel is the definition's kernel RPM file (nil when the kernel is
	// a repository package): installed after the base set, as it is, with
	// no dependency resolution.
	kernel *KernelFile
}

// baseSet is the plan every target shares: packages.base and the kernel.
type baseSet struct {
	plan *resolver.Plan
	// kernel is the kernel RPM file, when the definition names one: the
	// resolver sees it as installed (its provides satisfy others), and
	// its own requirements are only checked, for warnings.
	kernel *KernelFile
	// lock is the build's lock without the kernel file's entry (the
	// resolver pins repository packages only).
	lock *resolver.Lock
}

// withKernel is the kernel file's package alone, or nothing.
func (b *baseSet) withKernel() []*rpmrepo.Package {
	if b.kernel == nil {
		return nil
	}
	return []*rpmrepo.Package{b.kernel.Package}
}

// installed is the base set as the staging resolves on top of it.
func (b *baseSet) installed() []*rpmrepo.Package {
	return append(slices.Clone(b.plan.Packages), b.withKernel()...)
}

// finish completes a target's plan: what the image ends up with (the base
// set minus what staging erased, the kernel file, what staging installed),
// the kernel file's warnings, and the boot loader.
func (b *baseSet) finish(ctx context.Context, src *source, p *plans, stageName string, bootLoader bool) (*plans, error) {
	var err error
	p.kernel = b.kernel
	if kf := b.kernel; kf != nil && slices.Contains(p.stage.Erase, kf.Package) {
		return nil, fmt.Errorf("%s staging of %s erases %s, the kernel RPM file %s", stageName, src.def.Name, kf.Package.NEVRA(), kf.Label)
	}
	p.installed = append(append(kept(b.plan, p.stage), b.withKernel()...), p.stage.Packages...)
	if kf := b.kernel; kf != nil {
		w, err := kf.Warnings(ctx, p.installed, src.repos.loadFiles)
		if err != nil {
			return nil, err
		}
		p.warnings = append(p.warnings, w...)
	}
	if bootLoader {
		if p.syslinux, err = bootLoaderPackage(ctx, src, b.lock); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// fetch is every package to download: both plans (staging may erase
// part of the base) and the boot loader.
func (p *plans) fetch() []*rpmrepo.Package {
	out := append(append([]*rpmrepo.Package(nil), p.base.Packages...), p.stage.Packages...)
	if p.syslinux != nil {
		out = append(out, p.syslinux)
	}
	return out
}

// locked is what the SBOM and the report's verification list: the
// installed packages and the boot loader's, which is in the ISO too.
func (p *plans) locked() []*rpmrepo.Package {
	out := append([]*rpmrepo.Package(nil), p.installed...)
	if p.syslinux != nil && !slices.Contains(out, p.syslinux) {
		out = append(out, p.syslinux)
	}
	return out
}

// pinned is what the lock pins: locked plus every package the build
// fetched and installed but a staging erase removed later (the
// appliance's toybox and what its erase took along). A --lock rebuild
// must install them too, at the same versions: their scriptlets ran on the
// tree, and another version could pull in other dependencies that stay.
func (p *plans) pinned() []*rpmrepo.Package {
	out := p.locked()
	for _, q := range p.fetch() {
		if !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// lockOf is the lock of the plans' pinned packages, each once, with Erased
// set on those that no plan's image keeps.
func lockOf(pls []*plans, rs *repoSet, got *fetched) *resolver.Lock {
	key := func(name, nevra, sum string) string { return name + " " + nevra + " " + sum }
	kept := map[string]bool{}
	seen := map[*rpmrepo.Package]bool{}
	var pinned []*rpmrepo.Package
	for _, pl := range pls {
		for _, p := range pl.locked() {
			kept[key(p.Name, p.NEVRA(), p.Checksum.Type+":"+p.Checksum.Value)] = true
		}
		for _, p := range pl.pinned() {
			if !seen[p] {
				seen[p] = true
				pinned = append(pinned, p)
			}
		}
	}
	lk := newLock(pinned, rs, got)
	for i, lp := range lk.Packages {
		lk.Packages[i].Erased = !kept[key(lp.Name, lp.NEVRA, lp.Checksum)]
	}
	return lk
}

// basePlan resolves packages.base and the kernel: the plan every target
// shares. A kernel RPM file is loaded and verified here, not resolved.
func basePlan(ctx context.Context, src *source, lock *resolver.Lock) (*baseSet, error) {
	def := src.def
	baseNames, err := def.PackageList(repos.StageBase)
	if err != nil {
		return nil, err
	}
	b := &baseSet{}
	kernelReq := []string{def.Spec.Kernel}
	if def.KernelFile != "" {
		if b.kernel, err = LoadKernelFile(def, src.repos.opts.Cache, src.kernelPath, src.allowUnsignedKernel, lock); err != nil {
			return nil, err
		}
		kernelReq = nil
	}
	b.lock = repoLock(lock)
	b.plan, err = src.solve(ctx, resolver.Request{Install: append(slices.Clone(baseNames), kernelReq...), Installed: b.withKernel(), Lock: b.lock})
	if err != nil {
		return nil, fmt.Errorf("base packages of %s: %w", def.Name, err)
	}
	return b, nil
}

// bootstrapPlan resolves the bootstrap staging on top of base.
func bootstrapPlan(ctx context.Context, src *source, b *baseSet, bootLoader bool) (*plans, error) {
	def := src.def
	stageReq := resolver.Request{Installed: b.installed(), Lock: b.lock}
	if sc := def.Spec.StagingCommand(repos.StageBootstrap); sc != nil {
		if sc.Erases() {
			stageReq.Erase = sc.Packages
		} else {
			stageReq.Install = append(stageReq.Install, sc.Packages...)
		}
	}
	bootNames, err := def.PackageList(repos.StageBootstrap)
	if err != nil {
		return nil, err
	}
	stageReq.Install = append(stageReq.Install, bootNames...)
	stage := &resolver.Plan{}
	if len(stageReq.Install)+len(stageReq.Erase) > 0 {
		if stage, err = src.solve(ctx, stageReq); err != nil {
			return nil, fmt.Errorf("bootstrap packages of %s: %w", def.Name, err)
		}
	}
	p := &plans{target: TargetBootstrap, base: b.plan, stage: stage, staged: []*resolver.Plan{stage}}
	return b.finish(ctx, src, p, "bootstrap", bootLoader)
}

// appliancePlan resolves the appliance on top of base as VIC's appliance
// staging does: packages_script_staging.appliance first (`erase toybox`:
// the named packages and every installed package that loses the last
// provider of one of its requirements, as tdnf erase), then
// packages.appliance on what is left. The definition's staging.sh is not
// part of it (VIC runs it for the bootstrap only).
func appliancePlan(ctx context.Context, src *source, b *baseSet, bootLoader bool) (*plans, error) {
	def := src.def
	base, lock := b.plan, b.lock
	names, err := def.PackageList(repos.StageAppliance)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: packages.appliance is empty: the definition has no appliance to build", def.Name)
	}
	p := &plans{target: TargetAppliance, base: base}
	erase := &resolver.Plan{}
	installedBase := b.installed()
	if sc := def.Spec.StagingCommand(repos.StageAppliance); sc != nil {
		rq := resolver.Request{Installed: b.installed(), Lock: lock}
		if sc.Erases() {
			rq.Erase = sc.Packages
		} else {
			rq.Install = sc.Packages
		}
		if erase, err = src.solve(ctx, rq); err != nil {
			return nil, fmt.Errorf("appliance staging %q of %s: %w", sc.String(), def.Name, err)
		}
		if sc.Erases() {
			p.takenAlong, p.warnings = takenAlong(def, base, erase, sc.Packages)
		}
		p.staged = append(p.staged, erase)
		installedBase = append(append(kept(base, erase), b.withKernel()...), erase.Packages...)
	}
	inst, err := src.solve(ctx, resolver.Request{Installed: installedBase, Install: names, Lock: lock})
	if err != nil {
		return nil, fmt.Errorf("appliance packages of %s: %w", def.Name, err)
	}
	p.staged = append(p.staged, inst)
	// One staging plan for the install stage: the erasures, then what the
	// staging command and packages.appliance install.
	p.stage = &resolver.Plan{Erase: erase.Erase, Packages: append(append([]*rpmrepo.Package(nil), erase.Packages...), inst.Packages...)}
	return b.finish(ctx, src, p, "appliance", bootLoader)
}

// takenAlong is what an erase removed besides the packages it named, and a
// warning for each of those that packages.base named or that is the
// kernel: VIC's appliance needs them.
func takenAlong(def *repos.Definition, base, erase *resolver.Plan, named []string) ([]*rpmrepo.Package, []string) {
	baseNames, _ := def.PackageList(repos.StageBase)
	inBase := map[string]bool{def.Spec.Kernel: true}
	for _, n := range baseNames {
		inBase[n] = true
	}
	var out []*rpmrepo.Package
	var warnings []string
	for _, p := range erase.Erase {
		if slices.Contains(named, p.Name) || slices.Contains(named, p.NEVRA()) {
			continue
		}
		out = append(out, p)
		if inBase[p.Name] {
			what := "packages.base names it"
			if p.Name == def.Spec.Kernel {
				what = "it is the kernel"
			}
			warnings = append(warnings, fmt.Sprintf("appliance staging %q also erases %s (%s; VIC's appliance needs it)",
				def.Spec.StagingCommand(repos.StageAppliance).String(), p.NEVRA(), what))
		}
	}
	return out, warnings
}

// targetPlans resolves each target's plan on one shared base plan.
func targetPlans(ctx context.Context, src *source, lock *resolver.Lock, targets []Target, bootLoader bool) ([]*plans, error) {
	base, err := basePlan(ctx, src, lock)
	if err != nil {
		return nil, err
	}
	var out []*plans
	for _, t := range targets {
		var p *plans
		if t == TargetAppliance {
			p, err = appliancePlan(ctx, src, base, bootLoader)
		} else {
			p, err = bootstrapPlan(ctx, src, base, bootLoader)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// union is every package the plans fetch, each once, in first-seen order.
func union(pls []*plans) []*rpmrepo.Package {
	seen := map[*rpmrepo.Package]bool{}
	var out []*rpmrepo.Package
	for _, p := range pls {
		for _, q := range p.fetch() {
			if !seen[q] {
				seen[q] = true
				out = append(out, q)
			}
		}
	}
	return out
}

// targets are the images a target names, in build order.
func targetsOf(t Target) ([]Target, error) {
	switch t {
	case "", TargetBootstrap:
		return []Target{TargetBootstrap}, nil
	case TargetAppliance:
		return []Target{TargetAppliance}, nil
	case TargetAll:
		return []Target{TargetBootstrap, TargetAppliance}, nil
	}
	return nil, fmt.Errorf("unknown target %q (want bootstrap, appliance or all)", t)
}

// bootLoaderPackage picks the repository's syslinux package: resolved and
// verified like any package, but not installed into the initramfs.
func bootLoaderPackage(ctx context.Context, src *source, lock *resolver.Lock) (*rpmrepo.Package, error) {
	plan, err := src.solve(ctx, resolver.Request{Install: []string{"syslinux"}, Lock: lock})
	if err != nil {
		return nil, fmt.Errorf("the boot loader comes from the repository's syslinux package (or --isolinux DIR): %w", err)
	}
	for _, p := range plan.Packages {
		if p.Name == "syslinux" {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no package named syslinux in the repositories (give --isolinux DIR)")
}

// solve runs the resolver over the opened repositories.
func (src *source) solve(ctx context.Context, rq resolver.Request) (*resolver.Plan, error) {
	return resolver.Solve(ctx, src.repos.pkgs, rq, resolver.Policy{
		NoWeakDeps: src.noWeakDeps,
		Priorities: src.repos.priorities,
		LoadFiles:  src.repos.loadFiles,
	})
}

// kept is the base set minus what staging erased, in install order.
func kept(base, stage *resolver.Plan) []*rpmrepo.Package {
	erased := map[*rpmrepo.Package]bool{}
	for _, p := range stage.Erase {
		erased[p] = true
	}
	var out []*rpmrepo.Package
	for _, p := range base.Packages {
		if !erased[p] {
			out = append(out, p)
		}
	}
	return out
}
