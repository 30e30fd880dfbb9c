package rootfs

import (
	"bytes"
	"io"
	"io/fs"
)

// The interfaces the tree implements, checked at compile time.
var (
	_ fs.FS         = (*Tree)(nil)
	_ fs.StatFS     = (*Tree)(nil)
	_ fs.ReadDirFS  = (*Tree)(nil)
	_ fs.ReadFileFS = (*Tree)(nil)
	_ fs.ReadLinkFS = (*Tree)(nil)
	_ io.ReaderAt   = (*file)(nil)
)

// Open opens the named file for reading, following symlinks.
func (t *Tree) Open(name string) (fs.File, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.get("open", name, true)
	if err != nil {
		return nil, err
	}
	fi := n.info(baseName(name))
	switch {
	case n.mode.IsDir():
		return &dirFile{fi: fi, entries: n.dirEntries()}, nil
	case n.mode.IsRegular():
		if n.content != nil {
			return &file{fi: fi, ContentReader: t.reader(n.content.Content)}, nil
		}
		return &file{fi: fi, ContentReader: bytes.NewReader(nil)}, nil
	default:
		// Devices and fifos have no content here: reading gives EOF.
		return &file{fi: fi, ContentReader: bytes.NewReader(nil)}, nil
	}
}

// Stat returns the metadata of the named file, following symlinks.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.get("stat", name, true)
	if err != nil {
		return nil, err
	}
	return n.info(baseName(name)), nil
}

// Lstat returns the metadata of the named file without following a
// symlink in the last position.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.get("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return n.info(baseName(name)), nil
}

// ReadLink returns the target of the named symbolic link as stored.
func (t *Tree) ReadLink(name string) (string, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.get("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.target, nil
}

// ReadDir returns the entries of the named directory, sorted by name.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.get("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return n.dirEntries(), nil
}

// ReadFile returns the content of the named regular file.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.get("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	if n.content == nil {
		return []byte{}, nil
	}
	c := n.content.Content
	if c.src == nil {
		return bytes.Clone(c.data), nil
	}
	data := make([]byte, c.size)
	if _, err := t.reader(c).ReadAt(data, 0); err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return data, nil
}

// reader reads content as Content.Reader does, the small reads of a
// reference through the tree's read cache.
func (t *Tree) reader(c Content) ContentReader {
	if c.src != nil {
		return io.NewSectionReader(t.reads.readerAt(c.src, c.off+c.size), c.off, c.size)
	}
	return c.Reader()
}

func (n *inode) dirEntries() []fs.DirEntry {
	names := sortedNames(n.kids)
	out := make([]fs.DirEntry, len(names))
	for i, k := range names {
		out[i] = fs.FileInfoToDirEntry(n.kids[k].info(k))
	}
	return out
}

// file is an open regular file: its content as a reader that also
// serves ReadAt and Seek, from memory or from the referenced store.
type file struct {
	fi *fileInfo
	ContentReader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.fi, nil }
func (f *file) Close() error               { return nil }

type dirFile struct {
	fi      *fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.fi.name, Err: errIsDir}
}

// ReadDir reads the directory as fs.ReadDirFile specifies.
func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if count <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if count > len(rest) {
		count = len(rest)
	}
	d.off += count
	return rest[:count], nil
}
