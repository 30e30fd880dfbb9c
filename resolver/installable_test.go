package resolver_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// validInstallation checks an installation on its own terms, without the
// index: every requirement (rich ones evaluated) has a provider in the
// set, no member conflicts with or obsoletes another, one version per
// name (installonly names and multilib pairs aside).
func validInstallation(set []*rpmrepo.Package) error {
	provides := func(p *rpmrepo.Package, d rpmrepo.Dep) bool {
		if strings.HasPrefix(d.Name, "/") {
			for _, f := range p.Files {
				if f == d.Name {
					return true
				}
			}
		}
		self := rpmrepo.Dep{Name: p.Name, Flags: rpmrepo.FlagsEQ, EVR: p.EVR}
		if resolver.Satisfies(self, d) {
			return true
		}
		for _, pr := range p.Provides {
			if resolver.Satisfies(pr, d) {
				return true
			}
		}
		return false
	}
	has := func(d rpmrepo.Dep, except *rpmrepo.Package) bool {
		if strings.HasPrefix(d.Name, "rpmlib(") {
			return true
		}
		for _, q := range set {
			if q != except && provides(q, d) {
				return true
			}
		}
		return false
	}
	var eval func(r *resolver.Rich, except *rpmrepo.Package) bool
	eval = func(r *resolver.Rich, except *rpmrepo.Package) bool {
		switch r.Op {
		case resolver.RichDep:
			return has(r.Dep, except)
		case resolver.RichAnd, resolver.RichWith:
			return eval(r.Left, except) && eval(r.Right, except)
		case resolver.RichOr:
			return eval(r.Left, except) || eval(r.Right, except)
		case resolver.RichIf:
			if eval(r.Right, except) {
				return eval(r.Left, except)
			}
			return r.Else == nil || eval(r.Else, except)
		case resolver.RichUnless:
			if !eval(r.Right, except) {
				return eval(r.Left, except)
			}
			return r.Else != nil && eval(r.Else, except)
		case resolver.RichWithout:
			return eval(r.Left, except) && !eval(r.Right, except)
		}
		return false
	}
	names := map[string]*rpmrepo.Package{}
	for _, p := range set {
		if o := names[p.Name]; o != nil && !(o.EVR == p.EVR && o.Arch != p.Arch) && !strings.HasPrefix(p.Name, "kernel") {
			return fmt.Errorf("two versions of %s: %s and %s", p.Name, o, p)
		}
		names[p.Name] = p
		for _, d := range p.Requires {
			if resolver.IsRich(d.Name) {
				r, err := resolver.ParseRich(d.Name)
				if err != nil || !eval(r, nil) {
					return fmt.Errorf("%s requires %s: not met", p, d.Name)
				}
			} else if !has(d, nil) {
				return fmt.Errorf("%s requires %s: no provider in the set", p, d)
			}
		}
		for _, d := range p.Conflicts {
			if resolver.IsRich(d.Name) {
				if r, err := resolver.ParseRich(d.Name); err == nil && eval(r, p) {
					return fmt.Errorf("%s conflicts with %s", p, d.Name)
				}
			} else if has(d, p) {
				return fmt.Errorf("%s conflicts with %s", p, d)
			}
		}
		for _, d := range p.Obsoletes {
			for _, q := range set {
				if q != p && q.Name == d.Name && resolver.Overlap(d, rpmrepo.Dep{Name: q.Name, Flags: rpmrepo.FlagsEQ, EVR: q.EVR}) {
					return fmt.Errorf("%s obsoletes %s", p, q)
				}
			}
		}
	}
	return nil
}

// agreeWithSolve compares, for every package, Installability's verdict
// with whether the full solver (checked against dnf elsewhere) installs it
// alone, and checks every installation found.
func agreeWithSolve(t *testing.T, pkgs []*rpmrepo.Package) (installable, not int) {
	t.Helper()
	ix := resolver.NewInstallability(pkgs, resolver.Policy{})
	res, err := ix.CheckAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	index := map[*rpmrepo.Package]int{}
	for i, p := range pkgs {
		index[p] = i
	}
	for _, r := range res {
		_, serr := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: []string{r.Package.NEVRA()}}, resolver.Policy{NoWeakDeps: true})
		switch r.Verdict {
		case resolver.Installable:
			installable++
			if serr != nil {
				t.Errorf("%s: installable, but Solve: %v", r.Package, serr)
			}
			set, why := ix.Installation(index[r.Package])
			if set == nil {
				t.Errorf("%s: installable, but no installation: %s", r.Package, why)
			} else if err := validInstallation(set); err != nil {
				t.Errorf("%s: the installation found is not valid: %v", r.Package, err)
			}
		case resolver.Uninstallable:
			not++
			if serr == nil {
				t.Errorf("%s: uninstallable (%s), but Solve installs it", r.Package, r.Problem)
			}
			if r.Problem == "" {
				t.Errorf("%s: uninstallable without a reason", r.Package)
			}
		default:
			t.Errorf("%s: %s %s", r.Package, r.Verdict, r.Problem)
		}
	}
	return installable, not
}

// Real metadata: bazeldnf's Fedora and CentOS subsets, and PGDG's
// repository (537 packages, rich and file dependencies, epochs).
func TestInstallabilityRealMetadata(t *testing.T) {
	fx := testrepo.Fixtures(t)
	files, _ := filepath.Glob(filepath.Join(fx, "bazeldnf", "sat", "*.xml"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, not := agreeWithSolve(t, loadXML(t, f))
			t.Logf("%d installable, %d not", in, not)
		})
	}
	t.Run("pgdg", func(t *testing.T) {
		pkgs := loadRepo(t, filepath.Join(fx, "real", "pgdg-common-rhel8"), "pgdg")
		in, not := agreeWithSolve(t, pkgs)
		if in == 0 || not == 0 {
			t.Errorf("%d installable, %d not: want both kinds", in, not)
		}
	})
}

func ipkg(nevra string, deps ...string) *rpmrepo.Package {
	name, rest, _ := strings.Cut(nevra, " ")
	p := &rpmrepo.Package{Name: name, Arch: "x86_64", EVR: resolver.ParseEVR(rest), Repo: "t"}
	for _, d := range deps {
		kind, v, _ := strings.Cut(d, ":")
		var dep rpmrepo.Dep
		if f := strings.Fields(v); len(f) == 3 && !resolver.IsRich(v) {
			fl, _ := rpmrepo.ParseFlags(map[string]string{"=": "EQ", ">=": "GE", "<": "LT", ">": "GT", "<=": "LE"}[f[1]])
			dep = rpmrepo.Dep{Name: f[0], Flags: fl, EVR: resolver.ParseEVR(f[2])}
		} else {
			dep = rpmrepo.Dep{Name: v}
		}
		switch kind {
		case "R":
			p.Requires = append(p.Requires, dep)
		case "P":
			p.Provides = append(p.Provides, dep)
		case "C":
			p.Conflicts = append(p.Conflicts, dep)
		case "O":
			p.Obsoletes = append(p.Obsoletes, dep)
		case "F":
			p.Files = append(p.Files, dep.Name)
		}
	}
	return p
}

// Small cases whose answers follow from the rules by hand, each also
// checked against the full solver.
func TestInstallabilityCases(t *testing.T) {
	cases := []struct {
		name string
		pkgs []*rpmrepo.Package
		want map[string]bool // name -> installable
	}{
		{"missing provider and its requirers", []*rpmrepo.Package{
			ipkg("a 1-1", "R:b"), ipkg("b 1-1", "R:c"), ipkg("d 1-1", "R:/usr/bin/x"), ipkg("e 1-1", "F:/usr/bin/x"),
		}, map[string]bool{"a": false, "b": false, "d": true, "e": true}},
		{"a conflict forces the other provider", []*rpmrepo.Package{
			ipkg("a 1-1", "R:x", "R:y"), ipkg("x1 1-1", "P:x", "C:y"), ipkg("x2 1-1", "P:x"), ipkg("y 1-1"),
		}, map[string]bool{"a": true, "x1": true, "x2": true, "y": true}},
		{"every provider conflicts", []*rpmrepo.Package{
			ipkg("a 1-1", "R:x", "R:y"), ipkg("x1 1-1", "P:x", "C:y"), ipkg("y 1-1"),
		}, map[string]bool{"a": false, "x1": true, "y": true}},
		{"obsoletes and one version per name", []*rpmrepo.Package{
			ipkg("a 1-1", "R:b", "R:c"), ipkg("b 1-1", "O:c < 2"), ipkg("c 1-1"),
			ipkg("d 1-1", "R:lib = 1-1", "R:e"), ipkg("e 1-1", "R:lib = 2-1"), ipkg("lib 1-1"), ipkg("lib 2-1"),
		}, map[string]bool{"a": false, "b": true, "c": true, "d": false, "e": true}},
		{"rich dependencies", []*rpmrepo.Package{
			ipkg("a 1-1", "R:(x or y)"), ipkg("y 1-1"),
			ipkg("b 1-1", "R:(z if y)", "R:y"),
			ipkg("c 1-1", "R:(y and x)"),
			ipkg("d 1-1", "R:(y unless w)", "R:w"), ipkg("w 1-1"),
			ipkg("f 1-1", "R:(x or (y and w))"),
		}, map[string]bool{"a": true, "b": false, "c": false, "d": false, "f": true}},
		{"versions", []*rpmrepo.Package{
			ipkg("a 1-1", "R:b >= 2"), ipkg("b 1-1"), ipkg("b 3-1", "R:c"), ipkg("c 1-1", "C:b > 2"),
			ipkg("e 1-1", "R:b >= 1"),
		}, map[string]bool{"a": false, "e": true, "c": true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ix := resolver.NewInstallability(c.pkgs, resolver.Policy{})
			for _, p := range c.pkgs {
				want, ok := c.want[p.Name]
				if !ok {
					continue
				}
				v, why := ix.Check(p)
				if (v == resolver.Installable) != want {
					t.Errorf("%s: %s %s, want installable=%v", p, v, why, want)
				}
			}
			agreeWithSolve(t, c.pkgs)
		})
	}
}
