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
	base, stage *resolver.Plan
	// installed is what the image ends up with, in install order.
	installed []*rpmrepo.Package
	// syslinux is the boot loader's package (nil when the boot loader
	// comes from elsewhere).
	syslinux *rpmrepo.Package
	// kernel is the definition's kernel RPM file (nil when the kernel is
	// a repository package): installed after the base set, as it is, with
	// no dependency resolution.
	kernel *KernelFile
	// warnings are the plan's: an unsigned kernel file, its unmet
	// requirements.
	warnings []string
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

// locked is what the lock and the SBOM list: the installed packages and
// the boot loader's, which is in the ISO too.
func (p *plans) locked() []*rpmrepo.Package {
	out := append([]*rpmrepo.Package(nil), p.installed...)
	if p.syslinux != nil && !slices.Contains(out, p.syslinux) {
		out = append(out, p.syslinux)
	}
	return out
}

// plan resolves the base set and the kernel, then the bootstrap staging
// on top of it, as VIC's separate package-manager calls do; with
// bootLoader, also the repository's syslinux package.
func plan(ctx context.Context, src *source, lock *resolver.Lock, bootLoader bool) (*plans, error) {
	def := src.def
	baseNames, err := def.PackageList(repos.StageBase)
	if err != nil {
		return nil, err
	}
	// A kernel RPM file is not resolved: the resolver sees it as
	// installed (its provides satisfy others), and its own requirements
	// are only checked, for warnings.
	var kf *KernelFile
	kernelReq := []string{def.Spec.Kernel}
	var withKernel []*rpmrepo.Package
	if def.KernelFile != "" {
		if kf, err = LoadKernelFile(def, src.repos.opts.Cache, src.kernelPath, src.allowUnsignedKernel, lock); err != nil {
			return nil, err
		}
		kernelReq, withKernel = nil, []*rpmrepo.Package{kf.Package}
	}
	lock = repoLock(lock)
	base, err := src.solve(ctx, resolver.Request{Install: append(append([]string(nil), baseNames...), kernelReq...), Installed: withKernel, Lock: lock})
	if err != nil {
		return nil, fmt.Errorf("base packages of %s: %w", def.Name, err)
	}
	stageReq := resolver.Request{Installed: append(slices.Clone(base.Packages), withKernel...), Lock: lock}
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
	if kf != nil && slices.Contains(stage.Erase, kf.Package) {
		return nil, fmt.Errorf("bootstrap staging of %s erases %s, the kernel RPM file %s", def.Name, kf.Package.NEVRA(), kf.Label)
	}
	p := &plans{base: base, stage: stage, kernel: kf}
	p.installed = append(append(kept(base, stage), withKernel...), stage.Packages...)
	if kf != nil {
		if p.warnings, err = kf.Warnings(ctx, p.installed, src.repos.loadFiles); err != nil {
			return nil, err
		}
	}
	if bootLoader {
		if p.syslinux, err = bootLoaderPackage(ctx, src, lock); err != nil {
			return nil, err
		}
	}
	return p, nil
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
