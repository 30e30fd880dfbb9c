package rpminstall

import (
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// TestCacheIndexByReference: once a package's payload is in the cache and
// indexed, decoding it again holds no content in memory: every regular
// file with content is a reference into the cached payload, with the
// digest the first, full decode verified.
func TestCacheIndexByReference(t *testing.T) {
	repo := testrepo.Dir(t)
	f := RPMFile{Path: filepath.Join(repo, "photon", "glibc-2.36-1.ph2.x86_64.rpm"), Key: "sha256:glibc"}
	cache := t.TempDir()
	first, err := decodeFile(f, cache, "")
	if err != nil {
		t.Fatal(err)
	}
	again, err := decodeFile(f, cache, "")
	if err != nil {
		t.Fatal(err)
	}
	refs := 0
	for i := range again.files {
		a, b := &first.files[i], &again.files[i]
		if a.sum != b.sum || a.got != b.got {
			t.Errorf("%s: indexed digest or size differs from the decoded one", a.path)
		}
		if b.got > 0 {
			if b.data != nil || b.ref == nil {
				t.Errorf("%s: content not taken by reference", b.path)
			}
			refs++
		}
	}
	if refs < 10 {
		t.Errorf("%d files by reference, want glibc's files", refs)
	}
}
