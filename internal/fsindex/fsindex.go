// Package fsindex is the read-only io/fs.FS the image readers (the cpio
// reader of package initramfs and the ISO reader of initramfs/iso) build
// from an archive's index: every entry's metadata in memory, regular
// files' contents read on demand from the archive through an io.ReaderAt.
// It implements fs.StatFS, fs.ReadDirFS and fs.ReadLinkFS; Open, Stat and
// ReadDir follow symlinks inside the tree (package fspath), Lstat and
// ReadLink do not. Owners and device numbers are the *fsmeta.Meta that
// FileInfo.Sys returns, as for the in-memory tree the writers read, so a
// tree read back can be written again.
package fsindex

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/fspath"
)

// Node is one entry of the tree.
type Node struct {
	Mode    fs.FileMode
	ModTime time.Time
	Meta    fsmeta.Meta
	// Size and Offset place a regular file's content in the FS's
	// io.ReaderAt.
	Size, Offset int64
	// Target is a symlink's target.
	Target string
	name   string
	kids   map[string]*Node
}

// FS is the tree.
type FS struct {
	ra   io.ReaderAt
	root *Node
}

// New returns a tree holding only its root directory, whose regular files'
// contents will be read from ra.
func New(ra io.ReaderAt, root Node) *FS {
	root.name = "."
	root.Mode = fs.ModeDir | root.Mode.Perm()
	root.kids = map[string]*Node{}
	return &FS{ra: ra, root: &root}
}

// Add puts n at name (an fs.FS name), replacing what was there (a directory
// replacing a directory keeps its entries). Missing parents are created as
// copies of parent (made a directory); a parent that is not a directory is
// an error.
func (f *FS) Add(name string, n Node, parent Node) error {
	if !fs.ValidPath(name) {
		return fmt.Errorf("%q is not a clean relative path", name)
	}
	if name == "." {
		if !n.Mode.IsDir() {
			return fmt.Errorf("the root is a %v, not a directory", n.Mode.Type())
		}
		kids := f.root.kids
		*f.root = n
		f.root.name, f.root.kids = ".", kids
		return nil
	}
	dir := f.root
	parts := strings.Split(name, "/")
	for i, c := range parts[:len(parts)-1] {
		next := dir.kids[c]
		if next == nil {
			p := parent
			p.Mode = fs.ModeDir | p.Mode.Perm()
			p.name, p.kids = c, map[string]*Node{}
			next = &p
			dir.kids[c] = next
		}
		if !next.Mode.IsDir() {
			return fmt.Errorf("%s: parent %s is a %v, not a directory", name, strings.Join(parts[:i+1], "/"), next.Mode.Type())
		}
		dir = next
	}
	base := parts[len(parts)-1]
	n.name = base
	n.kids = nil
	if old := dir.kids[base]; old != nil && old.Mode.IsDir() && n.Mode.IsDir() {
		n.kids = old.kids
	}
	if n.Mode.IsDir() && n.kids == nil {
		n.kids = map[string]*Node{}
	}
	dir.kids[base] = &n
	return nil
}

// Lookup returns the node at name, not following a final symlink, for
// the reader that built the tree to amend.
func (f *FS) Lookup(name string) (*Node, error) { return f.lookup("lookup", name) }

// lookup finds name without following symlinks.
func (f *FS) lookup(op, name string) (*Node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := f.root
	if name == "." {
		return n, nil
	}
	for c := range strings.SplitSeq(name, "/") {
		if !n.Mode.IsDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if n = n.kids[c]; n == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
	return n, nil
}

// follow finds name with its symlinks resolved inside the tree.
func (f *FS) follow(op, name string) (*Node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	r, err := fspath.Resolve(f, name, true)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &fs.PathError{Op: op, Path: name, Err: pe.Err}
		}
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return f.lookup(op, r.Name())
}

// Lstat returns the FileInfo of name without following a final symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

// Stat returns the FileInfo of name, following symlinks.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.follow("stat", name)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

// ReadLink returns the target of the symlink name.
func (f *FS) ReadLink(name string) (string, error) {
	n, err := f.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.Mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.Target, nil
}

// ReadDir lists the directory name, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.follow("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return entries(n), nil
}

func entries(n *Node) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.kids))
	for _, k := range n.kids {
		out = append(out, fs.FileInfoToDirEntry(info{k}))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// Open opens name, following symlinks. A regular file is an io.ReaderAt
// and io.Seeker as well; a directory an fs.ReadDirFile; other types can
// only be stat'ed.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.follow("open", name)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Mode.IsDir():
		return &dir{n: n}, nil
	case n.Mode.IsRegular():
		return &file{SectionReader: io.NewSectionReader(f.ra, n.Offset, n.Size), n: n}, nil
	}
	return &special{n: n}, nil
}

type info struct{ n *Node }

func (i info) Name() string       { return i.n.name }
func (i info) Size() int64        { return i.n.Size }
func (i info) Mode() fs.FileMode  { return i.n.Mode }
func (i info) ModTime() time.Time { return i.n.ModTime }
func (i info) IsDir() bool        { return i.n.Mode.IsDir() }
func (i info) Sys() any           { m := i.n.Meta; return &m }

type file struct {
	*io.SectionReader
	n *Node
}

func (f *file) Stat() (fs.FileInfo, error) { return info{f.n}, nil }
func (f *file) Close() error               { return nil }

type special struct{ n *Node }

func (s *special) Stat() (fs.FileInfo, error) { return info{s.n}, nil }

// Read reads nothing: a device node, FIFO or socket in an image has no
// content.
func (s *special) Read([]byte) (int, error) { return 0, io.EOF }
func (s *special) Close() error             { return nil }

type dir struct {
	n    *Node
	list []fs.DirEntry
	read bool
}

func (d *dir) Stat() (fs.FileInfo, error) { return info{d.n}, nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.n.name, Err: errors.New("is a directory")}
}
func (d *dir) Close() error { return nil }

// ReadDir reads the directory as fs.ReadDirFile specifies.
func (d *dir) ReadDir(count int) ([]fs.DirEntry, error) {
	if !d.read {
		d.list, d.read = entries(d.n), true
	}
	if count <= 0 {
		out := d.list
		d.list = nil
		return out, nil
	}
	if len(d.list) == 0 {
		return nil, io.EOF
	}
	k := min(count, len(d.list))
	out := d.list[:k:k]
	d.list = d.list[k:]
	return out, nil
}

// Clean turns an archive member's name ("./usr/bin", "/usr/bin/",
// "usr//bin") into an fs.FS name, or reports that it leaves the root.
func Clean(name string) (string, bool) {
	c := path.Clean("/" + name)
	if strings.Contains(name, "\x00") {
		return "", false
	}
	// A name with ".." that stays below the root is cleaned; one that
	// climbs above it is refused (path.Clean of "/"+name hides it).
	depth := 0
	for c := range strings.SplitSeq(name, "/") {
		switch c {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	return fspath.FSName(c), true
}
