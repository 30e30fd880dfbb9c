package rootfs_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
)

// A payload cache gives the same tree as decompressing, and a damaged
// entry is caught by the header digests, replaced, and never installed.
func TestPayloadCache(t *testing.T) {
	repo := testrepo.Dir(t)
	var files []rpminstall.RPMFile
	for _, n := range []string{"filesystem-1.1-1.ph2.x86_64.rpm", "glibc-2.36-1.ph2.x86_64.rpm", "bash-5.2.15-1.ph2.x86_64.rpm", "iproute2-6.1.0-1.ph2.x86_64.rpm"} {
		files = append(files, rpminstall.RPMFile{Path: filepath.Join(repo, "photon", n), Key: "sha256:" + n})
	}
	install := func(cache string) map[string]entry {
		t.Helper()
		tr := newRoot()
		if _, err := tr.Install(context.Background(), files, rpminstall.InstallOptions{PayloadCache: cache}); err != nil {
			t.Fatal(err)
		}
		return treeSnapshot(t, tr)
	}
	want := install("")
	cache := t.TempDir()
	if got := install(cache); !reflect.DeepEqual(got, want) {
		t.Fatal("first install with a payload cache differs from one without")
	}
	ents, err := os.ReadDir(cache)
	if err != nil || len(ents) != len(files) {
		t.Fatalf("cache holds %d entries, want %d (%v)", len(ents), len(files), err)
	}
	if got := install(cache); !reflect.DeepEqual(got, want) {
		t.Fatal("install from the payload cache differs")
	}
	// Damage glibc's cached payload in the middle of a file's content.
	p := filepath.Join(cache, "sha256-glibc-2.36-1.ph2.x86_64.rpm.cpio")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := install(cache); !reflect.DeepEqual(got, want) {
		t.Fatal("a damaged cache entry changed the tree")
	}
	fixed, err := os.ReadFile(p)
	if err != nil || reflect.DeepEqual(fixed, data) {
		t.Errorf("the damaged entry was not replaced (%v)", err)
	}
}
