package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// The sidecars a build writes beside its ISO.
var otSidecars = []string{".lock.json", ".mtree", ".spdx.json", ".report.json"}

const otISOName = "bootstrap-testrepo-2.0.iso"

// otSet is the ISO and its sidecars as bytes, by suffix ("" is the ISO).
type otSet map[string][]byte

func otReadSet(t *testing.T, dir string) otSet {
	t.Helper()
	s := otSet{}
	for _, suf := range append([]string{""}, otSidecars...) {
		data, err := os.ReadFile(filepath.Join(dir, otISOName+suf))
		if err == nil {
			s[suf] = data
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return s
}

func otSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// otCheckContract is issue 14's contract for the out dir: the previous
// complete set, the new complete set, or no ISO; never an ISO beside
// sidecars of another build. The oracle is the byte content of the two
// sets, each written by an uninterrupted build. It reports whether the
// contract held.
func otCheckContract(t *testing.T, what, dir string, old, new otSet) bool {
	t.Helper()
	got := otReadSet(t, dir)
	iso, ok := got[""]
	if !ok {
		return true
	}
	for _, ref := range []struct {
		name string
		set  otSet
	}{{"previous", old}, {"new", new}} {
		if !bytes.Equal(iso, ref.set[""]) {
			continue
		}
		held := true
		for _, suf := range otSidecars {
			if !bytes.Equal(got[suf], ref.set[suf]) {
				t.Errorf("%s: the %s ISO (sha256 %s) lies beside a %s that is not its own", what, ref.name, otSum(iso), otISOName+suf)
				held = false
			}
		}
		return held
	}
	t.Errorf("%s: %s is neither the previous nor the new build's ISO (sha256 %s)", what, otISOName, otSum(iso))
	return false
}

func otCopySet(t *testing.T, s otSet, dir string) {
	t.Helper()
	for suf, data := range s {
		if err := os.WriteFile(filepath.Join(dir, otISOName+suf), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// otCheckNames checks that each sidecar names the ISO's SHA-256 (computed
// here), and that the sidecar manifest stays an mtree bsdtar reads.
func otCheckNames(t *testing.T, s otSet) {
	t.Helper()
	sum := otSum(s[""])
	for _, c := range []struct{ suf, want string }{
		{".lock.json", `"iso_sha256": "` + sum + `"`},
		{".report.json", `"sha256": "` + sum + `"`},
		{".spdx.json", `"checksumValue": "` + sum + `"`},
		{".mtree", "#mtree\n# iso-sha256: " + sum + "\n"},
	} {
		if !strings.Contains(string(s[c.suf]), c.want) {
			t.Errorf("%s does not name the ISO's sha256 %s", c.suf, sum)
		}
	}
	testrepo.NeedTools(t, "bsdtar")
	// libarchive rejects keywords it does not know, and package= is ours:
	// drop it for the oracle (as internal/mtree's test does).
	plain := regexp.MustCompile(` package=\S+`).ReplaceAllString(string(s[".mtree"]), "")
	mf := filepath.Join(t.TempDir(), "m.mtree")
	if err := os.WriteFile(mf, []byte(plain), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bsdtar", "-tf", mf).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), ".\n") || !strings.Contains(string(out), "\n./usr/bin/init\n") {
		t.Errorf("bsdtar -tf on the sidecar manifest: %v\n%.500s", err, out)
	}
}

// otKill runs a build and kill -9s it when a stderr line contains
// trigger; it reports whether it killed (false: the build ended first,
// and succeeded).
func otKill(t *testing.T, args, env []string, trigger string) bool {
	t.Helper()
	cmd := exec.Command(vicrootBin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	killed := false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !killed && strings.Contains(sc.Text(), trigger) {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if !killed && err != nil {
		t.Fatalf("vicroot %s: %v\n%s", strings.Join(args, " "), err, log.String())
	}
	return killed
}

// Issue 14, defect 2: a build killed (SIGKILL) at the start of each stage
// and before each step of publishing its outputs leaves the out dir
// holding the previous build's complete set, the new one, or no ISO.
func TestKillLeavesWholeSets(t *testing.T) {
	repo := testrepo.Dir(t)
	def := definition(t, repo, nil, plainInit)
	cache := filepath.Join(t.TempDir(), "cache")
	args := func(out, version string, extra ...string) []string {
		a := append([]string{"build", "--repo", def, "--out", out, "--bin", binDir, "--cache", cache, "--version", version}, mirrors(repo)...)
		return append(a, extra...)
	}
	const oldV, newV = "v1.5.8-0-9489f63", "v1.5.9-0-1234567"
	build := func(version string) otSet {
		out := t.TempDir()
		if stdout, stderr, err := vicroot(t, nil, args(out, version)...); err != nil {
			t.Fatalf("build %s: %v\n%s\n%s", version, err, stdout, stderr)
		}
		return otReadSet(t, out)
	}
	old, new := build(oldV), build(newV)
	if len(old) != 5 || len(new) != 5 || bytes.Equal(old[""], new[""]) {
		t.Fatalf("reference builds: %d and %d files, want 5 each, and two different ISOs", len(old), len(new))
	}
	otCheckNames(t, new)
	// A mixed set, as the old order left it: inspect flags every sidecar.
	mixed := t.TempDir()
	otCopySet(t, old, mixed)
	otCopySet(t, otSet{"": new[""]}, mixed)
	_, stderr, err := vicroot(t, nil, "inspect", filepath.Join(mixed, otISOName))
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, stderr)
	}
	for _, suf := range otSidecars {
		if !strings.Contains(stderr, "stale sidecar "+filepath.Join(mixed, otISOName+suf)) {
			t.Errorf("inspect does not flag the stale %s:\n%s", suf, stderr)
		}
	}
	if _, stderr, _ := vicroot(t, nil, "inspect", filepath.Join(t.TempDir(), "none.iso")); strings.Contains(stderr, "stale") {
		t.Errorf("inspect of a missing file: %s", stderr)
	}
	kills, held := 0, 0
	for _, stage := range []string{"resolve", "install", "initramfs", "iso"} {
		out := t.TempDir()
		otCopySet(t, old, out)
		if !otKill(t, args(out, newV, "--verbose"), nil, "msg=stage name="+stage) {
			t.Fatalf("stage %s: the build never logged it", stage)
		}
		kills++
		if otCheckContract(t, "killed at stage "+stage, out, old, new) {
			held++
		}
	}
	steps := 0
	for i := 0; ; i++ {
		out := t.TempDir()
		otCopySet(t, old, out)
		if !otKill(t, args(out, newV), []string{"VICROOT_TEST_PAUSE=" + strconv.Itoa(i)}, "test pause before publish step "+strconv.Itoa(i)) {
			otCheckContract(t, "not killed", out, old, new)
			if got := otReadSet(t, out); len(got) != 5 || !bytes.Equal(got[""], new[""]) {
				t.Errorf("after the whole build: %d files, want the new set", len(got))
			}
			break
		}
		steps++
		kills++
		if otCheckContract(t, "killed before publish step "+strconv.Itoa(i), out, old, new) {
			held++
		}
	}
	if steps < 5 {
		t.Errorf("only %d publish steps paused at, want one per output (5)", steps)
	}
	t.Logf("tally: %d builds killed (kill -9: %d at a stage's start, %d before a publish step), %d left the previous or the new whole set", kills, kills-steps, steps, held)
}

// Issue 15, part 4: verify without --bin takes the tether and unpack from
// the ISO, checked against the digests the ISO records; an ISO whose record
// does not match what it holds is refused, naming both digests.
func TestVerifyFromISO(t *testing.T) {
	repo, _, iso, cache := sharedISO(t)
	out, stderr, err := vicroot(t, nil, append([]string{"verify", iso, "--cache", cache}, mirrors(repo)...)...)
	if err != nil || !strings.Contains(out, "identical to its rebuild") {
		t.Fatalf("verify without --bin: %v\n%s\n%s", err, out, stderr)
	}
	// The record altered in place: the tether digest inputs.json holds,
	// its first hex digit changed.
	data, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	tether, err := os.ReadFile(filepath.Join(binDir, "tether-linux"))
	if err != nil {
		t.Fatal(err)
	}
	sum := otSum(tether)
	if n := bytes.Count(data, []byte(`"tether_sha256": "`+sum+`"`)); n != 1 {
		t.Fatalf("the ISO holds the test tether's digest %d times, want once (in inputs.json)", n)
	}
	bad := "0" + sum[1:]
	if sum[0] == '0' {
		bad = "1" + sum[1:]
	}
	altered := filepath.Join(t.TempDir(), otISOName)
	if err := os.WriteFile(altered, bytes.Replace(data, []byte(`"tether_sha256": "`+sum), []byte(`"tether_sha256": "`+bad), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = vicroot(t, nil, append([]string{"verify", altered, "--cache", cache}, mirrors(repo)...)...)
	if exitCode(err) != 1 || !strings.Contains(stderr, "bin/tether has sha256 "+sum) || !strings.Contains(stderr, "tether-linux of sha256 "+bad) {
		t.Errorf("verify of an ISO whose record lies: exit %d\n%s", exitCode(err), stderr)
	}
}

// A build with --isolinux (Debian's isolinux package, from .ci/deps)
// records isolinux.bin's digest with the boot-info table (bytes 8–63)
// masked, and verify takes ISOLINUX from the ISO too.
func TestVerifyFromISOIsolinux(t *testing.T) {
	repo, def, _, cache := sharedISO(t)
	dir := t.TempDir()
	var bin []byte
	for _, src := range []string{"/usr/lib/ISOLINUX/isolinux.bin", "/usr/lib/syslinux/modules/bios/ldlinux.c32"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("%v (the isolinux and syslinux-common packages of .ci/deps)", err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if bin == nil {
			bin = data
		}
	}
	iso := buildISO(t, repo, def, t.TempDir(), "--isolinux", dir, "--cache", cache)
	data, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	masked := append([]byte(nil), bin...)
	clear(masked[8:64])
	if !bytes.Contains(data, []byte(`"isolinux_sha256": "`+otSum(masked)+`"`)) {
		t.Errorf("the ISO does not record isolinux.bin's digest with bytes 8-63 masked (%s)", otSum(masked))
	}
	if bytes.Contains(data, bin[:512]) {
		t.Errorf("the ISO holds isolinux.bin unpatched: no boot-info table to mask")
	}
	out, stderr, err := vicroot(t, nil, append([]string{"verify", iso, "--cache", cache}, mirrors(repo)...)...)
	if err != nil || !strings.Contains(out, "identical to its rebuild") {
		t.Fatalf("verify without --bin and --isolinux: %v\n%s\n%s", err, out, stderr)
	}
	// A stale sidecar beside an identical ISO fails verify, naming it.
	rep := iso + ".report.json"
	r, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	sum := otSum(data)
	if err := os.WriteFile(rep, bytes.Replace(r, []byte(sum), []byte(strings.Repeat("0", 64)), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = vicroot(t, nil, append([]string{"verify", iso, "--cache", cache}, mirrors(repo)...)...)
	if exitCode(err) != 1 || !strings.Contains(stderr, "stale sidecar "+rep) {
		t.Errorf("verify beside a stale report: exit %d\n%s", exitCode(err), stderr)
	}
}
