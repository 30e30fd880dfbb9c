package rootfs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/hook"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
)

// dnfOracle drives the real dnf against the test repository.
type dnfOracle struct {
	repo, root, conf, reposDir, cache string
}

func newDNFOracle(t testing.TB, repo string) *dnfOracle {
	t.Helper()
	dir := t.TempDir()
	o := &dnfOracle{repo: repo, root: filepath.Join(dir, "root"), conf: filepath.Join(dir, "dnf.conf"),
		reposDir: filepath.Join(dir, "repos"), cache: filepath.Join(dir, "cache")}
	for _, d := range []string{o.root, o.reposDir, o.cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	for _, id := range []string{"photon", "photon-updates"} {
		fmt.Fprintf(&b, "[%s]\nname=%s\nbaseurl=file://%s/%s\ngpgcheck=1\ngpgkey=file://%s/RPM-GPG-KEY-vicroot-test\n\n", id, id, repo, id, repo)
	}
	// tdnf, which VIC uses, installs no weak dependencies.
	must(t, os.WriteFile(filepath.Join(o.reposDir, "test.repo"), []byte(b.String()), 0o644))
	must(t, os.WriteFile(o.conf, []byte("[main]\ninstall_weak_deps=False\n"), 0o644))
	return o
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (o *dnfOracle) install(t testing.TB, pkgs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"-c", o.conf, "--installroot", o.root, "--setopt=tsflags=noscripts",
		"--setopt=reposdir=" + o.reposDir, "--setopt=cachedir=" + o.cache, "--releasever=2.0",
		"install", "-y", "-q"}, pkgs...)
	if out, err := exec.CommandContext(ctx, "dnf", args...).CombinedOutput(); err != nil {
		t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// installed returns what rpm -qa lists in the root, in install order
// (rpm's database order), without the imported key.
func (o *dnfOracle) installed(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("rpm", "-qa", "--root", o.root, "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n").Output()
	if err != nil {
		t.Fatalf("rpm -qa: %v", err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.HasPrefix(l, "gpg-pubkey\t") {
			names = append(names, l)
		}
	}
	return names
}

// repoFiles maps "name\tevr\tarch" to the RPM file, from manifest.tsv.
func repoFiles(t testing.TB, repo string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repo, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 5 || c[0] == "repo" {
			continue
		}
		m[c[2]+"\t"+c[3]+"\t"+c[4]] = filepath.Join(repo, c[0], c[1])
	}
	return m
}

type repoSpec struct {
	Packages struct {
		Base      string `json:"base"`
		Bootstrap string `json:"bootstrap"`
	} `json:"packages"`
}

func readSpec(t testing.TB, repo string) repoSpec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, "definition", "repo-spec.json"))
	must(t, err)
	var s repoSpec
	must(t, json.Unmarshal(data, &s))
	return s
}

// dnfExceptions are the paths the comparison leaves out, with why.
func dnfExceptions(p string) string {
	for _, e := range []struct{ prefix, why string }{
		{"var/lib/rpm", "rpm's database: written by rpm, not part of the tree's job"},
		{"root/.rpmdb", "rpm's database where Debian's rpm keeps it (%_dbpath is ~/.rpmdb)"},
		{"usr/lib/sysimage", "rpm's database location on newer rpm"},
		{"var/lib/dnf", "dnf's history database"},
		{"var/cache/dnf", "dnf's metadata and package cache (VIC cleans caches anyway)"},
		{"var/log/dnf.log", "dnf's log"},
		{"var/log/dnf.rpm.log", "dnf's log"},
		{"var/log/dnf.librepo.log", "dnf's log"},
		{"var/log/hawkey.log", "dnf's log"},
		{"etc/dnf", "dnf's own configuration state"},
	} {
		if p == e.prefix || strings.HasPrefix(p, e.prefix+"/") {
			return e.why
		}
	}
	return ""
}

// TestTreeMatchesDNF is the acceptance test: for the base set and then the
// bootstrap set of the test repository (installed on top, as VIC does),
// the tree equals what dnf --installroot with noscripts leaves on disk.
// The definition's base.sh runs first in both, as VIC runs it before the
// first install; the oracle runs it with real bash.
func TestTreeMatchesDNF(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "dnf", "rpm", "bash")
	start := time.Now()
	repo := testrepo.Dir(t)
	t.Logf("test repository ready after %v", time.Since(start))
	spec := readSpec(t, repo)
	files := repoFiles(t, repo)
	o := newDNFOracle(t, repo)

	baseSH, err := os.ReadFile(filepath.Join(repo, "definition", "base.sh"))
	must(t, err)
	cmd := exec.Command("bash", "-e", "-c", string(baseSH))
	cmd.Dir = filepath.Dir(o.root) // PKGDIR: the parent of rootfs
	must(t, os.Rename(o.root, filepath.Join(cmd.Dir, "rootfs")))
	o.root = filepath.Join(cmd.Dir, "rootfs")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("base.sh: %v\n%s", err, out)
	}
	tr := newRoot()
	must(t, tr.RunHook(context.Background(), "base.sh", baseSH, hook.Env{}))

	done := map[string]bool{}
	for _, set := range []struct{ name, pkgs string }{{"base", spec.Packages.Base}, {"bootstrap", spec.Packages.Bootstrap}} {
		start := time.Now()
		o.install(t, strings.Fields(set.pkgs)...)
		t.Logf("%s set: dnf took %v", set.name, time.Since(start))
		start = time.Now()
		var in []rpminstall.RPMFile
		for _, nevra := range o.installed(t) {
			if done[nevra] {
				continue
			}
			done[nevra] = true
			f, ok := files[nevra]
			if !ok {
				t.Fatalf("dnf installed %q, which manifest.tsv does not list", nevra)
			}
			in = append(in, rpminstall.RPMFile{Path: f})
		}
		if _, err := tr.Install(context.Background(), in, rpminstall.InstallOptions{}); err != nil {
			t.Fatalf("%s set: %v", set.name, err)
		}
		t.Logf("%s set: tree install took %v", set.name, time.Since(start))
		// dnf puts its cachedir inside the install root too.
		cacheIn := strings.TrimPrefix(o.cache, "/")
		diffs := diffSnapshots(diskSnapshot(t, o.root), treeSnapshot(t, tr), func(p string) string {
			if strings.HasPrefix(cacheIn+"/", p+"/") || strings.HasPrefix(p, cacheIn+"/") {
				return "dnf's cachedir, which it creates inside the install root"
			}
			return dnfExceptions(p)
		})
		if len(diffs) > 0 {
			t.Errorf("%s set (%d packages so far):", set.name, len(done))
			reportDiffs(t, diffs)
		}
		t.Logf("%s set: %d packages, %d paths compared", set.name, len(done), len(treeSnapshot(t, tr)))
	}
}

// TestTestRepoScriptletsEmulated installs the base and bootstrap sets with
// scriptlet emulation. Oracles: rpm -qp lists each package's scriptlets
// (the report must list exactly those), and each %pre body run by real
// bash with Debian's shadow-utils (--prefix) on the dnf-installed root's
// account files in the same order gives the account files the tree has.
func TestTestRepoScriptletsEmulated(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "dnf", "rpm", "bash", "useradd", "groupadd")
	repo := testrepo.Dir(t)
	spec := readSpec(t, repo)
	files := repoFiles(t, repo)
	o := newDNFOracle(t, repo)
	o.install(t, append(strings.Fields(spec.Packages.Base), strings.Fields(spec.Packages.Bootstrap)...)...)
	var in []rpminstall.RPMFile
	var paths []string
	for _, nevra := range o.installed(t) {
		in = append(in, rpminstall.RPMFile{Path: files[nevra]})
		paths = append(paths, files[nevra])
	}
	tr := newRoot()
	tr.SetDefaultTime(time.Unix(sourceDateEpoch, 0))
	if _, err := tr.Install(context.Background(), in, rpminstall.InstallOptions{Scriptlets: true}); err != nil {
		t.Fatal(err)
	}
	rep := tr.Report()
	byNEVRA := map[string]rpminstall.PackageReport{}
	for _, p := range rep.Packages {
		byNEVRA[p.NEVRA] = p
	}
	wrap := `P=` + o.root + `
groupadd() { command groupadd --prefix "$P" "$@"; }
useradd() { command useradd --prefix "$P" "$@"; }
usermod() { command usermod --prefix "$P" "$@"; }
getent() { grep -q "^$2:" "$P/etc/$1"; }
`
	emulated := 0
	for _, p := range paths {
		out, err := exec.Command("rpm", "-qp", "--nosignature", "--qf",
			"%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n%{PRETRANSPROG}|%{PREINPROG}|%{POSTINPROG}|%{PREUNPROG}|%{POSTUNPROG}|%{POSTTRANSPROG}|[%{TRIGGERSCRIPTPROG} ]", p).Output()
		must(t, err)
		lines := strings.SplitN(string(out), "\n", 2)
		nevra, progs := lines[0], strings.Split(lines[1], "|")
		want := 0
		for _, pr := range progs[:6] {
			if pr != "(none)" {
				want++
			}
		}
		want += len(strings.Fields(progs[6]))
		got := byNEVRA[nevra]
		if len(got.Scriptlets) != want {
			t.Errorf("%s: report lists %d scriptlets, rpm -qp %d: %+v", nevra, len(got.Scriptlets), want, got.Scriptlets)
		}
		for _, s := range got.Scriptlets {
			if s.Emulated {
				emulated++
			}
		}
		if progs[1] == "(none)" {
			continue
		}
		body, err := exec.Command("rpm", "-qp", "--nosignature", "--qf", "%{PREIN}", p).Output()
		must(t, err)
		cmd := exec.Command("bash", "-c", wrap+string(body))
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %%pre under bash: %v\n%s", nevra, err, out)
		}
	}
	if emulated == 0 {
		t.Errorf("no scriptlet was emulated; the test repository's systemd-udev has an accounts %%pre scriptlet")
	}
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		w, werr := os.ReadFile(filepath.Join(o.root, "etc", f))
		g, gerr := tr.ReadFile("etc/" + f)
		if (werr == nil) != (gerr == nil) || string(w) != string(g) {
			t.Errorf("etc/%s: bash+shadow-utils (%v):\n%s\ntree (%v):\n%s", f, werr, w, gerr, g)
		}
	}
	data, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("report:\n%s", data)
}
