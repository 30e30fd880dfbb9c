// Package fspath resolves paths inside a tree given as an io/fs.FS whose
// symlinks are read with fs.ReadLink and fs.Lstat: an absolute target is
// relative to the tree's root, never the host's, and ".." stops at the root,
// as they do for a process chrooted into the tree. It is the one in-tree
// symlink resolver of vicroot's readers and tests.
package fspath

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// MaxLinks is how many symlinks one resolution may follow before it is
// called a loop (the kernel's and glibc's threshold is 40).
const MaxLinks = 40

// ErrLoop is returned (wrapped) when a resolution meets more than MaxLinks
// symlinks.
var ErrLoop = errors.New("too many levels of symbolic links")

// Resolved is the outcome of resolving one path.
type Resolved struct {
	// Path is the canonical path: absolute, clean, no symlink in any
	// component (the last one excepted when follow was not set).
	Path string
	// Info is Path's fs.Lstat.
	Info fs.FileInfo
	// Links are the symlinks met as the last component, in order.
	Links []string
}

// Name is Path as an fs.FS name ("." for the root).
func (r Resolved) Name() string { return FSName(r.Path) }

// FSName turns an absolute or relative slash-separated path into an fs.FS
// name: clean, without a leading slash, "." for the root.
func FSName(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// Resolve returns the canonical path of p (absolute, or relative to the
// root). Symlinks in directory components are always followed; the last
// component is followed when follow is set. A missing component, or a
// component below one that is not a directory, is an error wrapping
// fs.ErrNotExist.
func Resolve(fsys fs.FS, p string, follow bool) (Resolved, error) {
	var r Resolved
	todo := strings.Split(p, "/")
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
			r.Info = nil
			continue
		}
		next := path.Join(cur, c)
		fi, err := fs.Lstat(fsys, FSName(next))
		if err != nil {
			return r, fmt.Errorf("%s: %w", next, err)
		}
		last := len(todo) == 0 // "a/" and "a/." follow a, as Linux does
		if fi.Mode()&fs.ModeSymlink != 0 && (!last || follow) {
			if nlinks++; nlinks > MaxLinks {
				return r, fmt.Errorf("%s: %w", p, ErrLoop)
			}
			target, err := fs.ReadLink(fsys, FSName(next))
			if err != nil {
				return r, fmt.Errorf("%s: %w", next, err)
			}
			if last {
				r.Links = append(r.Links, next)
			}
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			todo = append(strings.Split(target, "/"), todo...)
			r.Info = nil
			continue
		}
		if !last && !fi.IsDir() {
			return r, fmt.Errorf("%s: not a directory: %w", next, fs.ErrNotExist)
		}
		cur = next
		r.Info = fi
	}
	if r.Info == nil {
		fi, err := fs.Lstat(fsys, FSName(cur))
		if err != nil {
			return r, fmt.Errorf("%s: %w", cur, err)
		}
		r.Info = fi
	}
	r.Path = cur
	return r, nil
}
