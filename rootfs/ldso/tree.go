package ldso

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// maxLinks is how many symlinks one path resolution may follow before it is
// called a loop (the kernel's and glibc's __eloop_threshold are 40).
const maxLinks = 40

// ErrLoop is returned (wrapped) when resolving a path meets too many symlinks.
var ErrLoop = errors.New("too many levels of symbolic links")

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
func rel(p string) string {
	if p == "/" || p == "" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

func (t tree) lstat(p string) (fs.FileInfo, error) {
	return fs.Lstat(t.fsys, rel(p))
}

func (t tree) readlink(p string) (string, error) {
	return fs.ReadLink(t.fsys, rel(p))
}

// resolved is the outcome of resolving one path.
type resolved struct {
	path  string      // canonical path: no symlink in any component
	info  fs.FileInfo // of path (never a symlink when follow was set)
	links []string    // locations of the symlinks met as the last component, in order
}

// resolve returns the canonical path of p (absolute or relative to "/").
// Symlinks in directory components are always followed; the last component
// is followed when follow is set. A missing component is an error wrapping
// fs.ErrNotExist.
func (t tree) resolve(p string, follow bool) (resolved, error) {
	var r resolved
	todo := splitPath(p)
	cur := "/"
	nlinks := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := t.lstat(next)
		if err != nil {
			return r, fmt.Errorf("%s: %w", next, err)
		}
		last := len(todo) == 0
		if fi.Mode()&fs.ModeSymlink != 0 && (!last || follow) {
			nlinks++
			if nlinks > maxLinks {
				return r, fmt.Errorf("%s: %w", p, ErrLoop)
			}
			target, err := t.readlink(next)
			if err != nil {
				return r, fmt.Errorf("%s: %w", next, err)
			}
			if last {
				r.links = append(r.links, next)
			}
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		if !last && !fi.IsDir() {
			return r, fmt.Errorf("%s: not a directory: %w", next, fs.ErrNotExist)
		}
		cur = next
		r.info = fi
	}
	if r.info == nil { // p was the root
		fi, err := t.lstat("/")
		if err != nil {
			return r, fmt.Errorf("/: %w", err)
		}
		r.info = fi
	}
	r.path = cur
	return r, nil
}

func splitPath(p string) []string {
	return strings.Split(p, "/")
}

// canon is resolve with the last component followed, returning only the path.
func (t tree) canon(p string) (string, fs.FileInfo, error) {
	r, err := t.resolve(p, true)
	return r.path, r.info, err
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
