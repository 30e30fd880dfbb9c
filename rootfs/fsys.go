package rootfs

import (
	"crypto/sha256"
	"io/fs"
	"time"
)

// FS is the writable filesystem with metadata that the RPM installer, the
// hook shell and the system-configuration emulation work through (apko's
// FullFS is the model). Names are io/fs names relative to the root;
// symlinks resolve inside the filesystem. A *Tree implements it.
type FS interface {
	fs.StatFS
	fs.ReadDirFS
	fs.ReadFileFS
	fs.ReadLinkFS // ReadLink and Lstat

	// Mkdir, MkdirAll, WriteFile, Symlink, Link, Mknod, Remove,
	// RemoveAll and Rename behave as their os namesakes do inside the
	// tree; new entries are owned by root and get DefaultTime.
	Mkdir(name string, perm fs.FileMode) error
	MkdirAll(name string, perm fs.FileMode) error
	WriteFile(name string, data []byte, perm fs.FileMode) error
	// WriteContent is WriteFile with content already hashed.
	WriteContent(name string, c Content, perm fs.FileMode) error
	Symlink(target, name string) error
	Link(oldname, newname string) error
	Mknod(name string, mode fs.FileMode, major, minor uint32) error
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error

	// Chmod, Chown and Chtimes follow a symlink in the last position;
	// Lchown and Lchtimes change the entry itself.
	Chmod(name string, mode fs.FileMode) error
	Chown(name string, uid, gid uint32) error
	Lchown(name string, uid, gid uint32) error
	Chtimes(name string, mtime time.Time) error
	Lchtimes(name string, mtime time.Time) error
	// SetCaps sets the security.capability attribute (nil removes it),
	// following symlinks; SetPackage records the NEVRA of the package
	// that owns the entry itself (fsmeta.Meta.Package).
	SetCaps(name string, caps []byte) error
	SetPackage(name, nevra string) error

	// Realpath is the canonical name of name: every symlink in it
	// resolved inside the tree (the last one only with follow). The
	// last component need not exist.
	Realpath(name string, follow bool) (string, error)
	// DefaultTime is the mtime new entries get (SOURCE_DATE_EPOCH).
	DefaultTime() time.Time
}

var _ FS = (*Tree)(nil)

// Content is the data of a regular file with its SHA-256, which the tree
// stores once per digest.
type Content struct {
	data []byte
	sum  [sha256.Size]byte
}

// Bytes is content held in memory; the tree takes ownership of data.
func Bytes(data []byte) Content {
	return Content{data: data, sum: sha256.Sum256(data)}
}

// BytesSum is Bytes for data whose SHA-256 the caller has computed.
func BytesSum(data []byte, sum [sha256.Size]byte) Content {
	return Content{data: data, sum: sum}
}

// Size is the content's length in bytes.
func (c Content) Size() int64 { return int64(len(c.data)) }

// SHA256 is the content's digest.
func (c Content) SHA256() [sha256.Size]byte { return c.sum }

// DefaultTime returns the mtime given to entries created without one.
func (t *Tree) DefaultTime() time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.defTime
}

// Realpath returns the canonical tree name of name, with the symlinks in
// its directories resolved (and in its last component too with follow).
// The last component need not exist; a missing directory on the way is
// an error.
func (t *Tree) Realpath(name string, follow bool) (string, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if err := validName("realpath", name); err != nil {
		return "", err
	}
	l, err := t.lookupPath(name, follow)
	if err != nil {
		return "", &fs.PathError{Op: "realpath", Path: name, Err: err}
	}
	return l.path(), nil
}

// Lchtimes sets the modification time of the entry itself.
func (t *Tree) Lchtimes(name string, mtime time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.get("lchtimes", name, false)
	if err != nil {
		return err
	}
	n.mtime = mtime.UTC()
	return nil
}

// SetPackage records nevra as the package owning the entry itself.
func (t *Tree) SetPackage(name, nevra string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.get("setpackage", name, false)
	if err != nil {
		return err
	}
	n.pkg = nevra
	return nil
}
