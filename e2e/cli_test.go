package e2e_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// built is one ISO of the test repository shared by the CLI tests.
var built struct {
	once          sync.Once
	repo, def     string
	iso, cache    string
	err           error
	stdout, stder string
}

func sharedISO(t *testing.T) (repo, def, iso, cache string) {
	t.Helper()
	repo = testrepo.Dir(t)
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "vicroot-cli-")
		if err != nil {
			built.err = err
			return
		}
		built.repo = repo
		built.def = filepath.Join(dir, "testrepo-2.0")
		src := filepath.Join(repo, "definition")
		if err := os.CopyFS(built.def, os.DirFS(src)); err != nil {
			built.err = err
			return
		}
		if err := os.WriteFile(filepath.Join(built.def, "init.sh"), plainInit, 0o644); err != nil {
			built.err = err
			return
		}
		built.cache = filepath.Join(dir, "cache")
		args := append([]string{"build", "--repo", built.def, "--out", filepath.Join(dir, "out"), "--bin", binDir,
			"--cache", built.cache, "--version", "v1.5.8-0-9489f63"}, mirrors(repo)...)
		cmd := exec.Command(vicrootBin, args...)
		out, err := cmd.Output()
		built.stdout = string(out)
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				built.stder = string(ee.Stderr)
			}
			built.err = err
			return
		}
		built.iso = strings.Split(built.stdout, "\n")[0]
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s\n%s", built.err, built.stdout, built.stder)
	}
	return built.repo, built.def, built.iso, built.cache
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// What a build writes: the ISO named as VIC names a custom repo's, and its
// lock, manifest, SBOM and report, which agree with each other.
func TestBuildOutputs(t *testing.T) {
	_, _, iso, _ := sharedISO(t)
	if filepath.Base(iso) != "bootstrap-testrepo-2.0.iso" {
		t.Errorf("ISO named %s", filepath.Base(iso))
	}
	var lock struct {
		Packages []struct{ Name, NEVRA, Checksum, Repo, URL, Key string }
	}
	var spdx struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name         string `json:"name"`
			ExternalRefs []struct {
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	var report struct {
		Packages []string
		Tether   struct {
			Modules  []string
			TempfsMB int64 `json:"tempfs_mb"`
		}
	}
	for _, c := range []struct {
		suffix string
		v      any
	}{{".lock.json", &lock}, {".spdx.json", &spdx}, {".report.json", &report}} {
		data, err := os.ReadFile(iso + c.suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, c.v); err != nil {
			t.Fatalf("%s: %v", c.suffix, err)
		}
	}
	if len(lock.Packages) == 0 || len(report.Packages) == 0 {
		t.Fatal("empty lock or report")
	}
	for _, p := range lock.Packages {
		if !strings.HasPrefix(p.Checksum, "sha256:") || p.Key == "" || !strings.HasPrefix(p.URL, "https://packages.invalid/") {
			t.Errorf("lock entry %+v: want a sha256 checksum, the verifying key and the repository's own URL", p)
		}
	}
	if spdx.SPDXVersion != "SPDX-2.3" || len(spdx.Packages) != len(lock.Packages)+1 {
		t.Errorf("SPDX: version %s, %d packages for %d locked", spdx.SPDXVersion, len(spdx.Packages), len(lock.Packages))
	}
	for _, p := range spdx.Packages[1:] {
		if len(p.ExternalRefs) != 1 || !strings.HasPrefix(p.ExternalRefs[0].Locator, "pkg:rpm/testrepo/"+p.Name+"@") {
			t.Errorf("SPDX package %s: purl %v", p.Name, p.ExternalRefs)
		}
	}
	mt, err := os.ReadFile(iso + ".mtree")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#mtree\n", "./usr/bin/init type=file mode=0755", "./.tempfs_size type=file", "package=iptables-"} {
		if !strings.Contains(string(mt), want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	if report.Tether.TempfsMB <= 0 || len(report.Tether.Modules) == 0 {
		t.Errorf("report tether: %+v", report.Tether)
	}
}

// inspect reads back the ISO: GNU cpio's listing of the initramfs is the
// oracle for the paths, and the sidecar manifest must say the same.
func TestInspect(t *testing.T) {
	testrepo.NeedTools(t, "xorriso", "cpio", "gzip")
	_, _, iso, _ := sharedISO(t)
	out, stderr, err := vicroot(t, nil, "inspect", iso)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	side, err := os.ReadFile(iso + ".mtree")
	if err != nil {
		t.Fatal(err)
	}
	// The sidecar names its ISO besides, in a comment line.
	side = regexp.MustCompile(`(?m)^# iso-sha256: [0-9a-f]{64}\n`).ReplaceAll(side, nil)
	if out != string(side) {
		t.Error("vicroot inspect differs from the build's own .mtree")
	}
	dir := t.TempDir()
	x := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/boot/core.gz", filepath.Join(dir, "core.gz"))
	if o, err := x.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, o)
	}
	l := exec.Command("sh", "-c", "gzip -dc core.gz | cpio -it --quiet")
	l.Dir = dir
	listing, err := l.Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range strings.Split(strings.TrimSpace(string(listing)), "\n") {
		if p == "." {
			want = append(want, ".")
		} else {
			want = append(want, "./"+p)
		}
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		got = append(got, mtree.Unescape(strings.Fields(line)[0]))
	}
	if len(got) != len(want) {
		t.Fatalf("inspect lists %d paths, GNU cpio %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, p := range got {
		seen[p] = true
	}
	for _, p := range want {
		if !seen[p] {
			t.Errorf("%s in the archive, not in inspect's manifest", p)
		}
	}
}

// resolve: the target's packages in install order, --why, and a clear
// failure for a request with no solution.
func TestResolve(t *testing.T) {
	repo, def, iso, cache := sharedISO(t)
	out, stderr, err := vicroot(t, nil, append([]string{"resolve", "--repo", def, "--cache", cache}, mirrors(repo)...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var report struct{ Packages []string }
	data, _ := os.ReadFile(iso + ".report.json")
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(out), "\n"); strings.Join(got, " ") != strings.Join(report.Packages, " ") {
		t.Errorf("resolve:\n%s\nbuild installed:\n%s", strings.Join(got, "\n"), strings.Join(report.Packages, "\n"))
	}
	// haveged comes from photon-updates: the newer build wins.
	if !strings.Contains(out, "haveged-1.9.14-2.ph2.x86_64\n") {
		t.Errorf("haveged from photon-updates not chosen:\n%s", out)
	}
	why, _, err := vicroot(t, nil, append([]string{"resolve", "--repo", def, "--cache", cache, "--why", "libmnl0"}, mirrors(repo)...)...)
	if err != nil || !strings.Contains(why, "libmnl0-") || !strings.Contains(why, "was requested") {
		t.Errorf("--why libmnl0: %v\n%s", err, why)
	}
	fail, _, err := vicroot(t, nil, append([]string{"resolve", "--repo", def, "--cache", cache, "no-such-package-xyz"}, mirrors(repo)...)...)
	if exitCode(err) != 1 || !strings.Contains(fail, "no-such-package-xyz") {
		t.Errorf("unsolvable request: exit %d, output:\n%s", exitCode(err), fail)
	}
}

// A lock pins the build: rebuilding with it gives the same bytes, and
// verify rebuilds from what the ISO records alone.
func TestLockAndVerify(t *testing.T) {
	repo, def, iso, cache := sharedISO(t)
	// vicroot lock writes the lock the build wrote.
	lockOut := filepath.Join(t.TempDir(), "lock.json")
	if o, stderr, err := vicroot(t, nil, append([]string{"lock", "--repo", def, "--cache", cache, "-o", lockOut}, mirrors(repo)...)...); err != nil {
		t.Fatalf("lock: %v\n%s\n%s", err, o, stderr)
	}
	l1, _ := os.ReadFile(lockOut)
	l2, _ := os.ReadFile(iso + ".lock.json")
	// The sidecar names its ISO besides.
	l2 = regexp.MustCompile(`(?m)^  "iso_sha256": "[0-9a-f]{64}",\n`).ReplaceAll(l2, nil)
	if string(l1) != string(l2) || len(l1) == 0 {
		t.Errorf("vicroot lock differs from the build's lock")
	}
	// build --lock gives the same bytes.
	out2 := t.TempDir()
	args := append([]string{"build", "--repo", def, "--out", out2, "--bin", binDir, "--cache", cache, "--version", "v1.5.8-0-9489f63", "--lock", lockOut}, mirrors(repo)...)
	if o, stderr, err := vicroot(t, nil, args...); err != nil {
		t.Fatalf("%v\n%s\n%s", err, o, stderr)
	}
	if fileSHA256(t, iso) != fileSHA256(t, filepath.Join(out2, filepath.Base(iso))) {
		t.Error("build --lock gave different bytes")
	}
	// A lock naming a package the repositories no longer offer fails,
	// naming it.
	gone := strings.Replace(string(l1), "haveged-1.9.14-2.ph2.x86_64", "haveged-9.9-9.ph2.x86_64", -1)
	if err := os.WriteFile(lockOut, []byte(gone), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := vicroot(t, nil, append([]string{"build", "--repo", def, "--out", t.TempDir(), "--bin", binDir, "--cache", cache, "--lock", lockOut}, mirrors(repo)...)...)
	if exitCode(err) != 1 || !strings.Contains(stderr, "haveged-9.9-9.ph2.x86_64") {
		t.Errorf("build with a gone locked package: exit %d\n%s", exitCode(err), stderr)
	}
	out, stderr, err = vicroot(t, nil, append([]string{"verify", iso, "--bin", binDir, "--cache", filepath.Join(t.TempDir(), "cold")}, mirrors(repo)...)...)
	if err != nil {
		t.Fatalf("verify: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "identical to its rebuild") {
		t.Errorf("verify: %s", out)
	}
	// A tether other than the one recorded is refused, naming both digests.
	other := t.TempDir()
	for _, n := range []string{"tether-linux", "unpack"} {
		data, err := os.ReadFile(filepath.Join(binDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if n == "tether-linux" {
			data = append(data, 0)
		}
		if err := os.WriteFile(filepath.Join(other, n), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, err = vicroot(t, nil, append([]string{"verify", iso, "--bin", other, "--cache", filepath.Join(t.TempDir(), "c")}, mirrors(repo)...)...)
	if exitCode(err) != 1 || !strings.Contains(stderr, "sha256") {
		t.Errorf("verify with another tether: exit %d\n%s", exitCode(err), stderr)
	}
}

// diff names the package and the files that differ between two images.
func TestDiff(t *testing.T) {
	repo, def, iso, cache := sharedISO(t)
	def2 := filepath.Join(t.TempDir(), "testrepo-2.0")
	if err := os.CopyFS(def2, os.DirFS(def)); err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join(def2, "repo-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	spec2 := strings.Replace(string(spec), `"bootstrap": "iproute2 systemd-udev"`, `"bootstrap": "iproute2"`, 1)
	if spec2 == string(spec) {
		t.Fatalf("test repository's repo-spec.json changed shape:\n%s", spec)
	}
	if err := os.WriteFile(filepath.Join(def2, "repo-spec.json"), []byte(spec2), 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := t.TempDir()
	args := append([]string{"build", "--repo", def2, "--out", out2, "--bin", binDir, "--cache", cache, "--version", "v1.5.8-0-9489f63"}, mirrors(repo)...)
	if o, stderr, err := vicroot(t, nil, args...); err != nil {
		t.Fatalf("%v\n%s\n%s", err, o, stderr)
	}
	d, _, err := vicroot(t, nil, "diff", iso, filepath.Join(out2, "bootstrap-testrepo-2.0.iso"))
	if exitCode(err) != 3 {
		t.Errorf("diff exit %d, want 3", exitCode(err))
	}
	for _, want := range []string{"package removed: systemd-udev-", "file usr/bin/udevadm: removed (systemd-udev-"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	same, _, err := vicroot(t, nil, "diff", iso, iso)
	if err != nil || strings.TrimSpace(same) != "no differences" {
		t.Errorf("diff of an ISO with itself: %v %q", err, same)
	}
}

// A definition that pins its key instead of shipping it (as the embedded
// ones do) gets the key from the repository's release package that
// installs it, accepted only when its fingerprint matches the pin.
func TestPinnedKeyFromReleasePackage(t *testing.T) {
	repo, def, _, _ := sharedISO(t)
	fpr, err := exec.Command("gpg", "--batch", "--with-colons", "--show-keys", filepath.Join(repo, "RPM-GPG-KEY-vicroot-test")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var fingerprint string
	for _, line := range strings.Split(string(fpr), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			fingerprint = f[9]
			break
		}
	}
	if fingerprint == "" {
		t.Fatalf("gpg printed no fingerprint:\n%s", fpr)
	}
	for _, c := range []struct {
		name, pin string
		ok        bool
	}{
		{"matching pin", fingerprint, true},
		{"wrong pin", "0123456789ABCDEF0123456789ABCDEF01234567", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "pinned")
			if err := os.CopyFS(d, os.DirFS(def)); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(d, "VICROOT-TEST-KEY")); err != nil {
				t.Fatal(err)
			}
			spec, err := os.ReadFile(filepath.Join(d, "repo-spec.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(spec, &m); err != nil {
				t.Fatal(err)
			}
			m["gpgkeys"] = map[string]any{"VICROOT-TEST-KEY": c.pin}
			spec, _ = json.Marshal(m)
			if err := os.WriteFile(filepath.Join(d, "repo-spec.json"), spec, 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, err := vicroot(t, nil, append([]string{"resolve", "--repo", d, "--cache", filepath.Join(t.TempDir(), "c")}, mirrors(repo)...)...)
			if c.ok {
				if err != nil || !strings.Contains(out, "photon-repos-") && !strings.Contains(out, "iptables-") {
					t.Fatalf("resolve with a pinned key: %v\n%s\n%s", err, out, stderr)
				}
				return
			}
			if exitCode(err) != 1 || !strings.Contains(stderr, "fingerprint") {
				t.Errorf("a key not matching the pin was accepted or the error does not say why: exit %d\n%s", exitCode(err), stderr)
			}
		})
	}
}

// --offline builds from the cache alone, and on an empty cache lists
// exactly what is missing.
func TestOffline(t *testing.T) {
	repo, def, iso, cache := sharedISO(t)
	out := t.TempDir()
	args := append([]string{"build", "--offline", "--repo", def, "--out", out, "--bin", binDir, "--cache", cache, "--version", "v1.5.8-0-9489f63"}, mirrors(repo)...)
	if o, stderr, err := vicroot(t, nil, args...); err != nil {
		t.Fatalf("offline build on a warm cache: %v\n%s\n%s", err, o, stderr)
	}
	if fileSHA256(t, iso) != fileSHA256(t, filepath.Join(out, filepath.Base(iso))) {
		t.Error("the offline build gave different bytes")
	}
	args = append([]string{"build", "--offline", "--repo", def, "--out", t.TempDir(), "--bin", binDir, "--cache", filepath.Join(t.TempDir(), "empty")}, mirrors(repo)...)
	_, stderr, err := vicroot(t, nil, args...)
	if exitCode(err) != 1 || !strings.Contains(stderr, "repomd.xml") {
		t.Errorf("offline build on an empty cache: exit %d, want 1 naming the missing repomd.xml\n%s", exitCode(err), stderr)
	}
	// Issue 14, defect 6: verify --offline without the build's --mirror
	// flags says which mirrors the ISO was built from, and that they are
	// needed; with them it passes.
	_, stderr, err = vicroot(t, nil, "verify", "--offline", iso, "--cache", cache)
	want := iso + " was built from the mirrors " + strings.Join(mirrors(repo), " ")
	if exitCode(err) != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "give the same --mirror flags") || strings.Contains(stderr, "||") {
		t.Errorf("verify --offline without --mirror: exit %d, want 1 and %q\n%s", exitCode(err), want, stderr)
	}
	if o, stderr, err := vicroot(t, nil, append([]string{"verify", "--offline", iso, "--cache", cache}, mirrors(repo)...)...); err != nil {
		t.Errorf("verify --offline with the build's --mirror flags: %v\n%s\n%s", err, o, stderr)
	}
}
