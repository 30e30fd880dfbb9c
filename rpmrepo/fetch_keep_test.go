package rpmrepo_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// TestFetchKeepsPackageOnOpenFailure: a cached, stamped package whose
// check cannot open it (a child process as another user, the package
// readable by root only: the stamp vouches for it by its identity, then
// the open fails) fails the fetch with the operating system's error, not
// a refusal, and stays in the cache with its stamp; the next fetch uses
// it. Oracle: sha256sum of the entry.
func TestFetchKeepsPackageOnOpenFailure(t *testing.T) {
	if os.Getenv("VICROOT_TEST_FETCH_KEEP") != "" {
		fetchUnreadable(t)
		return
	}
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "sha256sum")
	repo := testrepo.Dir(t)
	cacheDir, err := os.MkdirTemp("", "vicroot-keep-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cacheDir) })
	r := openKeepRepo(t, repo, cacheDir, false)
	pkg := r.Packages()[0]
	got, err := r.Fetch(context.Background(), []*rpmrepo.Package{pkg})
	if err != nil {
		t.Fatal(err)
	}
	p := got[0].Path
	if _, err := os.Stat(p + rpmrepo.StampSuffix); err != nil {
		t.Fatalf("no stamp after a verified fetch: %v", err)
	}
	// The cache is open to the child's user (it may remove the package, as
	// a refusal would), but for reading the package.
	if err := filepath.WalkDir(cacheDir, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o777 // the child could remove the package
		}
		return os.Chmod(q, mode)
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	// chmod changed the package's identity: a fetch verifies it in full
	// again and stamps it as it is now.
	if _, err := openKeepRepo(t, repo, cacheDir, true).Fetch(context.Background(), []*rpmrepo.Package{pkg}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFetchKeepsPackageOnOpenFailure$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "VICROOT_TEST_FETCH_KEEP="+cacheDir, "VICROOT_TEST_FETCH_REPO="+repo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	out, err := exec.Command("sha256sum", p).Output()
	if err != nil {
		t.Fatalf("the package is gone after a check that could not open it: %v", err)
	}
	if sum := strings.Fields(string(out))[0]; sum != pkg.Checksum.Value {
		t.Fatalf("sha256sum %s = %s, want %s", p, sum, pkg.Checksum.Value)
	}
	if _, err := os.Stat(p + rpmrepo.StampSuffix); err != nil {
		t.Errorf("the stamp is gone: %v", err)
	}
	// Offline, the kept package is found and verifies.
	if _, err := openKeepRepo(t, repo, cacheDir, true).Fetch(context.Background(), []*rpmrepo.Package{pkg}); err != nil {
		t.Errorf("offline fetch of the kept package: %v", err)
	}
}

func openKeepRepo(t *testing.T, repo, cacheDir string, offline bool) *rpmrepo.Repo {
	t.Helper()
	kr := readKeys(t, filepath.Join(repo, "RPM-GPG-KEY-vicroot-test"))
	cfg := &rpmrepo.RepoConfig{ID: "photon", BaseURLs: []string{"file://" + filepath.Join(repo, "photon")}, Enabled: true, GPGCheck: true, Priority: 99, Cost: 1000}
	r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: cacheDir}, KeyRing: kr, Offline: offline})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fetchUnreadable is the child: it reads the key and opens the
// repository offline, becomes user nobody, then fetches the package that
// only root may read.
func fetchUnreadable(t *testing.T) {
	r := openKeepRepo(t, os.Getenv("VICROOT_TEST_FETCH_REPO"), os.Getenv("VICROOT_TEST_FETCH_KEEP"), true)
	pkg := r.Packages()[0]
	if err := syscall.Setgid(65534); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setuid(65534); err != nil {
		t.Fatal(err)
	}
	_, err := r.Fetch(context.Background(), []*rpmrepo.Package{pkg})
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("fetch of a package it may not read: %v, want an error saying so", err)
	}
	if errors.Is(err, rpmrepo.ErrOffline) {
		t.Fatalf("fetch of a package it may not read: %v, reported as missing", err)
	}
	t.Logf("reported: %v", err)
}
