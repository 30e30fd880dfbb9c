package rootfs

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/fspath"
)

// maxSymlinks bounds symlink expansion in one lookup, as Linux's ELOOP
// does: the bound internal/fspath resolves with.
const maxSymlinks = fspath.MaxLinks

// Tree is an in-memory root filesystem. All names are slash-separated and
// relative to the tree's root, in the form io/fs.ValidPath accepts ("." is
// the root, "etc/passwd" a file). Symbolic links are resolved inside the
// tree: an absolute target starts again at the tree's root and ".." never
// climbs above it, so no name can reach outside.
//
// A Tree is safe for concurrent use; readers see a consistent snapshot of
// each entry (file contents are immutable byte slices, replaced on write).
type Tree struct {
	mu      sync.RWMutex
	root    *inode
	blobs   map[[sha256.Size]byte]*blob
	nextIno uint64
	// defTime is the mtime given to entries the tree creates without one.
	defTime time.Time
	// reads serves small reads of content held by reference.
	reads readCache
}

// blob is file content stored once per SHA-256 digest.
type blob struct {
	Content
	refs int
}

// inode is one file; directory entries point at it (several for hardlinks).
type inode struct {
	ino   uint64
	mode  fs.FileMode // type bits and permissions (with setuid, setgid, sticky)
	uid   uint32
	gid   uint32
	mtime time.Time
	caps  []byte
	pkg   string // NEVRA of the owning package
	nlink uint32

	content *blob             // regular files
	target  string            // symlinks
	major   uint32            // devices
	minor   uint32            //
	kids    map[string]*inode // directories
}

// New returns an empty tree: a root directory, mode 0755, owned by root.
func New() *Tree {
	t := &Tree{blobs: map[[sha256.Size]byte]*blob{}}
	t.defTime = time.Unix(0, 0).UTC()
	t.root = t.newInode(fs.ModeDir | 0o755)
	t.root.kids = map[string]*inode{}
	return t
}

// SetDefaultTime sets the mtime of entries created without an explicit
// time (by hooks and emulated scriptlets), normally SOURCE_DATE_EPOCH.
func (t *Tree) SetDefaultTime(tm time.Time) {
	t.mu.Lock()
	t.defTime = tm.UTC()
	t.mu.Unlock()
}

func (t *Tree) newInode(mode fs.FileMode) *inode {
	t.nextIno++
	n := &inode{ino: t.nextIno, mode: mode, mtime: t.defTime}
	if mode.IsDir() {
		n.kids = map[string]*inode{}
	}
	return n
}

// putContent stores c once per digest and returns the shared blob.
func (t *Tree) putContent(c Content) *blob {
	if b, ok := t.blobs[c.sum]; ok {
		b.refs++
		return b
	}
	b := &blob{Content: c, refs: 1}
	t.blobs[c.sum] = b
	return b
}

func (t *Tree) dropBlob(b *blob) {
	if b == nil {
		return
	}
	b.refs--
	if b.refs <= 0 {
		delete(t.blobs, b.sum)
	}
}

// unlinked is called when a directory entry naming n goes away.
func (t *Tree) unlinked(n *inode) {
	n.nlink--
	if n.nlink > 0 {
		return
	}
	if n.content != nil {
		t.dropBlob(n.content)
		n.content = nil
	}
	for _, k := range n.kids {
		t.unlinked(k)
	}
}

var (
	errLoop     = fspath.ErrLoop
	errNotDir   = errors.New("not a directory")
	errIsDir    = errors.New("is a directory")
	errNotEmpty = errors.New("directory not empty")
)

// validName checks a tree name: io/fs.ValidPath form.
func validName(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

// lookup resolves name. It returns the directory holding the final
// component, the final component's name (after following symlinks in
// earlier components), and the node itself (nil when absent). With follow,
// a symlink in the last position is followed too. The root resolves to
// (root, ".", root).
func (t *Tree) lookup(name string, follow bool) (dir *inode, base string, n *inode, err error) {
	l, err := t.lookupPath(name, follow)
	return l.dir, l.base, l.n, err
}

// loc is a resolved name: the directory holding it, that directory's
// canonical path in the tree ("." for the root), the last component and
// the node (nil when absent).
type loc struct {
	dir     *inode
	dirPath string
	base    string
	n       *inode
}

// path returns the canonical tree path of the located entry.
func (l loc) path() string {
	if l.base == "." {
		return l.dirPath
	}
	if l.dirPath == "." {
		return l.base
	}
	return l.dirPath + "/" + l.base
}

func (t *Tree) lookupPath(name string, follow bool) (loc, error) {
	if name == "." {
		return loc{t.root, ".", ".", t.root}, nil
	}
	comps := strings.Split(name, "/")
	stack := []*inode{t.root} // directories walked so far; ".." pops
	names := []string{}       // their names below the root
	links := 0
	here := func() loc {
		p := "."
		if len(names) > 0 {
			p = strings.Join(names, "/")
		}
		return loc{dir: stack[len(stack)-1], dirPath: p}
	}
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		cur := stack[len(stack)-1]
		switch c {
		case "", ".":
			if len(comps) == 0 {
				l := here()
				l.base, l.n = ".", cur
				return l, nil
			}
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
				names = names[:len(names)-1]
			}
			if len(comps) == 0 {
				l := here()
				l.base, l.n = ".", l.dir
				return l, nil
			}
			continue
		}
		child := cur.kids[c]
		last := len(comps) == 0
		if child == nil {
			if last {
				l := here()
				l.base = c
				return l, nil
			}
			return loc{}, fs.ErrNotExist
		}
		if child.mode&fs.ModeSymlink != 0 && (!last || follow) {
			links++
			if links > maxSymlinks {
				return loc{}, errLoop
			}
			tc := strings.Split(child.target, "/")
			if strings.HasPrefix(child.target, "/") {
				stack, names = stack[:1], names[:0]
			}
			comps = append(tc, comps...)
			continue
		}
		if last {
			l := here()
			l.base, l.n = c, child
			return l, nil
		}
		if !child.mode.IsDir() {
			return loc{}, errNotDir
		}
		stack = append(stack, child)
		names = append(names, c)
	}
	// Only reached when a symlink target ended in "/" or was empty.
	l := here()
	l.base, l.n = ".", l.dir
	return l, nil
}

// get resolves name to an existing node.
func (t *Tree) get(op, name string, follow bool) (*inode, error) {
	if err := validName(op, name); err != nil {
		return nil, err
	}
	_, _, n, err := t.lookup(name, follow)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if n == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// parent resolves the directory that will hold name's last component,
// following symlinks in the earlier components only.
func (t *Tree) parent(op, name string) (*inode, string, *inode, error) {
	if err := validName(op, name); err != nil {
		return nil, "", nil, err
	}
	if name == "." {
		return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	d, base, n, err := t.lookup(name, false)
	if err != nil {
		return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if base == "." {
		return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return d, base, n, nil
}

func (n *inode) meta() *fsmeta.Meta {
	m := &fsmeta.Meta{
		UID: n.uid, GID: n.gid, Major: n.major, Minor: n.minor,
		Inode: n.ino, Nlink: n.nlink, Package: n.pkg,
	}
	if n.caps != nil {
		m.Caps = append([]byte(nil), n.caps...)
	}
	if n.content != nil {
		m.SHA256 = append([]byte(nil), n.content.sum[:]...)
	}
	return m
}

// fileInfo is a snapshot of one entry's metadata.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	meta  *fsmeta.Meta
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return fi.meta }

func (n *inode) info(name string) *fileInfo {
	fi := &fileInfo{name: name, mode: n.mode, mtime: n.mtime, meta: n.meta()}
	switch {
	case n.mode.IsRegular() && n.content != nil:
		fi.size = n.content.Size()
	case n.mode&fs.ModeSymlink != 0:
		fi.size = int64(len(n.target))
	}
	return fi
}

func baseName(name string) string {
	if name == "." {
		return "."
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func sortedNames(m map[string]*inode) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
