package check

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// loadFiles completes the file lists of every open repository, so that
// file requirements are resolved as dnf resolves them (it reads
// filelists.xml; libsolv's installcheck without it would not).
func (c *checker) loadFiles(ctx context.Context) error {
	for i := range c.rep.Repositories {
		rr := &c.rep.Repositories[i]
		if rr.repo == nil {
			continue
		}
		if err := rr.repo.LoadFilelists(ctx); err != nil {
			return err
		}
	}
	return nil
}

// needFiles reports whether a file requirement is not met by the files
// primary.xml lists.
func needFiles(pkgs []*rpmrepo.Package) bool {
	files := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			files[f] = true
		}
	}
	for _, p := range pkgs {
		for _, d := range p.Requires {
			if strings.HasPrefix(d.Name, "/") && !files[d.Name] {
				return true
			}
			if resolver.IsRich(d.Name) && strings.Contains(d.Name, "/") {
				return true
			}
		}
	}
	return false
}

// checkInstallability finds the requirements without a provider (closure)
// and the packages that cannot be installed from these repositories alone.
func (c *checker) checkInstallability(ctx context.Context) error {
	if len(c.pkgs) == 0 {
		return nil
	}
	if needFiles(c.pkgs) {
		if err := c.loadFiles(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.rep.problem("file lists: %v (file requirements are judged on primary.xml's files only)", err)
		}
	}
	ix := resolver.NewInstallability(c.pkgs, resolver.Policy{Priorities: c.prio})
	for _, u := range ix.Unresolved() {
		c.rep.Unresolved = append(c.rep.Unresolved, Unresolved{NEVRA: u.Package.NEVRA(), Repo: u.Package.Repo, Requires: u.Requires.String()})
		c.rep.problem("%s (%s): nothing provides %s", u.Package.NEVRA(), u.Package.Repo, u.Requires)
	}
	res, err := ix.CheckAll(ctx)
	if err != nil {
		return err
	}
	solved := 0
	for _, r := range res {
		switch r.Verdict {
		case resolver.Installable:
			c.rep.Installable++
			continue
		case resolver.Undecided:
			// Too hard for the quick search: ask the full solver, for a
			// bounded number of packages (each is a solve from scratch).
			if solved < maxFullSolves {
				solved++
				pl, err := resolver.Solve(ctx, c.pkgs, resolver.Request{Install: []string{r.Package.NEVRA()}},
					resolver.Policy{Priorities: c.prio, NoWeakDeps: true})
				if err == nil && holds(pl, r.Package) {
					c.rep.Installable++
					continue
				}
				if err != nil {
					r.Problem = err.Error()
				}
			}
		}
		c.rep.Uninstallable = append(c.rep.Uninstallable, Uninstallable{NEVRA: r.Package.NEVRA(), Repo: r.Package.Repo, Problem: r.Problem})
		c.rep.problem("%s (%s) cannot be installed: %s", r.Package.NEVRA(), r.Package.Repo, r.Problem)
	}
	return nil
}

// checkSets resolves the definition's package sets as a build does: base
// and the kernel, then each image's staging on top.
func (c *checker) checkSets(ctx context.Context) {
	if len(c.pkgs) == 0 {
		return
	}
	spec := c.def.Spec
	pol := resolver.Policy{Priorities: c.prio, NoWeakDeps: c.opts.NoWeakDeps,
		LoadFiles: func(ctx context.Context) error { return c.loadFiles(ctx) }}
	baseNames, err := c.def.PackageList(repos.StageBase)
	if err != nil {
		c.set("base", 0, err)
		return
	}
	req := append([]string(nil), baseNames...)
	if c.def.KernelFile == "" && spec.Kernel != "" {
		req = append(req, spec.Kernel)
	}
	// A kernel RPM file is installed as it is: the sets resolve with it
	// installed, as a build resolves them.
	base, err := resolver.Solve(ctx, c.pkgs, resolver.Request{Install: req, Installed: c.withKernel()}, pol)
	if err != nil {
		c.set("base", 0, err)
		return
	}
	c.set("base", len(base.Packages), nil)
	for _, st := range []repos.Stage{repos.StageBootstrap, repos.StageAppliance} {
		names, err := c.def.PackageList(st)
		if err != nil {
			c.set(string(st), 0, err)
			continue
		}
		rq := resolver.Request{Installed: append(slices.Clone(base.Packages), c.withKernel()...)}
		if sc := spec.StagingCommand(st); sc != nil {
			if sc.Erases() {
				rq.Erase = sc.Packages
			} else {
				rq.Install = append(rq.Install, sc.Packages...)
			}
		}
		rq.Install = append(rq.Install, names...)
		if len(rq.Install)+len(rq.Erase) == 0 {
			if st == repos.StageBootstrap {
				c.set(string(st), len(rq.Installed), nil)
				c.kernelWarnings(ctx, rq.Installed)
			}
			continue
		}
		p, err := resolver.Solve(ctx, c.pkgs, rq, pol)
		if err != nil {
			c.set(string(st), 0, err)
			continue
		}
		c.set(string(st), len(rq.Installed)-len(p.Erase)+len(p.Packages), nil)
		if st == repos.StageBootstrap {
			var image []*rpmrepo.Package
			for _, q := range rq.Installed {
				if !slices.Contains(p.Erase, q) {
					image = append(image, q)
				}
			}
			c.kernelWarnings(ctx, append(image, p.Packages...))
		}
	}
}

func (c *checker) set(name string, n int, err error) {
	r := SetResult{Name: name, Resolves: err == nil, Packages: n}
	if err != nil {
		var un *resolver.Unsolvable
		if errors.As(err, &un) {
			r.Problem = strings.TrimRight(un.Explain(), "\n")
		} else {
			r.Problem = err.Error()
		}
		c.rep.problem("the %s set of %s does not resolve: %s", name, c.def.Name, r.Problem)
	}
	c.rep.Sets = append(c.rep.Sets, r)
}

// maxFullSolves bounds the full solves for packages the quick search
// leaves undecided; the rest are reported as undecided.
const maxFullSolves = 50

func holds(pl *resolver.Plan, p *rpmrepo.Package) bool {
	for _, q := range pl.Packages {
		if q == p {
			return true
		}
	}
	return false
}
