package ldso

import (
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vicroot/vicroot/internal/fspath"
)

// ErrLoop is returned (wrapped) when resolving a path meets too many
// symlinks (fspath.MaxLinks, the kernel's and glibc's threshold).
var ErrLoop = fspath.ErrLoop

// tree gives path operations on an fs.FS with absolute, slash-separated
// paths ("/usr/lib") whose symlinks are resolved inside the tree.
type tree struct {
	fsys fs.FS
}

func newTree(fsys fs.FS) (tree, error) {
	if _, ok := fsys.(fs.ReadLinkFS); !ok {
		return tree{}, fmt.Errorf("ldso: %T does not implement fs.ReadLinkFS", fsys)
	}
	return tree{fsys: fsys}, nil
}

// rel turns an absolute clean path into an fs.FS name.
func rel(p string) string { return fspath.FSName(p) }

func (t tree) lstat(p string) (fs.FileInfo, error) {
	return fs.Lstat(t.fsys, rel(p))
}

// resolve returns the canonical path of p (absolute or relative to "/"),
// resolved inside the tree by the one in-tree resolver; the last
// component is followed when follow is set.
func (t tree) resolve(p string, follow bool) (fspath.Resolved, error) {
	return fspath.Resolve(t.fsys, p, follow)
}

// canon is resolve with the last component followed, returning only the path.
func (t tree) canon(p string) (string, fs.FileInfo, error) {
	r, err := t.resolve(p, true)
	return r.Path, r.Info, err
}

// readDir lists a canonical directory, sorted by name.
func (t tree) readDir(canonical string) ([]fs.DirEntry, error) {
	return fs.ReadDir(t.fsys, rel(canonical))
}

// open opens a canonical path for reading and returns a ReaderAt over it
// with its size. Files that are not io.ReaderAt are read whole.
func (t tree) open(canonical string) (io.ReaderAt, int64, func() error, error) {
	f, err := t.fsys.Open(rel(canonical))
	if err != nil {
		return nil, 0, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, nil, fmt.Errorf("%s: not a regular file", canonical)
	}
	if ra, ok := f.(io.ReaderAt); ok {
		return ra, fi.Size(), f.Close, nil
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, 0, nil, err
	}
	return strings.NewReader(string(b)), int64(len(b)), func() error { return nil }, nil
}
