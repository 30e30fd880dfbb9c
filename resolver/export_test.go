package resolver

// Test helpers: the package's tests look into an Installability and a Plan
// with these; the product does not need them.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Check decides whether p (one of the packages the index was built from)
// can be installed on an empty root, with the reason when it cannot.
func (ix *Installability) Check(p *rpmrepo.Package) (verdict, problem string) {
	for i, q := range ix.pkgs {
		if q == p {
			return ix.CheckIndex(i)
		}
	}
	return Uninstallable, fmt.Sprintf("%s is not in the index", p.NEVRA())
}

// CheckIndex is Check for the i-th package as given.
func (ix *Installability) CheckIndex(i int) (verdict, problem string) {
	return ix.checkIndex(i, ix.maxSteps())
}

// Installation searches for an installation holding the i-th package and
// returns it (nil with the reason when there is none, or the search bound
// was exceeded): a set closed under requirements, without conflicts or
// obsoletes between its members, one version per name except installonly
// packages and multilib pairs. It is the evidence behind Installable.
func (ix *Installability) Installation(i int) ([]*rpmrepo.Package, string) {
	if !ix.allowed[i] {
		return nil, fmt.Sprintf("%s: arch %s is not installable here", ix.pkgs[i].NEVRA(), ix.pkgs[i].Arch)
	}
	if ix.broken[i] {
		return nil, ix.brokenWhy[i]
	}
	defer ix.reset()
	if ix.search(int32(i), ix.maxSteps()) != 1 {
		if ix.fail == "" {
			return nil, fmt.Sprintf("%s: search bound exceeded", ix.pkgs[i].NEVRA())
		}
		return nil, ix.fail
	}
	out := make([]*rpmrepo.Package, len(ix.trail))
	for k, q := range ix.trail {
		out[k] = ix.pkgs[q]
	}
	return out, ""
}

// Lock returns the lock of the plan's packages (installed and kept), by
// NEVRA.
func (p *Plan) Lock() *Lock {
	l := &Lock{Version: LockVersion}
	for _, list := range [][]*rpmrepo.Package{p.Packages, p.Kept} {
		for _, pkg := range list {
			l.Packages = append(l.Packages, LockedPackage{
				Name: pkg.Name, NEVRA: pkg.NEVRA(), Checksum: pkg.Checksum.String(),
				Repo: pkg.Repo, Location: pkg.Location,
			})
		}
	}
	l.sort()
	return l
}

// NEVRAs returns the NEVRAs of the packages to install, sorted.
func (p *Plan) NEVRAs() []string {
	out := make([]string, len(p.Packages))
	for i, pkg := range p.Packages {
		out[i] = pkg.NEVRA()
	}
	sort.Strings(out)
	return out
}

// String lists the plan, one NEVRA per line in install order.
func (p *Plan) String() string {
	var b strings.Builder
	for _, pkg := range p.Packages {
		b.WriteString(pkg.NEVRA())
		b.WriteByte('\n')
	}
	return b.String()
}
