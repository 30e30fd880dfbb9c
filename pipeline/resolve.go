package pipeline

import (
	"context"
	"fmt"

	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// Resolution is the answer of Resolve: the packages in install order, and
// the plans that explain them.
type Resolution struct {
	Packages []*rpmrepo.Package
	plans    []*resolver.Plan
	lock     *resolver.Lock
	kernel   *KernelFile
}

// Why is the chain that brought the package called name (or with that
// NEVRA) in; nil when it is not in the resolution.
func (r *Resolution) Why(name string) []string {
	if k := r.kernel; k != nil && (k.Package.Name == name || k.Package.NEVRA() == name) {
		return []string{k.Package.NEVRA() + " is the definition's kernel RPM file " + k.Label + " (installed as it is, without resolution)"}
	}
	// The first plan that brought it in has the real reason; later plans
	// only see it as already installed.
	for _, p := range r.plans {
		if w := p.Why(name); w != nil {
			return w
		}
	}
	return nil
}

// Lock pins the resolution (NEVRA, checksum, repository, URL); the signing
// keys are known only once packages are fetched, which Lock in this
// package's Build does.
func (r *Resolution) Lock() *resolver.Lock { return r.lock }

// Resolve answers what a build would install, without fetching payloads:
// with no names, the target image's packages (base and kernel, then the
// staging of the target: the bootstrap's, the appliance's, or both for
// TargetAll); with names, exactly the plan of `dnf install
// NAMES…` on a fresh root (a name, a provide, or name-version).
func Resolve(ctx context.Context, opts Options, names []string) (*Resolution, error) {
	targets, err := targetsOf(opts.Target)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	st := newStages(opts)
	defer st.finish()
	src, err := open(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	st.start("resolve")
	res := &Resolution{}
	if len(names) > 0 {
		p, err := src.solve(ctx, resolver.Request{Install: names, Lock: repoLock(opts.Lock)})
		if err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		res.Packages, res.plans = p.Packages, []*resolver.Plan{p}
	} else {
		// The boot loader is not part of the answer. For TargetAll, the
		// packages of both images, each once.
		pls, err := targetPlans(ctx, src, opts.Lock, targets, false)
		if err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		seen := map[*rpmrepo.Package]bool{}
		res.plans = []*resolver.Plan{pls[0].base}
		res.kernel = pls[0].kernel
		for _, pl := range pls {
			for _, p := range pl.installed {
				if !seen[p] {
					seen[p] = true
					res.Packages = append(res.Packages, p)
				}
			}
			res.plans = append(res.plans, pl.staged...)
		}
		// The lock also pins what a staging erase removes later.
		res.lock = lockOf(pls, src.repos, nil)
		return res, nil
	}
	res.lock = newLock(res.Packages, src.repos, nil)
	return res, nil
}

// Lock resolves the target image's packages (the boot loader's included),
// fetches and verifies them, and returns the lock a build would write:
// every package by NEVRA, checksum, repository, URL and the fingerprint of
// the key that verified it.
func Lock(ctx context.Context, opts Options) (*resolver.Lock, error) {
	st := newStages(opts)
	defer st.finish()
	src, err := open(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	targets, err := targetsOf(opts.Target)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	st.start("resolve")
	pls, err := targetPlans(ctx, src, opts.Lock, targets, opts.Isolinux.FS == nil)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	st.start("fetch")
	got, err := fetch(ctx, src, pls...)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	return lockOf(pls, src.repos, got), nil
}
