package rpmrepo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// faultServer is a real HTTP server on 127.0.0.1 serving dir, with faults
// injected per request: fault(path, n, rangeHeader) names what the n-th
// request (from 0) for path gets. A stalled handler holds until the client
// goes away or the test ends.
type faultServer struct {
	*httptest.Server
	dir   string
	fault func(path string, n int, rng string) string
	quit  chan struct{}

	mu     sync.Mutex
	count  map[string]int
	ranges []string
}

func newFaultServer(t *testing.T, dir string, fault func(string, int) string) *faultServer {
	if fault == nil {
		return newRangeFaultServer(t, dir, nil)
	}
	return newRangeFaultServer(t, dir, func(p string, n int, _ string) string { return fault(p, n) })
}

func newRangeFaultServer(t *testing.T, dir string, fault func(string, int, string) string) *faultServer {
	s := &faultServer{dir: dir, fault: fault, quit: make(chan struct{}), count: map[string]int{}}
	s.Server = httptest.NewServer(s)
	t.Cleanup(func() { close(s.quit); s.Close() })
	return s
}

func (s *faultServer) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.quit:
	}
}

func (s *faultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.count[r.URL.Path]
	s.count[r.URL.Path]++
	rng := r.Header.Get("Range")
	if rng != "" {
		s.ranges = append(s.ranges, r.URL.Path+" "+rng)
	}
	s.mu.Unlock()
	p := filepath.Join(s.dir, filepath.FromSlash(r.URL.Path))
	mode := ""
	if s.fault != nil {
		mode = s.fault(r.URL.Path, n, rng)
	}
	if stallFault(s, w, r, p, mode, rng) {
		return
	}
	switch mode {
	case "500":
		http.Error(w, "injected", http.StatusInternalServerError)
	case "404":
		http.NotFound(w, r)
	case "reset", "slow":
		b, err := os.ReadFile(p)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		if mode == "slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	case "corrupt":
		b, err := os.ReadFile(p)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		b[len(b)-1] ^= 0xff
		w.Write(b)
	default:
		http.ServeFile(w, r, p)
	}
}

func (s *faultServer) requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[path]
}

// smallRepo builds a repository of the createrepo_c test packages with
// real createrepo_c.
func smallRepo(t *testing.T) (dir string, rpms []string) {
	testrepo.NeedTools(t, "createrepo_c")
	fx := testrepo.Fixtures(t)
	pkgs, _ := filepath.Glob(filepath.Join(fx, "createrepo_c/packages/*.rpm"))
	dir = t.TempDir()
	for _, p := range pkgs {
		b, _ := os.ReadFile(p)
		writeFile(t, filepath.Join(dir, filepath.Base(p)), b)
		rpms = append(rpms, "/"+filepath.Base(p))
	}
	run(t, "createrepo_c", "--quiet", "--no-database", dir)
	return dir, rpms
}

func cacheFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestFetchFaults: each fault is survived or reported clearly, and nothing
// unverified enters the cache.
func TestFetchFaults(t *testing.T) {
	dir, rpms := smallRepo(t)
	victim := rpms[0]
	tests := []struct {
		name    string
		fault   func(string, int) string
		second  bool  // a second, healthy base URL follows the faulty one
		wantErr error // nil: survived
		check   func(t *testing.T, s *faultServer)
	}{
		{name: "500 twice", fault: func(p string, n int) string {
			if p == victim && n < 2 {
				return "500"
			}
			return ""
		}, check: func(t *testing.T, s *faultServer) {
			if s.requests(victim) != 3 {
				t.Errorf("%d requests, want 3", s.requests(victim))
			}
		}},
		{name: "500 always", fault: func(p string, n int) string {
			if p == victim {
				return "500"
			}
			return ""
		}}, // checked by name below: the error must name HTTP 500 and the file
		{name: "reset mid-body", fault: func(p string, n int) string {
			if p == victim && n == 0 {
				return "reset"
			}
			return ""
		}, check: func(t *testing.T, s *faultServer) {
			if len(s.ranges) == 0 {
				t.Errorf("no Range request after the reset")
			}
		}},
		{name: "slow body", fault: func(p string, n int) string {
			if p == victim && n == 0 {
				return "slow"
			}
			return ""
		}, check: func(t *testing.T, s *faultServer) {
			if len(s.ranges) == 0 {
				t.Errorf("no Range request after the timeout")
			}
		}},
		{name: "wrong checksum", fault: func(p string, n int) string {
			if p == victim {
				return "corrupt"
			}
			return ""
		}, wantErr: rpmrepo.ErrChecksum},
		{name: "wrong checksum, failover", fault: func(p string, n int) string {
			if p == victim {
				return "corrupt"
			}
			return ""
		}, second: true},
		{name: "missing file", fault: func(p string, n int) string {
			if p == victim {
				return "404"
			}
			return ""
		}, wantErr: rpmrepo.ErrNotFound, check: func(t *testing.T, s *faultServer) {
			if s.requests(victim) != 1 {
				t.Errorf("404 retried: %d requests", s.requests(victim))
			}
		}},
		{name: "missing file, failover", fault: func(p string, n int) string {
			if p == victim {
				return "404"
			}
			return ""
		}, second: true},
	}
	survived := 0
	for _, tc := range tests {
		ok := t.Run(tc.name, func(t *testing.T) {
			s := newFaultServer(t, dir, tc.fault)
			bases := []string{s.URL}
			if tc.second {
				bases = append(bases, newFaultServer(t, dir, nil).URL)
			}
			cfg := noGPG("faulty")
			cfg.BaseURLs = bases
			cache := &rpmrepo.Cache{Dir: t.TempDir()}
			ctx := context.Background()
			r, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: cache, Attempts: 3, RequestTimeout: 500 * time.Millisecond, Backoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			fetched, err := r.Fetch(ctx, r.Packages())
			want := tc.wantErr
			if tc.name == "500 always" {
				want = nil
				if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), victim) {
					t.Fatalf("error %v, want one naming HTTP 500 and %s", err, victim)
				}
				if s.requests(victim) != 3 {
					t.Errorf("%d requests, want 3 attempts", s.requests(victim))
				}
			} else if want == nil && err != nil {
				t.Fatalf("Fetch: %v", err)
			} else if want != nil && !errors.Is(err, want) {
				t.Fatalf("Fetch: error %v, want %v", err, want)
			}
			if err != nil {
				t.Logf("reported: %v", err)
			}
			// Every cached file verifies; the victim is cached only when
			// the fetch succeeded.
			for _, f := range fetched {
				if f.Path == "" {
					continue
				}
				if _, err := rpmrepo.VerifyRPMFile(f.Path, nil, false); err != nil {
					t.Errorf("cache holds a bad file: %v", err)
				}
			}
			for _, p := range cacheFiles(t, cache.Dir) {
				if strings.HasPrefix(p, filepath.Join(cache.Dir, "tmp")+string(filepath.Separator)) {
					t.Errorf("temporary file left in the cache: %s", p)
				}
			}
			ok := 0
			for _, p := range r.Packages() {
				if _, hit := cache.Lookup(p.Checksum, p.Size); hit {
					ok++
				}
			}
			if want := len(r.Packages()); tc.wantErr != nil || tc.name == "500 always" {
				want--
				if ok != want {
					t.Errorf("%d packages cached, want %d", ok, want)
				}
			} else if ok != want {
				t.Errorf("%d packages cached, want %d", ok, want)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
		if ok {
			survived++
		}
	}
	t.Logf("tally: %d HTTP faults played, %d survived (recovered, or failed naming the file; nothing unverified cached)", len(tests), survived)
}

// TestFetchOfflineMissing: offline mode lists exactly what is missing.
func TestFetchOfflineMissing(t *testing.T) {
	dir, _ := smallRepo(t)
	s := newFaultServer(t, dir, nil)
	cfg := noGPG("off")
	cfg.BaseURLs = []string{s.URL}
	cache := &rpmrepo.Cache{Dir: t.TempDir()}
	ctx := context.Background()
	if _, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, Offline: true}); !errors.Is(err, rpmrepo.ErrOffline) {
		t.Fatalf("offline with an empty cache: %v", err)
	}
	r, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	// Fetch only the first package online.
	if _, err := r.Fetch(ctx, r.Packages()[:1]); err != nil {
		t.Fatal(err)
	}
	before := s.requests("/" + r.Packages()[1].Location)
	ro, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: cache, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ro.Fetch(ctx, ro.Packages())
	var me *rpmrepo.MissingError
	if !errors.As(err, &me) || !errors.Is(err, rpmrepo.ErrOffline) {
		t.Fatalf("error %v, want a MissingError", err)
	}
	p := ro.Packages()[1]
	if len(me.Items) != 1 || !strings.Contains(me.Items[0], p.Location) || !strings.Contains(me.Items[0], p.Checksum.Value) {
		t.Errorf("missing %q, want exactly %s", me.Items, p.Location)
	}
	if s.requests("/"+p.Location) != before {
		t.Errorf("offline mode made a request")
	}
	// Filelists were never fetched: offline LoadFilelists names them.
	if err := ro.LoadFilelists(ctx); !errors.As(err, &me) || !strings.Contains(me.Items[0], "filelists") {
		t.Errorf("offline LoadFilelists: %v", err)
	}
}

// TestOpenTestRepoHTTP serves the real signed test repository over HTTP
// and file:// with repo_gpgcheck and gpgcheck on.
func TestOpenTestRepoHTTP(t *testing.T) {
	dir := testrepo.Dir(t)
	kr := readKeys(t, filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	s := newFaultServer(t, dir, nil)
	ctx := context.Background()
	for _, id := range []string{"photon", "photon-updates"} {
		for _, base := range []string{s.URL + "/" + id, "file://" + filepath.Join(dir, id)} {
			cfg := &rpmrepo.RepoConfig{ID: id, BaseURLs: []string{base}, Enabled: true, GPGCheck: true, RepoGPGCheck: true, Priority: 99, Cost: 1000}
			r, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, KeyRing: kr})
			if err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			if r.RepoMDSignature == nil || r.RepoMDSignature.Status != rpmrepo.SigOK {
				t.Errorf("%s: repomd signature %v", base, r.RepoMDSignature)
			}
			rpms, _ := filepath.Glob(filepath.Join(dir, id, "*.rpm"))
			if len(r.Packages()) != len(rpms) {
				t.Errorf("%s: %d packages, %d .rpm files", base, len(r.Packages()), len(rpms))
			}
			fetched, err := r.Fetch(ctx, r.Packages())
			if err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			for _, f := range fetched {
				if f.Verification.Fingerprint == "" {
					t.Errorf("%s: no fingerprint", f.Package)
				}
			}
		}
	}
	// repo_gpgcheck with the wrong key fails; a tampered repomd.xml fails.
	other := readKeys(t, filepath.Join(dir, "other-key.asc"))
	cfg := &rpmrepo.RepoConfig{ID: "photon", BaseURLs: []string{s.URL + "/photon"}, RepoGPGCheck: true, Priority: 99, Cost: 1000}
	if _, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, KeyRing: other}); !errors.Is(err, rpmrepo.ErrRepoSignature) {
		t.Errorf("repo_gpgcheck with another key: %v", err)
	}
	cfg = &rpmrepo.RepoConfig{ID: "badrepomd", BaseURLs: []string{s.URL + "/badrepomd"}, Priority: 99, Cost: 1000}
	if _, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}}); !errors.Is(err, rpmrepo.ErrChecksum) {
		t.Errorf("badrepomd: %v", err)
	}
}

// TestCacheSharedByConcurrentBuilds: nine "builds" (separate Open and
// Fetch on one cache directory) run at once, each removing stale temp
// files as it starts and between its steps, as every vicroot process
// does; all succeed (no live download is taken for stale) and every
// cached file verifies.
func TestCacheSharedByConcurrentBuilds(t *testing.T) {
	dir, _ := smallRepo(t)
	s := newFaultServer(t, dir, nil)
	cfg := noGPG("shared")
	cfg.BaseURLs = []string{s.URL}
	cache := &rpmrepo.Cache{Dir: t.TempDir()}
	var wg sync.WaitGroup
	errs := make([]error, 9)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cache.RemoveStale()
			var r *rpmrepo.Repo
			if err == nil {
				r, err = rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: cache, Concurrency: 2})
			}
			if err == nil {
				_, err = cache.RemoveStale()
			}
			if err == nil {
				_, err = r.Fetch(context.Background(), r.Packages())
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: cache, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Packages() {
		if _, ok := cache.Lookup(p.Checksum, p.Size); !ok {
			t.Errorf("%s not in the shared cache", p)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(cache.Dir, "tmp", "*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestCacheVerifiedBeforeUse: a cached file altered on disk is not used;
// it is fetched again.
func TestCacheVerifiedBeforeUse(t *testing.T) {
	dir, rpms := smallRepo(t)
	s := newFaultServer(t, dir, nil)
	cfg := noGPG("v")
	cfg.BaseURLs = []string{s.URL}
	cache := &rpmrepo.Cache{Dir: t.TempDir()}
	ctx := context.Background()
	r, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Fetch(ctx, r.Packages())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(got[0].Path)
	b[len(b)/2] ^= 1
	writeFile(t, got[0].Path, b)
	before := s.requests("/" + got[0].Package.Location)
	if _, err := r.Fetch(ctx, r.Packages()); err != nil {
		t.Fatal(err)
	}
	if s.requests("/"+got[0].Package.Location) != before+1 {
		t.Errorf("altered cache file was used (requests %d -> %d)", before, s.requests("/"+got[0].Package.Location))
	}
	if _, err := rpmrepo.VerifyRPMFile(got[0].Path, nil, false); err != nil {
		t.Errorf("after refetch: %v", err)
	}
	_ = rpms
}

// TestMirrorListAndMetalink: base URLs come from a mirror list or a
// metalink served over HTTP; a dead mirror is skipped.
func TestMirrorListAndMetalink(t *testing.T) {
	dir, _ := smallRepo(t)
	s := newFaultServer(t, dir, nil)
	lists := newFaultServer(t, t.TempDir(), nil)
	writeFile(t, filepath.Join(lists.dir, "mirrors"), []byte("# mirrors\nhttp://127.0.0.1:1/dead/\n"+s.URL+"/\n"))
	writeFile(t, filepath.Join(lists.dir, "metalink"), []byte(`<?xml version="1.0"?><metalink xmlns="http://www.metalinker.org/"><files><file name="repomd.xml"><resources>
<url protocol="http" type="http">http://127.0.0.1:1/dead/repodata/repomd.xml</url>
<url protocol="http" type="http">`+s.URL+`/repodata/repomd.xml</url></resources></file></files></metalink>`))
	for _, kind := range []string{"mirrorlist", "metalink"} {
		cfg := &rpmrepo.RepoConfig{ID: kind, Priority: 99, Cost: 1000}
		if kind == "mirrorlist" {
			cfg.MirrorList = lists.URL + "/mirrors"
		} else {
			cfg.Metalink = lists.URL + "/metalink"
		}
		cache := &rpmrepo.Cache{Dir: t.TempDir()}
		r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: cache, Attempts: 1})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if r.Base != s.URL+"/" || len(r.Packages()) != 2 {
			t.Errorf("%s: base %s, %d packages", kind, r.Base, len(r.Packages()))
		}
		// Offline, the mirror list is not fetched; the cache suffices.
		if r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: cache, Offline: true}); err != nil || len(r.Packages()) != 2 {
			t.Errorf("%s offline: %v", kind, err)
		}
	}
}

// TestProxyFromEnvironment: with no HTTPClient given, HTTP_PROXY is
// honoured. The repository's host does not resolve (.invalid), so only a
// request through the proxy (our server on 127.0.0.1) can succeed. It runs
// in a child process because net/http reads the proxy variables once.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("VICROOT_PROXY_CHILD") != "" {
		cfg := noGPG("proxied")
		cfg.BaseURLs = []string{"http://repo.vicroot.invalid/"}
		r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, Attempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Fetch(context.Background(), r.Packages()); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir, rpms := smallRepo(t)
	s := newFaultServer(t, dir, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VICROOT_PROXY_CHILD=1", "HTTP_PROXY="+s.URL, "http_proxy="+s.URL, "NO_PROXY=", "no_proxy=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if s.requests("/repodata/repomd.xml") != 1 || s.requests(rpms[0]) != 1 {
		t.Errorf("proxy saw repomd %d times, %s %d times", s.requests("/repodata/repomd.xml"), rpms[0], s.requests(rpms[0]))
	}
}

// TestFetchCallerContext: the caller's context bounds everything, even
// with a long per-request timeout and retries left.
func TestFetchCallerContext(t *testing.T) {
	dir, rpms := smallRepo(t)
	s := newFaultServer(t, dir, func(p string, n int) string {
		if p == rpms[0] {
			return "slow"
		}
		return ""
	})
	cfg := noGPG("ctx")
	cfg.BaseURLs = []string{s.URL}
	r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, RequestTimeout: time.Minute, Attempts: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// Without the caller's deadline this would wait out the slow body
	// (five seconds) ten times.
	_, err = r.Fetch(ctx, r.Packages())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
}

// TestFetchAllOneQueue: FetchAll works one queue across repositories, in
// the order given, so a package of the second repository listed first is
// requested first (a real server on 127.0.0.1 records the order of the
// requests, one download at a time); every package is handed to ready,
// verified; offline, the missing packages are listed repository by
// repository in the order of repos.
func TestFetchAllOneQueue(t *testing.T) {
	dir := testrepo.Dir(t)
	kr := readKeys(t, filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	var mu sync.Mutex
	var order []string
	files := http.FileServer(http.Dir(dir))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".rpm") {
			mu.Lock()
			order = append(order, r.URL.Path)
			mu.Unlock()
		}
		files.ServeHTTP(w, r)
	}))
	defer s.Close()
	ctx := context.Background()
	open := func(id string, cache *rpmrepo.Cache, offline bool) *rpmrepo.Repo {
		cfg := &rpmrepo.RepoConfig{ID: id, BaseURLs: []string{s.URL + "/" + id}, Enabled: true, GPGCheck: true, Priority: 99, Cost: 1000}
		r, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: cache, KeyRing: kr, Concurrency: 1, Offline: offline})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cache := &rpmrepo.Cache{Dir: t.TempDir()}
	base, updates := open("photon", cache, false), open("photon-updates", cache, false)
	var pkgs []*rpmrepo.Package
	var want []string
	// photon-updates' package between two of photon's: fetching
	// repository by repository would ask for it last.
	for _, p := range []*rpmrepo.Package{base.Packages()[0], updates.Packages()[0], base.Packages()[1]} {
		pkgs = append(pkgs, p)
		want = append(want, "/"+p.Repo+"/"+p.Location)
	}
	var ready sync.Map
	got, err := rpmrepo.FetchAll(ctx, []*rpmrepo.Repo{base, updates}, pkgs, func(f rpmrepo.Fetched) { ready.Store(f.Package, f) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, want) {
		t.Errorf("requests in the order\n%q\nwant the order given\n%q", order, want)
	}
	for i, f := range got {
		if f.Package != pkgs[i] || f.Path == "" || f.Verification == nil || f.Verification.Fingerprint == "" {
			t.Errorf("result %d: %+v, want %s fetched and verified", i, f, pkgs[i])
		}
		if _, ok := ready.Load(pkgs[i]); !ok {
			t.Errorf("%s never handed to ready", pkgs[i])
		}
	}

	// Offline with an empty package cache: one MissingError, photon's
	// packages first (the order of repos), each repository's sorted.
	empty := &rpmrepo.Cache{Dir: t.TempDir()}
	for _, f := range []string{"photon", "photon-updates"} {
		open(f, empty, false) // metadata only
	}
	base, updates = open("photon", empty, true), open("photon-updates", empty, true)
	_, err = rpmrepo.FetchAll(ctx, []*rpmrepo.Repo{base, updates}, []*rpmrepo.Package{updates.Packages()[0], base.Packages()[1], base.Packages()[0]}, nil)
	var me *rpmrepo.MissingError
	if !errors.As(err, &me) || len(me.Items) != 3 {
		t.Fatalf("offline: %v, want a MissingError of 3 packages", err)
	}
	if !strings.HasPrefix(me.Items[0], "photon: ") || !strings.HasPrefix(me.Items[1], "photon: ") || !strings.HasPrefix(me.Items[2], "photon-updates: ") || me.Items[0] > me.Items[1] {
		t.Errorf("offline: missing %q, want photon's two (sorted) then photon-updates'", me.Items)
	}

	// A package of a repository not given is refused, naming it.
	if _, err := rpmrepo.FetchAll(ctx, []*rpmrepo.Repo{base}, []*rpmrepo.Package{updates.Packages()[0]}, nil); err == nil || !strings.Contains(err.Error(), "photon-updates") {
		t.Errorf("a package of another repository: %v", err)
	}
}
