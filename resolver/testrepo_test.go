package resolver_test

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// testRepo loads the real signed test repository (photon and
// photon-updates) and a dnf oracle over it with gpgcheck on.
func testRepo(t *testing.T) ([]*rpmrepo.Package, *dnfOracle, resolver.Policy) {
	t.Helper()
	dir := testrepo.Dir(t)
	key := filepath.Join(dir, "RPM-GPG-KEY-vicroot-test")
	repos := []repoDir{
		{id: "photon", dir: filepath.Join(dir, "photon"), gpgkey: key},
		{id: "photon-updates", dir: filepath.Join(dir, "photon-updates"), gpgkey: key},
	}
	oracle := newDNFOracle(t, repos)
	var pkgs []*rpmrepo.Package
	dirs := map[string]string{}
	for _, r := range repos {
		pkgs = append(pkgs, loadRepo(t, r.dir, r.id)...)
		dirs[r.id] = r.dir
	}
	return pkgs, oracle, resolver.Policy{LoadFiles: filelistsLoader(t, dirs, pkgs)}
}

// testRepoRequests draws request sets from the repository: every name on
// its own, neighbouring pairs and triples, VIC's own lists, provides,
// files (some only in filelists.xml), NEVRA spellings, and requests that
// must fail.
func testRepoRequests(pkgs []*rpmrepo.Package) [][]string {
	seen := map[string]bool{}
	var names []string
	for _, p := range pkgs {
		if !seen[p.Name] {
			seen[p.Name] = true
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	var out [][]string
	for _, n := range names {
		out = append(out, []string{n})
	}
	for i := 0; i+1 < len(names); i += 2 {
		out = append(out, []string{names[i], names[i+1]})
	}
	for i := 0; i+2 < len(names); i += 5 {
		out = append(out, []string{names[i], names[i+1], names[i+2]})
	}
	out = append(out,
		// VIC's bootstrap and appliance package lists (as far as the test
		// repository has them).
		[]string{"filesystem", "toybox", "kmod", "haveged", "iptables"},
		[]string{"filesystem", "bash", "shadow", "systemd-udev", "iproute2", "iptables", "linux-esx", "syslinux"},
		[]string{"toybox", "busybox"},
		[]string{"busybox", "toybox", "bash"},
		// Provides, sonames and files.
		[]string{"libc.so.6()(64bit)"},
		[]string{"glibc(x86-64)", "kmod(x86-64)"},
		[]string{"libc.so.6(GLIBC_2.17)(64bit)"},
		[]string{"/bin/sh"},
		[]string{"/usr/bin/getent"},
		[]string{"/usr/share/syslinux/isolinux.bin"},
		// NEVRA spellings.
		[]string{"bash.x86_64"},
		[]string{"haveged-1.9.14-1.ph2"},
		[]string{"photon-repos-2.0-1.ph2.noarch"},
		// Must fail.
		[]string{"no-such-package"},
		[]string{"bash", "no-such-package"},
		[]string{"bash.i686"},
	)
	return out
}

// TestTestRepoAgainstDNF: on the real test repository, every request's
// NEVRA set equals what real dnf would install (dnf --installroot
// --assumeno install, gpgcheck on, cached per request).
func TestTestRepoAgainstDNF(t *testing.T) {
	pkgs, oracle, pol := testRepo(t)
	reqs := testRepoRequests(pkgs)
	if len(reqs) < 50 {
		t.Fatalf("only %d request sets drawn from the test repository, want at least 50", len(reqs))
	}
	oracle.prefetch(reqs)
	failing := 0
	for _, rq := range reqs {
		t.Run(strings.Join(rq, "+"), func(t *testing.T) {
			want := oracle.install(t, rq)
			if !want.ok {
				failing++
			}
			plan, err := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: rq}, pol)
			compareWithDNF(t, rq, want, plan, err)
			if err != nil {
				return
			}
			// The plan's lock, written and read back, reproduces the plan
			// exactly, order included.
			data, err := plan.Lock().Marshal()
			if err != nil {
				t.Fatal(err)
			}
			lock, err := resolver.ParseLock(data, "testrepo.lock")
			if err != nil {
				t.Fatal(err)
			}
			again, err := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: rq, Lock: lock}, pol)
			if err != nil {
				t.Fatalf("with its own lock: %v", err)
			}
			if again.String() != plan.String() {
				t.Errorf("locked plan differs:\n%s\nwant\n%s", again, plan)
			}
		})
	}
	if failing == 0 {
		t.Errorf("no request failed under dnf; the set must include failing requests")
	}
	t.Logf("%d request sets, %d of them unsolvable for dnf", len(reqs), failing)
}
