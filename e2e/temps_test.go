package e2e_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// tmStallServer serves the test repository over HTTP on 127.0.0.1; every
// .rpm answer stops after half its bytes and holds until the client goes
// away: a download caught in the middle.
func tmStallServer(t *testing.T, repo string) ([]string, *atomic.Int32) {
	quit := make(chan struct{})
	var stalled atomic.Int32
	files := http.FileServer(http.Dir(repo))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".rpm") {
			files.ServeHTTP(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		stalled.Add(1)
		defer stalled.Add(-1)
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(quit) })
	return []string{"--mirror", "photon=" + s.URL + "/photon/", "--mirror", "photon-updates=" + s.URL + "/photon-updates/"}, &stalled
}

// tmProc is a vicroot process the test runs in the background.
type tmProc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	log strings.Builder
}

func tmStart(t *testing.T, env []string, args ...string) *tmProc {
	t.Helper()
	p := &tmProc{cmd: exec.Command(vicrootBin, args...)}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	return p
}

func (p *tmProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// kill is kill -9, and waits for the process to be gone.
func (p *tmProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// tmWait polls until cond holds, failing the test after two minutes.
func tmWait(t *testing.T, what string, p *tmProc, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited two minutes for %s\n%s", what, p.stderr())
		}
	}
}

// tmDownloads is the cache's download temp files holding at least one
// byte.
func tmDownloads(cache string) []string {
	var out []string
	names, _ := filepath.Glob(filepath.Join(cache, "tmp", "dl-*"))
	for _, n := range names {
		if st, err := os.Stat(n); err == nil && st.Size() > 0 {
			out = append(out, n)
		}
	}
	return out
}

// tmOutTemps is the temp files of the ISO and its sidecars in dir.
func tmOutTemps(dir string) []string {
	names, _ := filepath.Glob(filepath.Join(dir, "."+otISOName+"*.tmp*"))
	return names
}

func tmExist(t *testing.T, what string, paths []string, want bool) {
	t.Helper()
	for _, p := range paths {
		_, err := os.Stat(p)
		if exists := err == nil; exists != want {
			if want {
				t.Errorf("%s: %s was removed", what, p)
			} else {
				t.Errorf("%s: %s is still there", what, p)
			}
		}
	}
}

// Issue 14, defect 5: a build killed (SIGKILL) mid-download leaves a
// partial download in the cache, and one killed with its ISO and sidecars
// written but not yet renamed (publish step 0) leaves their temp files in
// the out dir; the next build on that cache and out dir removes both. A
// temp file is stale only when no process holds its lock, never by age:
// the live temp files of a build stalled mid-download and of one paused
// with its outputs written stay through the builds that start meanwhile,
// which succeed; once those are killed, the next lock (cache) and build
// (out dir) remove theirs too.
func TestKilledBuildsTempsRemoved(t *testing.T) {
	repo := testrepo.Dir(t)
	def := definition(t, repo, nil, plainInit)
	cache := filepath.Join(t.TempDir(), "cache")
	out := t.TempDir()
	stalled, nStalled := tmStallServer(t, repo)
	args := func(out string, mirrors []string, extra ...string) []string {
		a := append([]string{"build", "--repo", def, "--out", out, "--bin", binDir, "--cache", cache, "--version", "v1.5.9-0-1234567", "--timeout", "10m"}, mirrors...)
		return append(a, extra...)
	}

	// A build killed mid-download.
	a := tmStart(t, nil, args(t.TempDir(), stalled)...)
	tmWait(t, "a partial download", a, func() bool { return len(tmDownloads(cache)) > 0 })
	a.kill()
	tmWait(t, "the killed build's connections closed", a, func() bool { return nStalled.Load() == 0 })
	killedDL := tmDownloads(cache)
	if len(killedDL) == 0 {
		t.Fatal("the killed build left no partial download to clean")
	}

	// A build stalled mid-download, left running: it removes the killed
	// build's downloads, and holds its own.
	// Its live temp files are sampled once the server holds one of its
	// package downloads: its metadata temps (renamed as soon as they are
	// whole) are gone by then, since packages are fetched after the plan.
	l1 := tmStart(t, nil, args(t.TempDir(), stalled)...)
	var liveDL []string
	tmWait(t, "the stalled build's downloads", l1, func() bool {
		liveDL = nil
		if nStalled.Load() == 0 {
			return false
		}
		for _, p := range tmDownloads(cache) {
			if !slices.Contains(killedDL, p) {
				liveDL = append(liveDL, p)
			}
		}
		return len(liveDL) > 0
	})
	tmWait(t, "the killed build's downloads removed", l1, func() bool {
		for _, p := range killedDL {
			if _, err := os.Stat(p); err == nil {
				return false
			}
		}
		return true
	})

	// A build killed with its outputs written as temp files.
	if !otKill(t, args(out, mirrors(repo)), []string{"VICROOT_TEST_PAUSE=0"}, "test pause before publish step 0") {
		t.Fatal("the build never paused before publishing")
	}
	killedOut := tmOutTemps(out)
	if len(killedOut) != 5 {
		t.Fatalf("the build killed before publishing left %v, want the ISO's and 4 sidecars' temp files", killedOut)
	}
	tmExist(t, "after a build killed before publishing", liveDL, true)

	// A build paused there, left running: it removes the killed build's
	// temp files in the out dir, and holds its own.
	l2 := tmStart(t, []string{"VICROOT_TEST_PAUSE=0"}, args(out, mirrors(repo))...)
	tmWait(t, "the second build's pause", l2, func() bool { return strings.Contains(l2.stderr(), "test pause before publish step 0") })
	tmExist(t, "after a build started in the out dir", killedOut, false)
	var liveOut []string
	for _, p := range tmOutTemps(out) {
		if !slices.Contains(killedOut, p) {
			liveOut = append(liveOut, p)
		}
	}
	if len(liveOut) != 5 {
		t.Fatalf("the paused build holds %v, want 5 temp files", liveOut)
	}
	tmExist(t, "while a stalled and a paused build run", liveDL, true)

	// A whole build on the same cache and out dir meanwhile succeeds and
	// leaves the live temp files alone.
	if stdout, stderr, err := vicroot(t, nil, args(out, mirrors(repo))...); err != nil {
		t.Fatalf("a build beside a stalled and a paused one: %v\n%s\n%s", err, stdout, stderr)
	}
	if got := otReadSet(t, out); len(got) != 5 {
		t.Errorf("the build wrote %d of its 5 outputs", len(got))
	}
	tmExist(t, "after a whole build", liveDL, true)
	tmExist(t, "after a whole build", liveOut, true)

	// Once they are killed, their temp files are stale: lock removes the
	// cache's, the next build the out dir's.
	l1.kill()
	l2.kill()
	tmExist(t, "after the kills", append(liveDL, liveOut...), true)
	lock := filepath.Join(t.TempDir(), "lock.json")
	if _, stderr, err := vicroot(t, nil, append([]string{"lock", "--repo", def, "--cache", cache, "-o", lock}, mirrors(repo)...)...); err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	tmExist(t, "after lock", liveDL, false)
	if stdout, stderr, err := vicroot(t, nil, args(out, mirrors(repo))...); err != nil {
		t.Fatalf("build: %v\n%s\n%s", err, stdout, stderr)
	}
	tmExist(t, "after the next build", liveOut, false)
	if left := tmOutTemps(out); len(left) > 0 {
		t.Errorf("temp files left in the out dir: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "tmp", "*")); len(left) > 0 {
		t.Errorf("temp files left in the cache: %v", left)
	}
	t.Logf("tally: 4 builds killed (kill -9), %d temp files they left removed by later runs, %d live temp files kept while their builds ran (a whole build beside them succeeded)",
		len(killedDL)+len(killedOut)+len(liveDL)+len(liveOut), len(liveDL)+len(liveOut))
}

// Nine builds on one cold cache at once, each removing stale temps as it
// starts while the others download into it: all succeed with the same
// ISO bytes, and no temp file is left in the cache.
func TestNineConcurrentBuildsShareCache(t *testing.T) {
	repo := testrepo.Dir(t)
	def := definition(t, repo, nil, plainInit)
	cache := filepath.Join(t.TempDir(), "cache")
	procs := make([]*exec.Cmd, 9)
	outs := make([]string, len(procs))
	logs := make([]strings.Builder, len(procs))
	for i := range procs {
		outs[i] = t.TempDir()
		args := append([]string{"build", "--repo", def, "--out", outs[i], "--bin", binDir, "--cache", cache, "--version", "v1.5.9-0-1234567", "--jobs", "2"}, mirrors(repo)...)
		procs[i] = exec.Command(vicrootBin, args...)
		procs[i].Stderr = &logs[i]
		if err := procs[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	var first []byte
	for i, p := range procs {
		if err := p.Wait(); err != nil {
			t.Errorf("build %d of 9: %v\n%s", i+1, err, logs[i].String())
			continue
		}
		iso, err := os.ReadFile(filepath.Join(outs[i], otISOName))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = iso
		} else if otSum(iso) != otSum(first) {
			t.Errorf("build %d: sha256 %s, build 1: %s", i+1, otSum(iso), otSum(first))
		}
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "tmp", "*")); len(left) > 0 {
		t.Errorf("temp files left in the cache: %v", left)
	}
}
