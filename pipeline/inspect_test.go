package pipeline_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/pipeline"
	"github.com/vicroot/vicroot/rootfs"
)

// Inspect reads an initramfs that GNU cpio and gzip made (as VIC makes
// core.gz) and lists exactly the tree on disk, hardlinks included.
func TestInspectGNUCpioArchive(t *testing.T) {
	testrepo.NeedTools(t, "cpio", "gzip", "sh")
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "usr/bin/tool"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.Link(filepath.Join(dir, "usr/bin/tool"), filepath.Join(dir, "usr/bin/tool2")))
	must(os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	must(os.Chmod(filepath.Join(dir, "usr"), 0o750))
	arch := filepath.Join(t.TempDir(), "core.gz")
	cmd := exec.Command("sh", "-c", "find . | cpio -o -H newc --quiet | gzip --fast > "+arch)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f, err := os.Open(arch)
	must(err)
	defer f.Close()
	fi, err := f.Stat()
	must(err)
	entries, err := pipeline.Inspect(context.Background(), f, fi.Size(), "core.gz")
	must(err)
	got := map[string]bool{}
	for _, e := range entries {
		got[e.Path] = true
		p := filepath.Join(dir, e.Path)
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s listed but not in the tree: %v", e.Path, err)
			continue
		}
		if st.Mode() != e.Mode {
			t.Errorf("%s: mode %v, tree has %v", e.Path, e.Mode, st.Mode())
		}
		switch {
		case st.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			if e.Size != int64(len(b)) || e.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: size %d sha %s, tree has %d %x", e.Path, e.Size, e.SHA256, len(b), sum)
			}
		case st.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			if e.Link != l {
				t.Errorf("%s: link %q, tree has %q", e.Path, e.Link, l)
			}
		}
	}
	for _, p := range []string{".", "usr", "usr/bin", "usr/bin/tool", "usr/bin/tool2", "bin", "empty"} {
		if !got[p] {
			t.Errorf("%s missing from the manifest", p)
		}
	}
}

func TestInspectRejectsGarbage(t *testing.T) {
	f := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(f, []byte("this is not an archive at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := os.Open(f)
	defer r.Close()
	if _, err := pipeline.Inspect(context.Background(), r, 29, "junk"); err == nil {
		t.Fatal("garbage accepted")
	}
}

// InspectRPMDB of an initramfs whose /var/lib/rpm holds no database is
// nil; one whose database is damaged is an error naming the image and the
// file.
func TestInspectRPMDBDamaged(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   map[string]string // path: content; "" with a trailing slash is a directory
		wantErr string            // "" for no database and no error
	}{
		{"no /var/lib/rpm", map[string]string{"etc/": ""}, ""},
		{"empty /var/lib/rpm", map[string]string{"var/lib/rpm/": ""}, ""},
		{"damaged Packages", map[string]string{"var/lib/rpm/Packages": "not a Berkeley DB"}, "/var/lib/rpm: Packages: "},
		{"damaged rpmdb.sqlite", map[string]string{"var/lib/rpm/rpmdb.sqlite": "SQLite format 3\x00 and then nothing"}, "/var/lib/rpm: rpmdb.sqlite: "},
		{"/var/lib/rpm a file", map[string]string{"var/lib/rpm": "x"}, "/var/lib/rpm is not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := rootfs.New()
			for p, data := range c.files {
				dir, isDir := strings.CutSuffix(p, "/")
				if !isDir {
					dir = path.Dir(p)
				}
				if err := tr.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if !isDir {
					if err := tr.WriteFile(p, []byte(data), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			var core bytes.Buffer
			if err := initramfs.Write(context.Background(), &core, tr, initramfs.Gzip, initramfs.Options{}); err != nil {
				t.Fatal(err)
			}
			db, err := pipeline.InspectRPMDB(context.Background(), bytes.NewReader(core.Bytes()), int64(core.Len()), "core.gz")
			if c.wantErr == "" {
				if db != nil || err != nil {
					t.Fatalf("%+v, %v; want no database", db, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "core.gz") || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("%+v, %v; want an error naming core.gz and %q", db, err, c.wantErr)
			}
		})
	}
}
