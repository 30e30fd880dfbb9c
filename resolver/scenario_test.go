package resolver_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// scenarioPackages exercise one rule each (names share a prefix per
// scenario). They are built with rpmbuild into createrepo_c repositories
// "base", "upd" and "prio" (priority 10), and every request below is
// answered by the real dnf as well as by Solve.
var scenarioPackages = []spkg{
	// a: version choice across repositories, versioned requires, sonames.
	{name: "a1", evr: "1.0-1", arch: "x86_64", req: []string{"a2 >= 1.0"}},
	{name: "a2", evr: "0.9-1", arch: "x86_64", req: []string{"liba3.so.1()(64bit)"}},
	{name: "a2", evr: "1.0-1", arch: "x86_64", req: []string{"liba3.so.1()(64bit)"}},
	{name: "a2", evr: "1.2-1", arch: "x86_64", repo: "upd", req: []string{"liba3.so.1()(64bit)"}},
	{name: "a3", evr: "3-1", arch: "x86_64", prov: []string{"liba3.so.1()(64bit)"}},
	// b: arch policy.
	{name: "b1", evr: "1-1", arch: "x86_64"},
	{name: "b1", evr: "1-1", arch: "i686"},
	{name: "b2", evr: "1-1", arch: "i686", prov: []string{"bcap"}},
	{name: "b3", evr: "1-1", arch: "x86_64", prov: []string{"bcap"}},
	{name: "b4", evr: "1-1", arch: "noarch", req: []string{"bcap"}},
	// c: epochs.
	{name: "c1", evr: "1:1.0-1", arch: "noarch"},
	{name: "c1", evr: "2.0-1", arch: "noarch", repo: "upd"},
	{name: "c2", evr: "1-1", arch: "noarch", req: []string{"c1 >= 1.5"}},
	// d: tilde and caret.
	{name: "d1", evr: "1.0~rc1-1", arch: "noarch"},
	{name: "d1", evr: "1.0-1", arch: "noarch"},
	{name: "d2", evr: "1.0^git1-1", arch: "noarch"},
	{name: "d2", evr: "1.0-1", arch: "noarch"},
	// e: a requirement without a release.
	{name: "e1", evr: "1-1", arch: "noarch", req: []string{"e2 = 1.0"}},
	{name: "e2", evr: "1.0-5", arch: "noarch"},
	{name: "e2", evr: "1.1-1", arch: "noarch"},
	// f: obsoletes.
	{name: "f-old", evr: "1-1", arch: "noarch"},
	{name: "f-new", evr: "2-1", arch: "noarch", obs: []string{"f-old < 2"}, prov: []string{"f-old = 2"}},
	{name: "f-user", evr: "1-1", arch: "noarch", req: []string{"f-old"}},
	{name: "f-keeper", evr: "1-1", arch: "noarch", req: []string{"f-old = 1"}},
	// h: versioned conflicts.
	{name: "h1", evr: "1-1", arch: "noarch", conf: []string{"h2 < 2"}},
	{name: "h2", evr: "1-1", arch: "noarch"},
	{name: "h2", evr: "2-1", arch: "noarch"},
	{name: "h3", evr: "1-1", arch: "noarch", req: []string{"h2 = 1"}},
	// i: alternatives by name, and a Recommends tipping the choice.
	{name: "i-zed", evr: "1-1", arch: "noarch", prov: []string{"icap"}},
	{name: "i-alpha", evr: "1-1", arch: "noarch", prov: []string{"icap"}},
	{name: "i1", evr: "1-1", arch: "noarch", req: []string{"icap"}},
	{name: "i2", evr: "1-1", arch: "noarch", req: []string{"icap"}, rec: []string{"i-zed"}},
	// j: rich dependencies.
	{name: "j1", evr: "1-1", arch: "noarch", req: []string{"(j2 or j3)"}},
	{name: "j2", evr: "1-1", arch: "noarch"},
	{name: "j3", evr: "1-1", arch: "noarch"},
	{name: "j4", evr: "1-1", arch: "noarch", req: []string{"(j5 if j6)"}},
	{name: "j5", evr: "1-1", arch: "noarch"},
	{name: "j6", evr: "1-1", arch: "noarch"},
	{name: "j9", evr: "1-1", arch: "noarch", conf: []string{"(j11 unless j10)"}},
	{name: "j10", evr: "1-1", arch: "noarch"},
	{name: "j11", evr: "1-1", arch: "noarch"},
	{name: "j12", evr: "1-1", arch: "noarch"},
	{name: "j13", evr: "1-1", arch: "noarch", req: []string{"(j2 and (j3 or j5))"}},
	{name: "j14", evr: "1-1", arch: "noarch", req: []string{"(j15 >= 2 with j15 < 3)"}},
	{name: "j15", evr: "1-1", arch: "noarch"},
	{name: "j15", evr: "2.5-1", arch: "noarch", repo: "upd"},
	{name: "j15", evr: "3-1", arch: "noarch", repo: "upd"},
	{name: "j16", evr: "1-1", arch: "noarch", req: []string{"(j17 without j17 > 1)"}},
	{name: "j17", evr: "1-1", arch: "noarch"},
	{name: "j17", evr: "2-1", arch: "noarch"},
	{name: "j18", evr: "1-1", arch: "noarch", req: []string{"(j5 if j6 else j12)"}},
	{name: "j19", evr: "1-1", arch: "noarch", conf: []string{"(j2 and j3)"}},
	// k: weak dependencies.
	{name: "k1", evr: "1-1", arch: "noarch", rec: []string{"k2"}},
	{name: "k2", evr: "1-1", arch: "noarch"},
	{name: "k3", evr: "1-1", arch: "noarch", supp: []string{"k1"}},
	{name: "k4", evr: "1-1", arch: "noarch", rec: []string{"k5"}},
	{name: "k5", evr: "1-1", arch: "noarch", conf: []string{"k6"}},
	{name: "k6", evr: "1-1", arch: "noarch"},
	{name: "k7", evr: "1-1", arch: "noarch", rec: []string{"k-missing"}},
	// l: file dependencies, in primary (/usr/bin) and only in filelists.
	{name: "l1", evr: "1-1", arch: "noarch", req: []string{"/usr/bin/lfoo"}},
	{name: "l2", evr: "1-1", arch: "noarch", files: []string{"/usr/bin/lfoo"}},
	{name: "l3", evr: "1-1", arch: "noarch", req: []string{"/usr/share/l4/data"}},
	{name: "l4", evr: "1-1", arch: "noarch", files: []string{"/usr/share/l4/data"}},
	// m: must fail.
	{name: "m1", evr: "1-1", arch: "noarch", req: []string{"m2"}},
	{name: "m2", evr: "1-1", arch: "noarch", req: []string{"libmissing.so.1()(64bit)"}},
	// n: repository priority beats version.
	{name: "n1", evr: "1.0-1", arch: "noarch", repo: "prio"},
	{name: "n1", evr: "2.0-1", arch: "noarch"},
	// p: backtracking to an older version.
	{name: "p1", evr: "1-1", arch: "noarch", req: []string{"p2", "p3"}},
	{name: "p2", evr: "1-1", arch: "noarch"},
	{name: "p2", evr: "2-1", arch: "noarch"},
	{name: "p3", evr: "1-1", arch: "noarch", req: []string{"p2 < 2"}},
	// q: a dependency cycle with a pre-requirement.
	{name: "q1", evr: "1-1", arch: "noarch", req: []string{"q2"}},
	{name: "q2", evr: "1-1", arch: "noarch", req: []string{"q3"}},
	{name: "q3", evr: "1-1", arch: "noarch", req: []string{"q1"}},
	// r: installonly kernels.
	{name: "kernel", evr: "1-1", arch: "x86_64"},
	{name: "kernel", evr: "2-1", arch: "x86_64", repo: "upd"},
	// s: conflicts through a provide, and a choice that must avoid it.
	{name: "s1", evr: "1-1", arch: "noarch", req: []string{"scap"}, conf: []string{"s-bad"}},
	{name: "s-alpha", evr: "1-1", arch: "noarch", prov: []string{"scap", "s-bad"}},
	{name: "s-beta", evr: "1-1", arch: "noarch", prov: []string{"scap"}},
	// t: installing an obsoleted name that nothing else replaces.
	{name: "t1", evr: "1-1", arch: "noarch", obs: []string{"t2"}},
	{name: "t2", evr: "1-1", arch: "noarch"},
	{name: "t3", evr: "1-1", arch: "noarch", req: []string{"t1", "t2"}},
	// u: a rich Supplements (the langpack pattern).
	{name: "u1", evr: "1-1", arch: "noarch", supp: []string{"(u2 and u3)"}},
	{name: "u2", evr: "1-1", arch: "noarch"},
	{name: "u3", evr: "1-1", arch: "noarch"},
	// v: a rich Recommends.
	{name: "v1", evr: "1-1", arch: "noarch", rec: []string{"(v3 or v2)"}},
	{name: "v2", evr: "1-1", arch: "noarch"},
	{name: "v3", evr: "1-1", arch: "noarch"},
	// w: Obsoletes match names, not provides.
	{name: "w1", evr: "1-1", arch: "noarch", obs: []string{"wcap"}},
	{name: "w2", evr: "1-1", arch: "noarch", prov: []string{"wcap"}},
	// x: epochs in requirements.
	{name: "x1", evr: "1-1", arch: "noarch", req: []string{"x2 >= 1:1.0"}},
	{name: "x2", evr: "1:0.5-1", arch: "noarch"},
	{name: "x2", evr: "2.0-1", arch: "noarch", repo: "upd"},
	{name: "x3", evr: "1-1", arch: "noarch", req: []string{"x2 < 1:0"}},
	// y: a versioned requirement on a versioned provide of another name.
	{name: "y1", evr: "1-1", arch: "noarch", req: []string{"ycap >= 2"}},
	{name: "y-old", evr: "5-1", arch: "noarch", prov: []string{"ycap = 1"}},
	{name: "y-new", evr: "1-1", arch: "noarch", prov: []string{"ycap = 2.1"}},
}

// scenarioRequests: each is one "dnf install" command line.
var scenarioRequests = [][]string{
	{"a1"}, {"a2"}, {"a2-1.0"}, {"a2-0.9-1.x86_64"}, {"a1", "a2-1.0-1"}, {"liba3.so.1()(64bit)"},
	{"b1"}, {"b1.x86_64"}, {"b4"}, {"bcap"},
	{"c1"}, {"c2"},
	{"d1"}, {"d2"},
	{"e1"}, {"e1", "e2"},
	{"f-old"}, {"f-new"}, {"f-user"}, {"f-keeper"}, {"f-keeper", "f-new"},
	{"h1"}, {"h1", "h2"}, {"h1", "h3"}, {"h3"},
	{"i1"}, {"i2"}, {"icap"},
	{"j1"}, {"j4"}, {"j4", "j6"}, {"j9"}, {"j9", "j11"}, {"j9", "j11", "j10"}, {"j13"}, {"j14"}, {"j16"}, {"j18"}, {"j18", "j6"},
	{"j19", "j2"}, {"j19", "j1"}, {"j19", "j2", "j3"},
	{"k1"}, {"k4"}, {"k4", "k6"}, {"k7"},
	{"l1"}, {"l3"}, {"/usr/bin/lfoo"},
	{"m1"}, {"m2"}, {"no-such-package"}, {"m1", "a1"},
	{"n1"},
	{"p1"}, {"p1", "p2"},
	{"q1"}, {"q3"},
	{"kernel"},
	{"s1"},
	{"t1"}, {"t2"}, {"t3"},
	{"u2"}, {"u2", "u3"},
	{"v1"}, {"v1", "v3"},
	{"w1", "w2"}, {"w1"},
	{"x1"}, {"x3"}, {"x2"},
	{"y1"}, {"ycap"},
	{"kernel-1-1", "kernel-2-1"}, {"a2 >= 1.0"}, {"a2 < 1.0"},
}

// TestScenariosAgainstDNF builds the scenario repositories with rpmbuild
// and createrepo_c and checks Solve's answer against real dnf's for every
// request: the same NEVRA set, or both failing.
func TestScenariosAgainstDNF(t *testing.T) {
	dirs := buildRepos(t, scenarioPackages)
	repos := []repoDir{{id: "base", dir: dirs["base"]}, {id: "upd", dir: dirs["upd"]}, {id: "prio", dir: dirs["prio"], prio: 10}}
	oracle := newDNFOracle(t, repos)
	var pkgs []*rpmrepo.Package
	for _, r := range repos {
		pkgs = append(pkgs, loadRepo(t, r.dir, r.id)...)
	}
	pol := resolver.Policy{Priorities: map[string]int{"prio": 10}, LoadFiles: filelistsLoader(t, dirs, pkgs)}
	oracle.prefetch(scenarioRequests)
	for _, rq := range scenarioRequests {
		name := strings.Join(rq, "+")
		t.Run(name, func(t *testing.T) {
			want := oracle.install(t, rq)
			plan, err := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: rq}, pol)
			compareWithDNF(t, rq, want, plan, err)
		})
	}
}

func compareWithDNF(t *testing.T, rq []string, want dnfAnswer, plan *resolver.Plan, err error) {
	t.Helper()
	if !want.ok {
		if err == nil {
			t.Errorf("install %v: dnf finds no solution, we chose %v\ndnf said:\n%s", rq, plan.NEVRAs(), want.out)
			return
		}
		var u *resolver.Unsolvable
		if !errors.As(err, &u) {
			t.Errorf("install %v: error is not *Unsolvable: %v", rq, err)
		}
		return
	}
	if err != nil {
		var u *resolver.Unsolvable
		if errors.As(err, &u) {
			t.Errorf("install %v: %v\n%s\ndnf chose %v", rq, err, u.Explain(), want.nevras)
		} else {
			t.Errorf("install %v: %v; dnf chose %v", rq, err, want.nevras)
		}
		return
	}
	got := plan.NEVRAs()
	if len(got) == 0 {
		got = []string{}
	}
	if !reflect.DeepEqual(got, want.nevras) {
		t.Errorf("install %v:\n got %v\nwant %v (dnf)", rq, got, want.nevras)
	}
	// The plan order puts what a package requires first, and the set is
	// closed under rpm's rules.
	checkOrder(t, plan)
	checkClosed(t, plan)
}

// checkOrder verifies that, outside cycles, each package comes after the
// providers of its requirements that are in the plan.
func checkOrder(t *testing.T, plan *resolver.Plan) {
	t.Helper()
	pos := map[*rpmrepo.Package]int{}
	for i, p := range plan.Packages {
		pos[p] = i
	}
	for i, p := range plan.Packages {
		for _, d := range p.Requires {
			if resolver.IsRich(d.Name) || strings.HasPrefix(d.Name, "rpmlib(") {
				continue
			}
			for j, q := range plan.Packages {
				if q == p || !provides(q, d) {
					continue
				}
				if j > i && !reaches(plan, q, p) {
					t.Errorf("order: %s (position %d) requires %s from %s at position %d", p, i, d, q, j)
				}
				_ = pos
			}
		}
	}
}

func provides(q *rpmrepo.Package, d rpmrepo.Dep) bool {
	self := rpmrepo.Dep{Name: q.Name, Flags: rpmrepo.FlagsEQ, EVR: q.EVR}
	if resolver.Satisfies(self, d) {
		return true
	}
	for _, p := range q.Provides {
		if resolver.Satisfies(p, d) {
			return true
		}
	}
	for _, f := range q.Files {
		if f == d.Name {
			return true
		}
	}
	return false
}

// reaches reports whether from (transitively) requires to within the plan,
// i.e. whether the two are in one cycle when to also requires from.
func reaches(plan *resolver.Plan, from, to *rpmrepo.Package) bool {
	seen := map[*rpmrepo.Package]bool{}
	stack := []*rpmrepo.Package{from}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p == to {
			return true
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		for _, d := range p.Requires {
			for _, q := range plan.Packages {
				if q != p && provides(q, d) {
					stack = append(stack, q)
				}
			}
		}
	}
	return false
}

// TestNoWeakDepsAgainstDNF: with weak dependencies off, the answer is
// dnf's with install_weak_deps=False.
func TestNoWeakDepsAgainstDNF(t *testing.T) {
	dirs := buildRepos(t, scenarioPackages)
	repos := []repoDir{{id: "base", dir: dirs["base"]}, {id: "upd", dir: dirs["upd"]}, {id: "prio", dir: dirs["prio"], prio: 10}}
	oracle := newDNFOracle(t, repos, "--setopt=install_weak_deps=False")
	var pkgs []*rpmrepo.Package
	for _, r := range repos {
		pkgs = append(pkgs, loadRepo(t, r.dir, r.id)...)
	}
	pol := resolver.Policy{NoWeakDeps: true, Priorities: map[string]int{"prio": 10}}
	reqs := [][]string{{"k1"}, {"k4"}, {"k7"}, {"i2"}, {"u2", "u3"}, {"v1"}, {"a1"}}
	oracle.prefetch(reqs)
	for _, rq := range reqs {
		t.Run(strings.Join(rq, "+"), func(t *testing.T) {
			want := oracle.install(t, rq)
			plan, err := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: rq}, pol)
			compareWithDNF(t, rq, want, plan, err)
		})
	}
}

// TestMultilibAgainstDNF: with i686 asked for (Policy.Arches), the answer
// is dnf's on x86_64, where i686 is allowed by default; the default
// policy refuses i686 where dnf would take it (a deliberate difference:
// VIC's images are 64-bit only).
func TestMultilibAgainstDNF(t *testing.T) {
	dirs := buildRepos(t, scenarioPackages)
	repos := []repoDir{{id: "base", dir: dirs["base"]}, {id: "upd", dir: dirs["upd"]}, {id: "prio", dir: dirs["prio"], prio: 10}}
	oracle := newDNFOracle(t, repos)
	var pkgs []*rpmrepo.Package
	for _, r := range repos {
		pkgs = append(pkgs, loadRepo(t, r.dir, r.id)...)
	}
	multilib := resolver.Policy{Arches: []string{"x86_64", "i686"}, Priorities: map[string]int{"prio": 10}}
	reqs := [][]string{{"b1.i686"}, {"b1"}, {"b2"}, {"bcap"}, {"b4"}, {"b1.i686", "b1.x86_64"}}
	oracle.prefetch(reqs)
	for _, rq := range reqs {
		t.Run(strings.Join(rq, "+"), func(t *testing.T) {
			want := oracle.install(t, rq)
			plan, err := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: rq}, multilib)
			compareWithDNF(t, rq, want, plan, err)
		})
	}
	// The default policy: b2 exists only as i686.
	if _, err := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: []string{"b2"}}, resolver.Policy{}); err == nil {
		t.Error("default policy installed an i686 package")
	}
}
