package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// rpSidecars are the files a build writes beside the ISO.
var rpSidecars = []string{".lock.json", ".mtree", ".spdx.json", ".report.json"}

// reproBuild is one way of running the same build: everything the host
// could leak into the output is set differently between two of them.
type reproBuild struct {
	name       string
	unpriv     bool // run as nobody (65534:65534) instead of root
	umask      string
	tz, lang   string
	jobs       string
	gomaxprocs string
	epoch      string // SOURCE_DATE_EPOCH; "" leaves it unset
}

// TestReproducible builds the test repository's definition (--target all:
// the bootstrap and the appliance) twice, in
// separate processes of the static binary, with a different umask, TZ,
// locale, user, HOME, TMPDIR, cache state (cold, then warm from the first
// build), --jobs and GOMAXPROCS, and requires the same ISO bytes and the
// same lock, mtree, SPDX and report. A third build with another
// SOURCE_DATE_EPOCH must change the ISO, which shows the comparison sees
// a difference when there is one.
func TestReproducible(t *testing.T) {
	testrepo.NeedRoot(t) // switching to nobody needs root
	testrepo.NeedTools(t, "setpriv", "sh", "cp", "chmod")
	repo := testrepo.Dir(t)
	if _, err := os.Stat("/usr/share/zoneinfo/Pacific/Auckland"); err != nil {
		t.Logf("no tzdata for Pacific/Auckland (%v): TZ then falls back to UTC", err)
	}

	// Everything the unprivileged build reads must be readable by nobody,
	// and t.TempDir and TestMain's directory are 0700: copy the binary,
	// tether/unpack, the definition and the repositories to a directory
	// all users can read.
	w := rpWorldDir(t)
	bin := filepath.Join(w, "vicroot")
	rpCopyTree(t, vicrootBin, bin)
	rpCopyTree(t, binDir, filepath.Join(w, "bin"))
	rpCopyTree(t, filepath.Join(repo, "definition"), filepath.Join(w, "repo", "testrepo-2.0"))
	for _, r := range []string{"photon", "photon-updates"} {
		rpCopyTree(t, filepath.Join(repo, r), filepath.Join(w, "repo", r))
	}
	rpRun(t, "chmod", "-R", "a+rX", w)
	def := filepath.Join(w, "repo", "testrepo-2.0")
	cache := filepath.Join(w, "cache")
	rpMkdirMode(t, cache, 0o777)

	builds := []reproBuild{
		{name: "a", unpriv: true, umask: "022", tz: "UTC", lang: "C", jobs: "1", gomaxprocs: "1"},
		{name: "b", umask: "077", tz: "Pacific/Auckland", lang: "C.UTF-8", jobs: "4", gomaxprocs: "2"},
		{name: "c", umask: "022", tz: "UTC", lang: "C", jobs: "2", gomaxprocs: "2", epoch: "1700000001"},
	}
	outs := map[string][]string{}
	for i, rb := range builds {
		if i == 0 {
			if ents, _ := os.ReadDir(cache); len(ents) != 0 {
				t.Fatalf("cache %s is not empty before the cold build", cache)
			}
		}
		outs[rb.name] = rb.build(t, w, bin, def, cache)
		if i == 0 {
			if ents, _ := os.ReadDir(cache); len(ents) == 0 {
				t.Fatalf("the cold build left cache %s empty: the second build would not be warm", cache)
			}
		}
	}

	// --target all: the bootstrap's ISO, then the appliance's.
	for i := range outs["a"] {
		a, b := outs["a"][i], outs["b"][i]
		if ha, hb := rpSumFile(t, a), rpSumFile(t, b); ha != hb {
			t.Errorf("ISO differs between the builds: %s %s vs %s %s", ha, a, hb, b)
			rpDiffISO(t, bin, a, b)
		} else {
			t.Logf("both builds: sha256 %s", ha)
		}
		for _, s := range rpSidecars {
			da, db := rpReadFile(t, a+s), rpReadFile(t, b+s)
			if len(da) == 0 {
				t.Errorf("%s is empty", a+s)
			}
			if !bytes.Equal(da, db) {
				t.Errorf("%s differs between the builds:\n%s", s, rpDiffSidecar(s, da, db))
			}
		}
	}
	a := outs["a"][0]
	// The report records the ISO's hash: it must be the file's.
	var rep struct {
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(rpReadFile(t, a+".report.json"), &rep); err != nil {
		t.Fatal(err)
	}
	if got := rpSumFile(t, a); rep.SHA256 != got {
		t.Errorf("report.json sha256 %q, the ISO's is %s", rep.SHA256, got)
	}

	if rpSumFile(t, outs["c"][0]) == rpSumFile(t, a) {
		t.Errorf("SOURCE_DATE_EPOCH=1700000001 gave the same ISO as the default epoch: the timestamps are not in the image, or the comparison is blind")
	}
	// The differ itself, on a real difference: the epoch build's report
	// must show its epoch.
	if d := rpDiffSidecar(".report.json", rpReadFile(t, a+".report.json"), rpReadFile(t, outs["c"][0]+".report.json")); !strings.Contains(d, ".source_date_epoch: 1700000000 vs 1700000001") {
		t.Errorf("the report diff between the default and the 1700000001 epoch does not name source_date_epoch:\n%s", d)
	} else {
		t.Logf("default vs SOURCE_DATE_EPOCH=1700000001, report.json:\n%s", d)
	}
}

// build runs vicroot build --target all as rb says, in its own out and
// temp dirs, and returns the ISO paths it printed (the bootstrap's, the
// appliance's).
func (rb reproBuild) build(t *testing.T, w, bin, def, cache string) []string {
	t.Helper()
	out := filepath.Join(w, "out-"+rb.name)
	tmp := filepath.Join(w, "tmp-"+rb.name)
	home := "/root"
	mode := os.FileMode(0o700)
	if rb.unpriv {
		mode, home = 0o777, "/nonexistent"
	}
	rpMkdirMode(t, out, mode)
	rpMkdirMode(t, tmp, mode)
	args := []string{"build", "--repo", def, "--out", out, "--bin", filepath.Join(w, "bin"),
		"--cache", cache, "--version", "v1.5.8-0-9489f63", "--jobs", rb.jobs, "--target", "all"}
	args = append(args, mirrors(filepath.Join(w, "repo"))...)
	// sh sets the umask, then execs the binary with the arguments as given.
	cmdline := append([]string{"sh", "-c", "umask " + rb.umask + `; exec "$0" "$@"`, bin}, args...)
	if rb.unpriv {
		cmdline = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, cmdline...)
	}
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Env = append(rpCleanEnv("TZ", "TMPDIR", "GOMAXPROCS", "SOURCE_DATE_EPOCH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME"),
		"TZ="+rb.tz, "TMPDIR="+tmp, "GOMAXPROCS="+rb.gomaxprocs, "HOME="+home, "LANG="+rb.lang, "LC_ALL="+rb.lang)
	if rb.epoch != "" {
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH="+rb.epoch)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build %s: %s: %v\n%s\n%s", rb.name, strings.Join(cmdline, " "), err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("build %s printed %q, want two ISOs, each with its sha256 and a count", rb.name, stdout.String())
	}
	var isos []string
	for i := 0; i < len(lines); i += 3 {
		iso := lines[i]
		if !strings.HasPrefix(lines[i+1], "sha256 ") {
			t.Fatalf("build %s printed %q, want the ISO path and its sha256", rb.name, stdout.String())
		}
		if got, want := rpSumFile(t, iso), strings.TrimPrefix(lines[i+1], "sha256 "); got != want {
			t.Fatalf("build %s printed sha256 %s, the file's is %s", rb.name, want, got)
		}
		isos = append(isos, iso)
	}
	return isos
}

// rpDiffISO explains an ISO difference: the initramfs manifests by path
// (vicroot inspect), then the rpSidecars were already compared.
func rpDiffISO(t *testing.T, bin, a, b string) {
	t.Helper()
	ma, err := exec.Command(bin, "inspect", a).Output()
	if err != nil {
		t.Errorf("vicroot inspect %s: %v", a, err)
		return
	}
	mb, err := exec.Command(bin, "inspect", b).Output()
	if err != nil {
		t.Errorf("vicroot inspect %s: %v", b, err)
		return
	}
	if bytes.Equal(ma, mb) {
		t.Errorf("the initramfs manifests are equal: the difference is in the ISO's own metadata or in a /boot file outside the initramfs (first differing byte at offset %d)", rpFirstDiff(rpReadFile(t, a), rpReadFile(t, b)))
		return
	}
	t.Errorf("initramfs manifests differ:\n%s", rpLineDiff(ma, mb))
}

// rpDiffSidecar says what differs: by JSON path for JSON, by line otherwise.
func rpDiffSidecar(name string, a, b []byte) string {
	if strings.HasSuffix(name, ".json") {
		var va, vb any
		if json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil {
			fa, fb := map[string]string{}, map[string]string{}
			rpFlatten("", va, fa)
			rpFlatten("", vb, fb)
			keys := map[string]bool{}
			for k := range fa {
				keys[k] = true
			}
			for k := range fb {
				keys[k] = true
			}
			var diffs []string
			for k := range keys {
				if fa[k] != fb[k] {
					diffs = append(diffs, fmt.Sprintf("%s: %s vs %s", k, fa[k], fb[k]))
				}
			}
			sort.Strings(diffs)
			if len(diffs) > 40 {
				diffs = append(diffs[:40], fmt.Sprintf("... %d more", len(diffs)-40))
			}
			return strings.Join(diffs, "\n")
		}
	}
	return rpLineDiff(a, b)
}

func rpFlatten(prefix string, v any, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			rpFlatten(prefix+"."+k, e, out)
		}
	case []any:
		for i, e := range v {
			rpFlatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	}
}

// rpLineDiff lists the lines only in a (-) and only in b (+), at most 40.
func rpLineDiff(a, b []byte) string {
	la := strings.Split(string(a), "\n")
	lb := strings.Split(string(b), "\n")
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, l := range la {
		inA[l] = true
	}
	for _, l := range lb {
		inB[l] = true
	}
	var d []string
	for _, l := range la {
		if !inB[l] {
			d = append(d, "- "+l)
		}
	}
	for _, l := range lb {
		if !inA[l] {
			d = append(d, "+ "+l)
		}
	}
	if len(d) == 0 {
		return "same lines in a different order"
	}
	if len(d) > 40 {
		d = append(d[:40], fmt.Sprintf("... %d more", len(d)-40))
	}
	return strings.Join(d, "\n")
}

func rpFirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// rpWorldDir is a temp dir every user can read and enter.
func rpWorldDir(tb testing.TB) string {
	tb.Helper()
	d, err := os.MkdirTemp("", "vicroot-e2e-world-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		tb.Fatal(err)
	}
	return d
}

func rpMkdirMode(tb testing.TB, d string, mode os.FileMode) {
	tb.Helper()
	if err := os.MkdirAll(d, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil {
		tb.Fatal(err)
	}
}

// rpCopyTree copies a file or a directory tree with cp -a.
func rpCopyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	rpRun(tb, "cp", "-a", src, dst)
}

func rpRun(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// rpCleanEnv is the environment without the named variables.
func rpCleanEnv(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			if k == d {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

func rpReadFile(tb testing.TB, p string) []byte {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func rpSumFile(tb testing.TB, p string) string {
	tb.Helper()
	s := sha256.Sum256(rpReadFile(tb, p))
	return hex.EncodeToString(s[:])
}
