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

// pkg builds an in-memory package: "name-version-release.arch" and
// dependency lists written as "req:dep", "prov:dep", "conf:dep",
// "obs:dep", "rec:dep", "pre:dep", "file:/path".
func pkg(nevra string, deps ...string) *rpmrepo.Package {
	i := strings.LastIndexByte(nevra, '.')
	arch := nevra[i+1:]
	nvr := nevra[:i]
	j := strings.LastIndexByte(nvr, '-')
	k := strings.LastIndexByte(nvr[:j], '-')
	p := &rpmrepo.Package{Name: nvr[:k], Arch: arch, EVR: rpmrepo.EVR{Version: nvr[k+1 : j], Release: nvr[j+1:]}, Repo: "r",
		Checksum: rpmrepo.Checksum{Type: "sha256", Value: strings.Repeat("0", 60) + "abcd"}, Location: nevra + ".rpm"}
	for _, d := range deps {
		kind, spec, _ := strings.Cut(d, ":")
		dd := dep(spec)
		switch kind {
		case "req":
			p.Requires = append(p.Requires, dd)
		case "pre":
			dd.Pre = true
			p.Requires = append(p.Requires, dd)
		case "prov":
			p.Provides = append(p.Provides, dd)
		case "conf":
			p.Conflicts = append(p.Conflicts, dd)
		case "obs":
			p.Obsoletes = append(p.Obsoletes, dd)
		case "rec":
			p.Recommends = append(p.Recommends, dd)
		case "file":
			p.Files = append(p.Files, spec)
		default:
			panic("bad dep kind " + kind)
		}
	}
	return p
}

func solve(t *testing.T, pkgs []*rpmrepo.Package, rq resolver.Request, pol resolver.Policy) (*resolver.Plan, error) {
	t.Helper()
	return resolver.Solve(context.Background(), pkgs, rq, pol)
}

func TestExplainNothingProvides(t *testing.T) {
	pkgs := []*rpmrepo.Package{
		pkg("iptables-1.8-1.x86_64", "req:bar"),
		pkg("bar-1.2-3.x86_64", "req:libfoo.so.1()(64bit)"),
	}
	_, err := solve(t, pkgs, resolver.Request{Install: []string{"iptables"}}, resolver.Policy{})
	var u *resolver.Unsolvable
	if !errors.As(err, &u) || !errors.Is(err, resolver.ErrUnsolvable) {
		t.Fatalf("want *Unsolvable, got %v", err)
	}
	want := "nothing provides libfoo.so.1()(64bit) needed by bar-1.2-3.x86_64 needed by iptables-1.8-1.x86_64 (requested)"
	if !strings.Contains(u.Explain(), want) || !strings.Contains(err.Error(), want) {
		t.Errorf("explanation lacks %q:\n%s", want, u.Explain())
	}
}

func TestExplainConflicts(t *testing.T) {
	pkgs := []*rpmrepo.Package{
		pkg("app-1-1.x86_64", "req:libx"),
		pkg("libx-2-1.x86_64"),
		pkg("tool-1-1.x86_64", "conf:libx >= 2"),
		pkg("other-1-1.x86_64", "req:tool"),
	}
	_, err := solve(t, pkgs, resolver.Request{Install: []string{"app", "other"}}, resolver.Policy{})
	var u *resolver.Unsolvable
	if !errors.As(err, &u) {
		t.Fatalf("want *Unsolvable, got %v", err)
	}
	ex := u.Explain()
	for _, want := range []string{
		"tool-1-1.x86_64 conflicts with libx >= 2 provided by libx-2-1.x86_64",
		"libx-2-1.x86_64 is needed by app-1-1.x86_64 (requested)",
		"tool-1-1.x86_64 is needed by other-1-1.x86_64 (requested)",
	} {
		if !strings.Contains(ex, want) {
			t.Errorf("explanation lacks %q:\n%s", want, ex)
		}
	}
	if u.Problems[0].Kind != resolver.ProblemConflict {
		t.Errorf("kind %v, want ProblemConflict", u.Problems[0].Kind)
	}
}

func TestWhy(t *testing.T) {
	pkgs := []*rpmrepo.Package{
		pkg("iptables-1.8-1.x86_64", "req:bar >= 1"),
		pkg("bar-1.2-3.x86_64", "req:libfoo.so.1()(64bit)"),
		pkg("libfoo-1-1.x86_64", "prov:libfoo.so.1()(64bit)"),
	}
	plan, err := solve(t, pkgs, resolver.Request{Install: []string{"iptables"}}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"libfoo-1-1.x86_64 is needed by bar-1.2-3.x86_64 (requires libfoo.so.1()(64bit))",
		"bar-1.2-3.x86_64 is needed by iptables-1.8-1.x86_64 (requires bar >= 1)",
		"iptables-1.8-1.x86_64 was requested (iptables)",
	}
	if got := plan.Why("libfoo"); !reflect.DeepEqual(got, want) {
		t.Errorf("Why(libfoo) =\n%q\nwant\n%q", got, want)
	}
	if got := plan.Why("nothing"); got != nil {
		t.Errorf("Why(nothing) = %q", got)
	}
	if got, want := plan.String(), "libfoo-1-1.x86_64\nbar-1.2-3.x86_64\niptables-1.8-1.x86_64\n"; got != want {
		t.Errorf("order:\n%s\nwant\n%s", got, want)
	}
}

// TestOrderCycle: inside a dependency cycle, a Requires(pre) edge decides.
func TestOrderCycle(t *testing.T) {
	pkgs := []*rpmrepo.Package{
		pkg("aa-1-1.noarch", "req:zz"),
		pkg("zz-1-1.noarch", "pre:aa"),
		pkg("mm-1-1.noarch", "req:aa"),
	}
	plan, err := solve(t, pkgs, resolver.Request{Install: []string{"mm"}}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	// aa and zz form a cycle; zz pre-requires aa, so aa goes first.
	if got, want := plan.String(), "aa-1-1.noarch\nzz-1-1.noarch\nmm-1-1.noarch\n"; got != want {
		t.Errorf("order:\n%s\nwant\n%s", got, want)
	}
	// The same input gives the same order every time.
	for i := 0; i < 5; i++ {
		p2, _ := solve(t, pkgs, resolver.Request{Install: []string{"mm"}}, resolver.Policy{})
		if p2.String() != plan.String() {
			t.Fatalf("order changed between runs:\n%s\n%s", plan, p2)
		}
	}
}

func TestArchPolicy(t *testing.T) {
	pkgs := []*rpmrepo.Package{
		pkg("lib32-1-1.i686"),
		pkg("app-1-1.x86_64", "req:lib32"),
	}
	if _, err := solve(t, pkgs, resolver.Request{Install: []string{"app"}}, resolver.Policy{}); err == nil {
		t.Error("i686 package chosen without being asked for")
	}
	plan, err := solve(t, pkgs, resolver.Request{Install: []string{"app"}}, resolver.Policy{Arches: []string{"x86_64", "i686"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.NEVRAs(); !reflect.DeepEqual(got, []string{"app-1-1.x86_64", "lib32-1-1.i686"}) {
		t.Errorf("got %v", got)
	}
}

// TestInstallOnly: a kernel is added beside the installed one (Photon's
// linux-esx included); any other name allows one version.
func TestInstallOnly(t *testing.T) {
	old := []*rpmrepo.Package{pkg("linux-esx-4.9-1.x86_64"), pkg("tool-1-1.x86_64")}
	avail := []*rpmrepo.Package{pkg("linux-esx-4.19-1.x86_64"), pkg("tool-2-1.x86_64")}
	plan, err := solve(t, avail, resolver.Request{Install: []string{"linux-esx-4.19-1"}, Installed: old}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.NEVRAs(); !reflect.DeepEqual(got, []string{"linux-esx-4.19-1.x86_64"}) {
		t.Errorf("got %v", got)
	}
	if len(plan.Kept) != 2 {
		t.Errorf("kept %v, want both installed packages", plan.Kept)
	}
	_, err = solve(t, avail, resolver.Request{Install: []string{"tool-2-1"}, Installed: old}, resolver.Policy{})
	var u *resolver.Unsolvable
	if !errors.As(err, &u) || u.Problems[0].Kind != resolver.ProblemSameName {
		t.Errorf("installing a second version of tool: got %v, want a ProblemSameName", err)
	}
}

// TestErase follows tdnf erase: the named package goes, and so does
// every installed package left without a provider for one of its
// requirements; nothing else (no clean-up of unused dependencies).
func TestErase(t *testing.T) {
	staged := []*rpmrepo.Package{
		pkg("toybox-1-1.x86_64", "prov:/bin/sh", "file:/usr/bin/toybox"),
		pkg("bash-5-1.x86_64", "prov:/bin/sh"),
		pkg("script-1-1.noarch", "req:/bin/sh"),
		pkg("toyuser-1-1.noarch", "req:toybox"),
		pkg("toyuser2-1-1.noarch", "req:toyuser"),
		pkg("libunused-1-1.x86_64"),
	}
	plan, err := solve(t, nil, resolver.Request{Erase: []string{"toybox"}, Installed: staged}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	var gone, kept []string
	for _, p := range plan.Erase {
		gone = append(gone, p.Name)
	}
	for _, p := range plan.Kept {
		kept = append(kept, p.Name)
	}
	if want := []string{"toybox", "toyuser", "toyuser2"}; !reflect.DeepEqual(gone, want) {
		t.Errorf("erased %v, want %v", gone, want)
	}
	if want := []string{"bash", "libunused", "script"}; !reflect.DeepEqual(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if _, err := solve(t, nil, resolver.Request{Erase: []string{"nothere"}, Installed: staged}, resolver.Policy{}); err == nil {
		t.Error("erasing a package that is not installed succeeded")
	}
}

// TestLoadFilesLazily: the full file lists are loaded only when a file
// dependency is not met by primary's files, and only once.
func TestLoadFilesLazily(t *testing.T) {
	data := pkg("data-1-1.noarch", "file:/usr/bin/data")
	pkgs := []*rpmrepo.Package{
		pkg("a-1-1.noarch", "req:/usr/bin/data"),
		pkg("b-1-1.noarch", "req:/usr/share/data/x", "req:/usr/share/data/y"),
		data,
	}
	calls := 0
	pol := resolver.Policy{LoadFiles: func(ctx context.Context) error {
		calls++
		data.Files = append(data.Files, "/usr/share/data/x", "/usr/share/data/y")
		data.FilesComplete = true
		return nil
	}}
	if _, err := solve(t, pkgs, resolver.Request{Install: []string{"a"}}, pol); err != nil || calls != 0 {
		t.Fatalf("a: err %v, LoadFiles called %d times, want 0", err, calls)
	}
	plan, err := solve(t, pkgs, resolver.Request{Install: []string{"b"}}, pol)
	if err != nil || calls != 1 {
		t.Fatalf("b: err %v, LoadFiles called %d times, want 1", err, calls)
	}
	if got := plan.NEVRAs(); !reflect.DeepEqual(got, []string{"b-1-1.noarch", "data-1-1.noarch"}) {
		t.Errorf("got %v", got)
	}
	failing := resolver.Policy{LoadFiles: func(ctx context.Context) error { return errors.New("filelists.xml.gz: network down") }}
	_, err = solve(t, []*rpmrepo.Package{pkg("c-1-1.noarch", "req:/nowhere")}, resolver.Request{Install: []string{"c"}}, failing)
	if err == nil || !strings.Contains(err.Error()+errExplain(err), "network down") {
		t.Errorf("a failing LoadFiles is not reported: %v", err)
	}
}

func errExplain(err error) string {
	var u *resolver.Unsolvable
	if errors.As(err, &u) {
		return u.Explain()
	}
	return ""
}

// TestLock: a plan's lock, given back, reproduces the plan even after the
// repository gained newer versions; a locked package that is gone or was
// rebuilt is an error naming it.
func TestLock(t *testing.T) {
	v1 := []*rpmrepo.Package{
		pkg("app-1-1.x86_64", "req:lib"),
		pkg("lib-1-1.x86_64"),
	}
	plan, err := solve(t, v1, resolver.Request{Install: []string{"app"}}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := plan.Lock().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	lock, err := resolver.ParseLock(data, "test.lock")
	if err != nil {
		t.Fatal(err)
	}
	v2 := append(v1, pkg("app-2-1.x86_64", "req:lib >= 2"), pkg("lib-2-1.x86_64"))
	fresh, err := solve(t, v2, resolver.Request{Install: []string{"app"}}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(fresh.NEVRAs(), plan.NEVRAs()) {
		t.Fatal("test is void: the newer repository gives the same plan without a lock")
	}
	again, err := solve(t, v2, resolver.Request{Install: []string{"app"}, Lock: lock}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.NEVRAs(), plan.NEVRAs()) {
		t.Errorf("locked plan %v, want %v", again.NEVRAs(), plan.NEVRAs())
	}
	// Gone.
	_, err = solve(t, v2[1:], resolver.Request{Install: []string{"app"}, Lock: lock}, resolver.Policy{})
	var le *resolver.LockError
	if !errors.As(err, &le) || !errors.Is(err, resolver.ErrLockedGone) || !strings.Contains(err.Error(), "app-1-1.x86_64") {
		t.Errorf("locked package gone: got %v", err)
	}
	// Rebuilt with another checksum.
	rebuilt := pkg("lib-1-1.x86_64")
	rebuilt.Checksum.Value = strings.Repeat("f", 64)
	_, err = solve(t, []*rpmrepo.Package{v1[0], rebuilt}, resolver.Request{Install: []string{"app"}, Lock: lock}, resolver.Policy{})
	if !errors.As(err, &le) || len(le.Changed) != 1 || !strings.Contains(err.Error(), "lib-1-1.x86_64 changed") {
		t.Errorf("rebuilt locked package: got %v", err)
	}
}

func TestParseLockErrors(t *testing.T) {
	for _, in := range []string{
		``, `{`, `[]`, `{"version":2,"packages":[]}`,
		`{"version":1,"packages":[{"name":"","nevra":"x-1-1.noarch"}]}`,
		`{"version":1,"packages":[{"name":"y","nevra":"x-1-1.noarch"}]}`,
		`{"version":1,"packages":[{"name":"x","nevra":"x-1-1.noarch","checksum":"abc"}]}`,
		`{"version":1,"packages":[{"name":"x","nevra":"x-1-1.noarch"},{"name":"x","nevra":"x-1-1.noarch"}]}`,
		`{"version":1,"packages":[],"extra":1}`,
	} {
		if _, err := resolver.ParseLock([]byte(in), "bad.lock"); !errors.Is(err, resolver.ErrLockSyntax) || !strings.Contains(err.Error(), "bad.lock") {
			t.Errorf("ParseLock(%s): %v", in, err)
		}
	}
}

func FuzzParseLock(f *testing.F) {
	f.Add([]byte(`{"version":1,"packages":[{"name":"x","nevra":"x-1-1.noarch","checksum":"sha256:00","repo":"photon"}]}`))
	f.Add([]byte(`{"version":1,"packages":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := resolver.ParseLock(data, "fuzz.lock")
		if err != nil {
			return
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		l2, err := resolver.ParseLock(out, "again")
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
		}
		out2, _ := l2.Marshal()
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// TestObsoletesInstalled names a deliberate difference from dnf: dnf
// replaces an installed package that a newly installed one obsoletes
// ("install toybox" on a root with busybox removes busybox). The staged
// set is kept as it is here, because the rootfs stage would otherwise
// have to undo files of a package it already unpacked; VIC's recipe
// erases explicitly (tdnf erase toybox) before installing. The request
// fails with an explanation that says so.
func TestObsoletesInstalled(t *testing.T) {
	staged := []*rpmrepo.Package{pkg("busybox-1.0-1.noarch")}
	avail := []*rpmrepo.Package{pkg("toybox-1.35-1.x86_64", "obs:busybox < 2.0")}
	_, err := solve(t, avail, resolver.Request{Install: []string{"toybox"}, Installed: staged}, resolver.Policy{})
	var u *resolver.Unsolvable
	if !errors.As(err, &u) || u.Problems[0].Kind != resolver.ProblemObsoletes || !strings.Contains(err.Error(), "erase busybox first") {
		t.Fatalf("got %v", err)
	}
	plan, err := solve(t, avail, resolver.Request{Erase: []string{"busybox"}, Install: []string{"toybox"}, Installed: staged}, resolver.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.NEVRAs(); !reflect.DeepEqual(got, []string{"toybox-1.35-1.x86_64"}) || len(plan.Erase) != 1 {
		t.Errorf("erase then install: %v, erased %v", got, plan.Erase)
	}
}
