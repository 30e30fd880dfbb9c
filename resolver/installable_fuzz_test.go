package resolver_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// fuzzPackages reads a tiny repository from bytes: packages separated by
// ';', each a name letter and a version digit, then operations each
// followed by a name letter (and an optional version digit, which makes
// the dependency "= 1:D-1"): '>' Requires, '|' turns the last Requires
// into "(last or this)", '^' into "(last if this)", '!' Conflicts, '~'
// Obsoletes, '+' Provides, '/' a file it owns and '<' a file it requires.
func fuzzPackages(data []byte) []*rpmrepo.Package {
	var pkgs []*rpmrepo.Package
	for _, spec := range strings.Split(string(data), ";") {
		if len(spec) < 2 || len(pkgs) == 12 {
			continue
		}
		p := &rpmrepo.Package{Name: "p" + spec[:1], Arch: "x86_64", EVR: rpmrepo.EVR{Epoch: "1", Version: spec[1:2], Release: "1"}, Repo: "f"}
		for i := 2; i+1 < len(spec) && i < 40; i += 2 {
			d := rpmrepo.Dep{Name: "p" + spec[i+1:i+2]}
			if i+2 < len(spec) && spec[i+2] >= '0' && spec[i+2] <= '9' {
				d.Flags, d.EVR = rpmrepo.FlagsEQ, rpmrepo.EVR{Epoch: "1", Version: spec[i+2 : i+3], Release: "1"}
				i++
			}
			switch spec[i] {
			case '>':
				p.Requires = append(p.Requires, d)
			case '|', '^':
				if n := len(p.Requires); n > 0 {
					op := map[byte]string{'|': " or ", '^': " if "}[spec[i]]
					p.Requires[n-1] = rpmrepo.Dep{Name: "(" + p.Requires[n-1].String() + op + d.String() + ")"}
				}
			case '!':
				p.Conflicts = append(p.Conflicts, d)
			case '~':
				p.Obsoletes = append(p.Obsoletes, d)
			case '+':
				p.Provides = append(p.Provides, d)
			case '/':
				p.Files = append(p.Files, "/"+d.Name)
			case '<':
				p.Requires = append(p.Requires, rpmrepo.Dep{Name: "/" + d.Name})
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// Installability never panics, every installation it finds is valid, and
// it agrees with the full solver wherever that one decides.
func FuzzInstallability(f *testing.F) {
	for _, s := range []string{"a1>b;b1!c;c1", "a1>b|c;b1>d;c1;d1!a", "a1>b2;b1;b2>c;c1~b", "a1<x;b1/x>a", "a1>b^c;b1;c1>a;d1>c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs := fuzzPackages(data)
		ix := resolver.NewInstallability(pkgs, resolver.Policy{})
		res, err := ix.CheckAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		index := map[*rpmrepo.Package]int{}
		nevras := map[string]int{}
		for i, p := range pkgs {
			index[p] = i
			nevras[p.NEVRA()]++
		}
		for _, r := range res {
			if nevras[r.Package.NEVRA()] > 1 {
				// A request by NEVRA cannot name one of two identical ones.
				continue
			}
			plan, serr := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: []string{r.Package.NEVRA()}}, resolver.Policy{NoWeakDeps: true})
			var un *resolver.Unsolvable
			switch r.Verdict {
			case resolver.Installable:
				set, why := ix.Installation(index[r.Package])
				if set == nil {
					t.Fatalf("%s: installable, no installation: %s", r.Package, why)
				}
				if err := validInstallation(set); err != nil {
					t.Fatalf("%s: %v", r.Package, err)
				}
				if errors.As(serr, &un) {
					t.Fatalf("%s: installable (%v), Solve: %v", r.Package, set, serr)
				}
			case resolver.Uninstallable:
				// A request may be met by a package obsoleting the one
				// named (dnf's install does that): only a plan holding the
				// package itself contradicts the verdict.
				if serr == nil && holds(plan, r.Package) {
					t.Fatalf("%s: uninstallable (%s), Solve installs it", r.Package, r.Problem)
				}
			}
		}
	})
}

func holds(plan *resolver.Plan, p *rpmrepo.Package) bool {
	for _, q := range plan.Packages {
		if q == p {
			return true
		}
	}
	return false
}
