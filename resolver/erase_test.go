package resolver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// TestEraseAgainstDNF stages a set into a real rpm database (rpm --root
// -i --justdb), then compares Solve's Erase with what
// "dnf remove --assumeno X" (clean_requirements_on_remove=False, which is
// tdnf erase's behaviour) would remove.
func TestEraseAgainstDNF(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "dnf")
	pkgs, _, pol := testRepo(t)
	dir := testrepo.Dir(t)
	staging, err := resolver.Solve(context.Background(), pkgs,
		resolver.Request{Install: []string{"filesystem", "toybox", "kmod", "haveged", "iptables", "bash", "shadow", "iproute2"}}, pol)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	args := []string{"--root", root, "-i", "--justdb", "--nodeps", "--noscripts", "--nosignature", "--ignorearch"}
	for _, p := range staging.Packages {
		args = append(args, filepath.Join(dir, p.Repo, p.Location))
	}
	if out, err := exec.Command("rpm", args...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i --justdb: %v\n%s", err, out)
	}
	rd := filepath.Join(root, "etc", "yum.repos.d-test")
	if err := os.MkdirAll(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"toybox", "bash", "glibc", "iptables", "libmnl0", "kmod"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("dnf", "--installroot="+root, "--setopt=reposdir="+rd,
				"--setopt=cachedir="+filepath.Join(root, "cache"), "--releasever=2.0", "--assumeno",
				"--setopt=clean_requirements_on_remove=False", "--noplugins", "remove", name)
			cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C", "COLUMNS=200")
			out, _ := cmd.CombinedOutput()
			want := parseDNFRemove(string(out))
			if want == nil {
				t.Fatalf("dnf remove %s: no transaction:\n%s", name, out)
			}
			plan, err := resolver.Solve(context.Background(), nil,
				resolver.Request{Erase: []string{name}, Installed: staging.Packages}, resolver.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range plan.Erase {
				got = append(got, p.NEVRA())
			}
			sort.Strings(got)
			t.Logf("erase %s removes %d of %d: %v", name, len(got), len(staging.Packages), got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("erase %s:\n got %v\nwant %v (dnf)", name, got, want)
			}
			if len(plan.Kept)+len(plan.Erase) != len(staging.Packages) {
				t.Errorf("kept %d + erased %d != staged %d", len(plan.Kept), len(plan.Erase), len(staging.Packages))
			}
			checkKeptClosed(t, plan)
		})
	}
}

// TestInstallOnStagedAgainstDNF: installing on top of a staged set (rpm
// database as above) gives what "dnf install --assumeno" on that root
// gives: installed packages satisfy requirements and are kept.
func TestInstallOnStagedAgainstDNF(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "dnf")
	pkgs, oracle, pol := testRepo(t)
	dir := testrepo.Dir(t)
	staging, err := resolver.Solve(context.Background(), pkgs,
		resolver.Request{Install: []string{"filesystem", "toybox", "kmod", "haveged", "iptables"}}, pol)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	args := []string{"--root", root, "-i", "--justdb", "--nodeps", "--noscripts", "--nosignature"}
	for _, p := range staging.Packages {
		args = append(args, filepath.Join(dir, p.Repo, p.Location))
	}
	if out, err := exec.Command("rpm", args...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i --justdb: %v\n%s", err, out)
	}
	// The oracle's own root is replaced by the staged one.
	oracle.stagedRoot = root
	for _, rq := range [][]string{{"bash"}, {"busybox"}, {"linux-esx", "syslinux"}, {"systemd-udev"}, {"iptables-nft"}, {"shadow", "iproute2"}, {"kmod"}, {"no-such-package"}} {
		t.Run(strings.Join(rq, "+"), func(t *testing.T) {
			want := oracle.install(t, rq)
			plan, err := resolver.Solve(context.Background(), pkgs, resolver.Request{Install: rq, Installed: staging.Packages}, pol)
			compareWithDNF(t, rq, want, plan, err)
		})
	}
}

// parseDNFRemove reads the NEVRAs of dnf's "Removing" sections.
func parseDNFRemove(out string) []string {
	if !strings.Contains(out, "Dependencies resolved.") {
		return nil
	}
	var nevras []string
	in := false
	var pending []string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "Removing"):
			in = true
			continue
		case strings.HasPrefix(l, "Transaction Summary"):
			in = false
		case l == "" || !strings.HasPrefix(l, " "):
			continue
		}
		if !in {
			continue
		}
		pending = append(pending, strings.Fields(l)...)
		if len(pending) >= 5 {
			nevras = append(nevras, pending[0]+"-"+pending[2]+"."+pending[1])
			pending = nil
		}
	}
	sort.Strings(nevras)
	if nevras == nil {
		nevras = []string{}
	}
	return nevras
}

// checkKeptClosed: whatever stays has every requirement it had met still
// met by what stays.
func checkKeptClosed(t *testing.T, plan *resolver.Plan) {
	t.Helper()
	for _, p := range plan.Kept {
		for _, d := range p.Requires {
			if resolver.IsRich(d.Name) || strings.HasPrefix(d.Name, "rpmlib(") {
				continue
			}
			had, has := false, false
			for _, q := range append(append([]*rpmrepo.Package(nil), plan.Kept...), plan.Erase...) {
				if provides(q, d) {
					had = true
				}
			}
			for _, q := range plan.Kept {
				if provides(q, d) {
					has = true
				}
			}
			if had && !has {
				t.Errorf("%s kept but %s is gone", p, d)
			}
		}
	}
}
