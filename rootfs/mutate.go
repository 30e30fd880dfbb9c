package rootfs

import (
	"io/fs"
	"strings"
	"time"
)

// permBits are the mode bits Chmod may change.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// Mkdir creates the directory name, owned by root, with mode perm. Its
// parent must exist.
func (t *Tree) Mkdir(name string, perm fs.FileMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := t.mkdir("mkdir", name, perm)
	return err
}

func (t *Tree) mkdir(op, name string, perm fs.FileMode) (*inode, error) {
	d, base, n, err := t.parent(op, name)
	if err != nil {
		return nil, err
	}
	if n != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrExist}
	}
	c := t.newInode(fs.ModeDir | perm&permBits)
	t.attach(d, base, c)
	return c, nil
}

// attach links n into directory d under base.
func (t *Tree) attach(d *inode, base string, n *inode) {
	d.kids[base] = n
	n.nlink++
}

// MkdirAll creates name and any missing parents with mode perm, following
// symlinks to directories on the way, like os.MkdirAll.
func (t *Tree) MkdirAll(name string, perm fs.FileMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := t.mkdirAll("mkdir", name, perm)
	return err
}

func (t *Tree) mkdirAll(op, name string, perm fs.FileMode) (*inode, error) {
	if err := validName(op, name); err != nil {
		return nil, err
	}
	if name == "." {
		return t.root, nil
	}
	comps := strings.Split(name, "/")
	var cur *inode
	for i := range comps {
		prefix := strings.Join(comps[:i+1], "/")
		d, base, n, err := t.lookup(prefix, true)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: prefix, Err: err}
		}
		if n == nil {
			n = t.newInode(fs.ModeDir | perm&permBits)
			t.attach(d, base, n)
		} else if !n.mode.IsDir() {
			return nil, &fs.PathError{Op: op, Path: prefix, Err: errNotDir}
		}
		cur = n
	}
	return cur, nil
}

// WriteFile writes data to the named file, creating it with mode perm if
// needed (owned by root) and keeping the mode and owner of an existing one.
// A symlink in the last position is followed, as open(O_CREAT) does.
func (t *Tree) WriteFile(name string, data []byte, perm fs.FileMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writeFile("writefile", name, Bytes(append([]byte(nil), data...)), perm)
}

// WriteContent is WriteFile with content the caller has already hashed,
// which the tree takes as it is.
func (t *Tree) WriteContent(name string, c Content, perm fs.FileMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writeFile("writefile", name, c, perm)
}

func (t *Tree) writeFile(op, name string, c Content, perm fs.FileMode) error {
	if err := validName(op, name); err != nil {
		return err
	}
	d, base, n, err := t.lookup(name, true)
	if err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	if n == nil {
		if base == "." {
			return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
		}
		n = t.newInode(perm & permBits)
		t.attach(d, base, n)
	} else if !n.mode.IsRegular() {
		if n.mode.IsDir() {
			return &fs.PathError{Op: op, Path: name, Err: errIsDir}
		}
		// A device or fifo: writing to it changes nothing in the tree.
		return nil
	}
	old := n.content
	n.content = t.putContent(c)
	t.dropBlob(old)
	n.mtime = t.defTime
	return nil
}

// Symlink creates name as a symbolic link to target (stored verbatim).
func (t *Tree) Symlink(target, name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, base, n, err := t.parent("symlink", name)
	if err != nil {
		return err
	}
	if n != nil {
		return &fs.PathError{Op: "symlink", Path: name, Err: fs.ErrExist}
	}
	l := t.newInode(fs.ModeSymlink | 0o777)
	l.target = target
	t.attach(d, base, l)
	return nil
}

// Link makes newname a hard link to oldname (not following a symlink in
// oldname's last position, as link(2) on Linux). Directories cannot be
// linked.
func (t *Tree) Link(oldname, newname string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	src, err := t.get("link", oldname, false)
	if err != nil {
		return err
	}
	if src.mode.IsDir() {
		return &fs.PathError{Op: "link", Path: oldname, Err: errIsDir}
	}
	d, base, n, err := t.parent("link", newname)
	if err != nil {
		return err
	}
	if n != nil {
		return &fs.PathError{Op: "link", Path: newname, Err: fs.ErrExist}
	}
	t.attach(d, base, src)
	return nil
}

// Mknod creates a device node or fifo. mode holds the type
// (fs.ModeDevice, plus fs.ModeCharDevice for a character device, or
// fs.ModeNamedPipe) and the permissions.
func (t *Tree) Mknod(name string, mode fs.FileMode, major, minor uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	typ := mode.Type()
	if typ != fs.ModeDevice && typ != fs.ModeDevice|fs.ModeCharDevice && typ != fs.ModeNamedPipe {
		return &fs.PathError{Op: "mknod", Path: name, Err: fs.ErrInvalid}
	}
	d, base, n, err := t.parent("mknod", name)
	if err != nil {
		return err
	}
	if n != nil {
		return &fs.PathError{Op: "mknod", Path: name, Err: fs.ErrExist}
	}
	c := t.newInode(typ | mode&permBits)
	c.major, c.minor = major, minor
	t.attach(d, base, c)
	return nil
}

// Remove removes a file, symlink or empty directory.
func (t *Tree) Remove(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, base, n, err := t.parent("remove", name)
	if err != nil {
		return err
	}
	if n == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.mode.IsDir() && len(n.kids) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: errNotEmpty}
	}
	delete(d.kids, base)
	t.unlinked(n)
	return nil
}

// RemoveAll removes name and everything below it. A missing name is not
// an error, as with os.RemoveAll. A symlink is removed, not followed.
func (t *Tree) RemoveAll(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := validName("removeall", name); err != nil {
		return err
	}
	d, base, n, err := t.lookup(name, false)
	if err != nil || n == nil {
		return nil
	}
	if base == "." {
		// Removing the root empties it.
		for k, c := range n.kids {
			delete(n.kids, k)
			t.unlinked(c)
		}
		return nil
	}
	delete(d.kids, base)
	t.unlinked(n)
	return nil
}

// Rename moves oldname to newname, replacing a non-directory or an empty
// directory there, as rename(2) does.
func (t *Tree) Rename(oldname, newname string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	od, obase, on, err := t.parent("rename", oldname)
	if err != nil {
		return err
	}
	if on == nil {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	nd, nbase, nn, err := t.parent("rename", newname)
	if err != nil {
		return err
	}
	if nn == on {
		return nil
	}
	if on.mode.IsDir() && (nd == on || contains(on, nd)) {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrInvalid}
	}
	if nn != nil {
		switch {
		case nn.mode.IsDir() && !on.mode.IsDir():
			return &fs.PathError{Op: "rename", Path: newname, Err: errIsDir}
		case !nn.mode.IsDir() && on.mode.IsDir():
			return &fs.PathError{Op: "rename", Path: newname, Err: errNotDir}
		case nn.mode.IsDir() && len(nn.kids) > 0:
			return &fs.PathError{Op: "rename", Path: newname, Err: errNotEmpty}
		}
		delete(nd.kids, nbase)
		t.unlinked(nn)
	}
	delete(od.kids, obase)
	nd.kids[nbase] = on
	return nil
}

// contains reports whether dir d holds x somewhere below it.
func contains(d, x *inode) bool {
	for _, k := range d.kids {
		if k == x || (k.mode.IsDir() && contains(k, x)) {
			return true
		}
	}
	return false
}

// Chmod sets the permission bits (with setuid, setgid and sticky),
// following symlinks.
func (t *Tree) Chmod(name string, mode fs.FileMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.get("chmod", name, true)
	if err != nil {
		return err
	}
	n.mode = n.mode.Type() | mode&permBits
	return nil
}

// Chown sets the owner, following symlinks.
func (t *Tree) Chown(name string, uid, gid uint32) error {
	return t.chown("chown", name, uid, gid, true)
}

// Lchown sets the owner of a symlink itself (or of any other entry).
func (t *Tree) Lchown(name string, uid, gid uint32) error {
	return t.chown("lchown", name, uid, gid, false)
}

func (t *Tree) chown(op, name string, uid, gid uint32, follow bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.get(op, name, follow)
	if err != nil {
		return err
	}
	n.uid, n.gid = uid, gid
	return nil
}

// Chtimes sets the modification time, following symlinks.
func (t *Tree) Chtimes(name string, mtime time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.get("chtimes", name, true)
	if err != nil {
		return err
	}
	n.mtime = mtime.UTC()
	return nil
}

// SetCaps sets the raw security.capability attribute (nil removes it).
func (t *Tree) SetCaps(name string, caps []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.get("setcaps", name, true)
	if err != nil {
		return err
	}
	n.caps = append([]byte(nil), caps...)
	if caps == nil {
		n.caps = nil
	}
	return nil
}
