package rpminstall

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/fsmeta"
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

// FuzzCacheIndex: any index file is refused or describes the package's
// files within the archive; none panics.
func FuzzCacheIndex(f *testing.F) {
	dir := f.TempDir()
	archive := filepath.Join(dir, "p.cpio")
	if err := os.WriteFile(archive, make([]byte, 4096), 0o644); err != nil {
		f.Fatal(err)
	}
	newPkg := func() *decodedRPM {
		return &decodedRPM{files: []hdrFile{
			{path: "/a", mode: fsmeta.S_IFREG | 0o644, size: 100},
			{path: "/d", mode: fsmeta.S_IFDIR | 0o755},
			{path: "/b", mode: fsmeta.S_IFREG | 0o644, size: 0},
			{path: "/g", mode: fsmeta.S_IFREG | 0o644, size: 5, flags: fileGhost},
		}}
	}
	fh, err := os.Open(archive)
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	d := newPkg()
	d.files[0].coff, d.files[0].got = 112, 100
	d.files[2].sum = emptySHA256
	idx := filepath.Join(dir, "p.idx")
	if err := d.writeIndex(idx, fh); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(idx)
	if err != nil {
		f.Fatal(err)
	}
	id, err := fileid.OfFile(fh)
	if err != nil {
		f.Fatal(err)
	}
	if err := newPkg().useIndex(seed, fh, id); err != nil {
		f.Fatalf("the index just written is refused: %v", err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := newPkg()
		if d.useIndex(data, fh, id) != nil {
			return
		}
		for _, h := range d.files {
			if indexable(&h) && (h.got != h.size || h.coff < 0 || h.coff+h.got > 4096) {
				t.Fatalf("%s: accepted entry at %d, %d bytes (header %d) in a 4096-byte archive", h.path, h.coff, h.got, h.size)
			}
		}
	})
}
