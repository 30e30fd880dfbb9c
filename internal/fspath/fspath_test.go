package fspath_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/internal/fspath"
)

// The oracle is the kernel: each path is resolved by os.Stat/os.Lstat on
// the host inside a tree whose symlinks are all relative (so the host's
// answer is the tree's), and by Resolve on os.DirFS of the same tree.
func TestResolveMatchesKernel(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib/x"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/lib/x/f"), []byte("f"), 0o644))
	must(os.Symlink("usr/lib", filepath.Join(root, "lib")))
	must(os.Symlink("../lib/x", filepath.Join(root, "usr/x")))
	must(os.Symlink("f", filepath.Join(root, "usr/lib/x/g")))
	must(os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "loop2")))
	must(os.Symlink("missing", filepath.Join(root, "dangling")))
	fsys := os.DirFS(root)
	for _, p := range []string{"lib/x/f", "usr/x/g", "usr/x/../lib/x/g", "lib/", "lib", "usr/x/g/", "dangling", "loop1", "usr/lib/x/f/y", "nothere", ".", "/usr/../lib/x"} {
		for _, follow := range []bool{true, false} {
			host := root + "/" + p // not filepath.Join: it would clean "..", "/."
			var want os.FileInfo
			var werr error
			if follow {
				want, werr = os.Stat(host)
			} else {
				want, werr = os.Lstat(host)
			}
			got, err := fspath.Resolve(fsys, p, follow)
			if (werr == nil) != (err == nil) {
				t.Errorf("Resolve(%q, %v) = %v; the kernel says %v", p, follow, err, werr)
				continue
			}
			if err != nil {
				if errors.Is(werr, fs.ErrNotExist) && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fspath.ErrLoop) {
					t.Errorf("Resolve(%q, %v) = %v; want ErrNotExist", p, follow, err)
				}
				continue
			}
			if got.Info.Mode() != want.Mode() {
				t.Errorf("Resolve(%q, %v) = %s %v; the kernel says %s %v", p, follow, got.Path, got.Info.Mode(), want.Name(), want.Mode())
			}
			if !os.SameFile(mustLstat(t, filepath.Join(root, got.Path)), want) {
				t.Errorf("Resolve(%q, %v) = %s, not the file the kernel finds", p, follow, got.Path)
			}
		}
	}
	if _, err := fspath.Resolve(fsys, "loop1", true); !errors.Is(err, fspath.ErrLoop) {
		t.Errorf("loop: %v, want ErrLoop", err)
	}
	r, err := fspath.Resolve(fsys, "usr/x/g", true)
	if err != nil || r.Path != "/usr/lib/x/f" || len(r.Links) != 1 {
		t.Errorf("usr/x/g: %+v %v", r, err)
	}
}

func mustLstat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestAbsoluteTargetsStayInTheTree(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("tree"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "pw")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../etc", filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"pw", "up/passwd"} {
		r, err := fspath.Resolve(os.DirFS(root), p, true)
		if err != nil || r.Path != "/etc/passwd" {
			t.Errorf("%s: %+v %v, want /etc/passwd of the tree", p, r, err)
		}
	}
}
