package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vicroot/vicroot/rpmrepo"
)

// holdingServer serves the test repository over HTTP on 127.0.0.1, as a
// remote repository is served, except one file: held is sent only once the
// build's payload cache holds decoded packages (at least decoded of
// them), with its last byte flipped when corrupt is set. released says
// whether that happened before the server gave up waiting (a minute).
type holdingServer struct {
	*httptest.Server
	released atomic.Bool
}

func newHoldingServer(t *testing.T, repo, held, cache string, decoded int, corrupt bool) *holdingServer {
	t.Helper()
	s := &holdingServer{}
	files := http.FileServer(http.Dir(repo))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Base(r.URL.Path) != held {
			files.ServeHTTP(w, r)
			return
		}
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if m, _ := filepath.Glob(filepath.Join(cache, "payload", "*.cpio")); len(m) >= decoded {
				s.released.Store(true)
				break
			}
			if r.Context().Err() != nil {
				return
			}
		}
		data, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if corrupt {
			data[len(data)-1] ^= 0xff
		}
		http.ServeContent(w, r, held, time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

// overHTTP are opts building into a fresh output directory and cache,
// fetching from a holdingServer (newHoldingServer's held, decoded and
// corrupt) of the test repository.
func overHTTP(t *testing.T, opts Options, repo, held string, decoded int, corrupt bool) (Options, *holdingServer) {
	opts.CacheDir, opts.Out = t.TempDir(), t.TempDir()
	srv := newHoldingServer(t, repo, held, opts.CacheDir, decoded, corrupt)
	opts.Mirrors = map[string]string{"photon": srv.URL + "/photon/", "photon-updates": srv.URL + "/photon-updates/"}
	return opts, srv
}

// biggestPackage is the biggest package the bootstrap fetches (the
// kernel), the one whose decoding takes longest.
func biggestPackage(t *testing.T, opts Options) *rpmrepo.Package {
	t.Helper()
	pl, err := plan(context.Background(), mustOpen(t, opts), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	var big *rpmrepo.Package
	for _, p := range pl.fetch() {
		if big == nil || p.Size > big.Size {
			big = p
		}
	}
	return big
}

// Install decodes each package as soon as the fetch has verified it: an
// HTTP repository that holds the kernel back until other packages are
// decoded (their payloads in the cache) does not stall the build, and the
// ISO is byte for byte the one of a build from file://, where every file
// is there at once.
func TestDecodeOverlapsFetch(t *testing.T) {
	ctx := context.Background()
	opts, repo := testOptions(t)
	want, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	kernel := biggestPackage(t, opts)
	o, srv := overHTTP(t, opts, repo, path.Base(kernel.Location), 3, false)
	got, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !srv.released.Load() {
		t.Errorf("no 3 packages were decoded while %s was held back", kernel.NEVRA())
	}
	if got.SHA256 != want.SHA256 {
		t.Errorf("ISO over HTTP with %s last: sha256 %s, from file:// %s", kernel.NEVRA(), got.SHA256, want.SHA256)
	}
}

// A package that fails verification after others began decoding fails the
// build with the error a fetch alone gives (Lock's), naming it; nothing of
// it is decoded and no output is written.
func TestFetchFailsAfterDecodingBegan(t *testing.T) {
	ctx := context.Background()
	opts, repo := testOptions(t)
	kernel := biggestPackage(t, opts)

	o, srv := overHTTP(t, opts, repo, path.Base(kernel.Location), 3, true)
	_, err := Build(ctx, o)
	if err == nil {
		t.Fatal("the build took a corrupted package")
	}
	if !srv.released.Load() {
		t.Errorf("no 3 packages were decoded while %s was held back", kernel.NEVRA())
	}
	lo, lockSrv := overHTTP(t, opts, repo, path.Base(kernel.Location), 0, true)
	_, lerr := Lock(ctx, lo)
	if lerr == nil {
		t.Fatal("Lock took a corrupted package")
	}
	if strings.ReplaceAll(err.Error(), srv.URL, "URL") != strings.ReplaceAll(lerr.Error(), lockSrv.URL, "URL") {
		t.Errorf("build error:\n%v\nfetch alone (Lock):\n%v", err, lerr)
	}
	if !strings.HasPrefix(err.Error(), "fetch: ") || !strings.Contains(err.Error(), kernel.NEVRA()) {
		t.Errorf("error %v: want the fetch stage's, naming %s", err, kernel.NEVRA())
	}
	entry := filepath.Join(o.CacheDir, "payload", kernel.Checksum.Type+"-"+kernel.Checksum.Value+".cpio")
	if _, err := os.Stat(entry); err == nil {
		t.Errorf("%s was decoded into the payload cache", kernel.NEVRA())
	}
	if ents, _ := os.ReadDir(o.Out); len(ents) > 0 {
		t.Errorf("the failed build left %d files in the output directory, first %s", len(ents), ents[0].Name())
	}
}

// Offline with the metadata cached but no package, the build fails with
// one MissingError that lists every package of the plans, from every
// repository, each once: the background fetch does not stop at the first.
func TestOfflineListsEveryMissingPackage(t *testing.T) {
	ctx := context.Background()
	opts, _ := testOptions(t)
	opts.CacheDir, opts.Out = t.TempDir(), t.TempDir()
	if _, err := Resolve(ctx, opts, nil); err != nil { // caches the metadata only
		t.Fatal(err)
	}
	opts.Offline = true
	_, err := Build(ctx, opts)
	var me *rpmrepo.MissingError
	if !errors.As(err, &me) || !strings.HasPrefix(err.Error(), "fetch: ") {
		t.Fatalf("offline build without packages: %v, want fetch: and a MissingError", err)
	}
	pl, err := plan(ctx, mustOpen(t, opts), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, p := range union([]*plans{pl}) {
		want[fmt.Sprintf("%s: %s (%s)", p.Repo, p.Location, p.Checksum)] = true
	}
	got := map[string]bool{}
	for _, it := range me.Items {
		if got[it] || !want[it] {
			t.Errorf("listed twice or not a package of the plan: %s", it)
		}
		got[it] = true
	}
	for it := range want {
		if !got[it] {
			t.Errorf("not listed: %s", it)
		}
	}
	repos := map[string]bool{}
	for _, p := range union([]*plans{pl}) {
		repos[p.Repo] = true
	}
	if len(repos) < 2 {
		t.Errorf("the plan takes packages from %d repositories; the test wants them from several", len(repos))
	}
}
