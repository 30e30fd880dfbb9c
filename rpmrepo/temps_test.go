package rpmrepo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// Issue 14, defect 5: a package that fails verification never stays in
// the cache's content store. The signed test repository is fetched with
// gpgcheck on and a key ring holding only another key (rpm -K is the
// oracle for the signatures in TestVerifyTestRepo): nothing enters
// sha256/, and the copies a gpgcheck=0 fetch stored there are removed when
// a fetch with the other key refuses them.
func TestRefusedPackagesLeaveTheCache(t *testing.T) {
	dir := testrepo.Dir(t)
	other := readKeys(t, filepath.Join(dir, "other-key.asc"))
	ctx := context.Background()
	cache := &rpmrepo.Cache{Dir: t.TempDir()}
	base := "file://" + filepath.Join(dir, "photon")
	open := func(gpgcheck bool) *rpmrepo.Repo {
		t.Helper()
		cfg := &rpmrepo.RepoConfig{ID: "photon", BaseURLs: []string{base}, Enabled: true, GPGCheck: gpgcheck, Priority: 99, Cost: 1000}
		r, err := rpmrepo.Open(ctx, cfg, rpmrepo.Options{Cache: cache, KeyRing: other})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cached := func(r *rpmrepo.Repo) int {
		n := 0
		for _, p := range r.Packages() {
			if _, err := os.Stat(cache.Path(p.Checksum)); err == nil {
				n++
			}
		}
		return n
	}
	r := open(true)
	pkgs := r.Packages()[:3]
	got, err := r.Fetch(ctx, pkgs)
	if !errors.Is(err, rpmrepo.ErrNoKey) {
		t.Fatalf("fetch with another key: %v, want ErrNoKey", err)
	}
	for _, f := range got {
		if f.Path != "" {
			t.Errorf("%s: refused, but its path %s is returned", f.Package, f.Path)
		}
		if f.Verification == nil {
			t.Errorf("%s: refused without its verification (check reports the key)", f.Package)
		}
	}
	if n := cached(r); n != 0 {
		t.Errorf("%d refused packages entered the cache", n)
	}
	// gpgcheck=0 stores them (digests verified); the other key then
	// refuses the cached copies, which go.
	if _, err := open(false).Fetch(ctx, pkgs); err != nil {
		t.Fatal(err)
	}
	if n := cached(r); n != len(pkgs) {
		t.Fatalf("%d of %d packages cached by a gpgcheck=0 fetch", n, len(pkgs))
	}
	if _, err := open(true).Fetch(ctx, pkgs); !errors.Is(err, rpmrepo.ErrNoKey) {
		t.Fatalf("fetch of cached copies with another key: %v, want ErrNoKey", err)
	}
	if n := cached(r); n != 0 {
		t.Errorf("%d refused packages stayed in the cache", n)
	}
	if left, _ := filepath.Glob(filepath.Join(cache.Dir, "tmp", "*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	t.Logf("tally: %d packages refused (no key) on download and %d cached copies refused: %d stayed in the cache", len(pkgs), len(pkgs), cached(r))
}

// RemoveStale removes what a killed writer left in the cache (a download
// temp, an atomicfile temp of the repomd store, a verify folder) and
// nothing a live writer holds.
func TestCacheRemoveStale(t *testing.T) {
	cache := &rpmrepo.Cache{Dir: t.TempDir()}
	for _, p := range []string{"tmp/dl-123", "repomd/.abc.tmp456", "payload/ab/.x.tmp7", "sha256/ab/abcd"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(cache.Dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(cache.Dir, p), []byte("left"))
	}
	if err := os.MkdirAll(filepath.Join(cache.Dir, "tmp/verify-9/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	live, err := cache.TempDir("verify-*")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	removed, err := cache.RemoveStale()
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 4 {
		t.Errorf("removed %v, want the 4 stale temps", removed)
	}
	for _, p := range []string{"tmp/dl-123", "repomd/.abc.tmp456", "payload/ab/.x.tmp7", "tmp/verify-9"} {
		if _, err := os.Stat(filepath.Join(cache.Dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want it removed", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(cache.Dir, "sha256/ab/abcd")); err != nil {
		t.Errorf("a cached file: %v", err)
	}
	if _, err := os.Stat(live.Path); err != nil {
		t.Errorf("a live verify folder: %v", err)
	}
}
