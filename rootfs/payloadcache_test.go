package rootfs_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/internal/treesnap"
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
	install := func(cache string) map[string]treesnap.Entry { return installCached(t, files, cache) }
	want := install("")
	cache := t.TempDir()
	if got := install(cache); !reflect.DeepEqual(got, want) {
		t.Fatal("first install with a payload cache differs from one without")
	}
	ents, err := filepath.Glob(filepath.Join(cache, "*.cpio"))
	if err != nil || len(ents) != len(files) {
		t.Fatalf("cache holds %d payloads, want %d (%v)", len(ents), len(files), err)
	}
	if idx, _ := filepath.Glob(filepath.Join(cache, "*.cpio.idx")); len(idx) != len(files) {
		t.Fatalf("cache holds %d indexes, want %d", len(idx), len(files))
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

// installCached installs files on a new root through the payload cache
// (none when cache is "") and returns the tree.
func installCached(t *testing.T, files []rpminstall.RPMFile, cache string) map[string]treesnap.Entry {
	t.Helper()
	tr := newRoot()
	if _, err := tr.Install(context.Background(), files, rpminstall.InstallOptions{PayloadCache: cache}); err != nil {
		t.Fatal(err)
	}
	return treesnap.FS(t, tr.Tree)
}

// A warm install takes the files by reference through each cached
// payload's index, without reading the payload; every way a cache entry
// can be damaged cheaply detectable — a truncated or grown payload, a
// damaged or truncated index, an index beside another package's payload,
// a payload rewritten in place — falls back to reading the payload in
// full (and a fresh decode when that fails too): the tree is always the
// one a cache-less install makes, and the entry is whole again after.
func TestPayloadCacheIndexDamaged(t *testing.T) {
	repo := testrepo.Dir(t)
	names := []string{"filesystem-1.1-1.ph2.x86_64.rpm", "glibc-2.36-1.ph2.x86_64.rpm", "bash-5.2.15-1.ph2.x86_64.rpm"}
	var files []rpminstall.RPMFile
	for _, n := range names {
		files = append(files, rpminstall.RPMFile{Path: filepath.Join(repo, "photon", n), Key: "sha256:" + n})
	}
	install := func(cache string) map[string]treesnap.Entry { return installCached(t, files, cache) }
	want := install("")
	entry := func(cache, n string) string { return filepath.Join(cache, "sha256-"+n+".cpio") }
	edit := func(p string, f func([]byte) []byte) {
		t.Helper()
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(cache string)
	}{
		{"none", func(string) {}},
		{"payload truncated", func(c string) {
			edit(entry(c, names[1]), func(b []byte) []byte { return b[:len(b)-1000] })
		}},
		{"payload grown", func(c string) {
			edit(entry(c, names[1]), func(b []byte) []byte { return append(b, make([]byte, 512)...) })
		}},
		{"payload rewritten in place", func(c string) {
			edit(entry(c, names[1]), func(b []byte) []byte { b[len(b)/3] ^= 0x55; return b })
		}},
		{"index damaged", func(c string) {
			edit(entry(c, names[1])+".idx", func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}},
		{"index truncated", func(c string) {
			edit(entry(c, names[2])+".idx", func(b []byte) []byte { return b[:len(b)/2] })
		}},
		{"payload and index of another package", func(c string) {
			for _, ext := range []string{"", ".idx"} {
				data, err := os.ReadFile(entry(c, names[2]) + ext)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(entry(c, names[1])+ext, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			if got := install(cache); !reflect.DeepEqual(got, want) {
				t.Fatal("install filling the cache differs")
			}
			if got := install(cache); !reflect.DeepEqual(got, want) {
				t.Fatal("install through the indexes differs")
			}
			tc.damage(cache)
			if got := install(cache); !reflect.DeepEqual(got, want) {
				t.Fatal("install from the damaged cache differs")
			}
			// Whole again: indexed and right.
			for _, n := range names {
				if _, err := os.Stat(entry(cache, n) + ".idx"); err != nil {
					t.Errorf("%s: no index after the install: %v", n, err)
				}
			}
			if got := install(cache); !reflect.DeepEqual(got, want) {
				t.Fatal("install from the repaired cache differs")
			}
		})
	}
}
