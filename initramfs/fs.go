package initramfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/vicroot/vicroot/internal/fsindex"
	"github.com/vicroot/vicroot/internal/fsmeta"
)

// MaxArchiveSize bounds the uncompressed archive OpenFS reads (a
// decompression bomb fails here instead of filling the disk).
const MaxArchiveSize = 16 << 30

// FS is a newc archive read as a tree: an fs.FS that also implements
// fs.StatFS, fs.ReadDirFS and fs.ReadLinkFS, the tree the kernel unpacks
// from it. Names lose their "./"; a later record of a name replaces an
// earlier one, as the kernel's unpacker does; directories missing from the
// archive appear as root's 0755 ones; every link of a hardlink set has the
// content (newc writers store it on one record only). FileInfo.Sys()
// returns owners, device numbers and hardlink sets as the writers take
// them, so the tree can be packed again. Regular files are read from the
// archive when opened; metadata is held in memory.
type FS struct {
	tree  *fsindex.FS
	close func() error
}

var _ interface {
	fs.StatFS
	fs.ReadDirFS
	fs.ReadLinkFS
} = (*FS)(nil)

// Open opens name, following symlinks inside the tree (fs.FS). A regular
// file is also an io.ReaderAt and io.Seeker.
func (f *FS) Open(name string) (fs.File, error) { return f.tree.Open(name) }

// Stat returns the FileInfo of name, following symlinks (fs.StatFS).
func (f *FS) Stat(name string) (fs.FileInfo, error) { return f.tree.Stat(name) }

// Lstat returns the FileInfo of name itself (fs.ReadLinkFS).
func (f *FS) Lstat(name string) (fs.FileInfo, error) { return f.tree.Lstat(name) }

// ReadLink returns the target of the symlink name (fs.ReadLinkFS).
func (f *FS) ReadLink(name string) (string, error) { return f.tree.ReadLink(name) }

// ReadDir lists the directory name, sorted by name (fs.ReadDirFS).
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) { return f.tree.ReadDir(name) }

// Close releases the archive (and the temporary file holding a
// decompressed one).
func (f *FS) Close() error {
	if f.close == nil {
		return nil
	}
	err := f.close()
	f.close = nil
	return err
}

// OpenFS reads the archive in ra (size bytes, compressed as Decompress
// detects or not) as an FS. An uncompressed archive is read in place; a
// compressed one is decompressed into an unlinked temporary file. A
// malformed or truncated archive is an error that says where.
func OpenFS(ctx context.Context, ra io.ReaderAt, size int64) (*FS, error) {
	var magic [6]byte
	if n, _ := ra.ReadAt(magic[:], 0); n < len(magic) {
		return nil, fmt.Errorf("initramfs: %d bytes, too short for an archive", size)
	}
	if bytes.HasPrefix(magic[:], []byte("0707")) {
		t, err := index(ctx, ra, size)
		if err != nil {
			return nil, err
		}
		return &FS{tree: t}, nil
	}
	dr, c, err := Decompress(io.NewSectionReader(ra, 0, size))
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	tmp, err := os.CreateTemp("", "vicroot-initramfs-*")
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	os.Remove(tmp.Name()) // nothing is left behind, whatever happens
	n, err := io.Copy(tmp, &ctxReader{ctx, io.LimitReader(dr, MaxArchiveSize+1)})
	if err == nil && n > MaxArchiveSize {
		err = fmt.Errorf("more than %d bytes uncompressed", int64(MaxArchiveSize))
	}
	if err != nil {
		tmp.Close()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w (the %v stream is cut short)", err, c)
		}
		return nil, fmt.Errorf("initramfs: decompressing %v: %w", c, err)
	}
	t, err := index(ctx, tmp, n)
	if err != nil {
		tmp.Close()
		return nil, err
	}
	return &FS{tree: t, close: tmp.Close}, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type linkKey struct{ major, minor, ino uint32 }

// index reads every record of the uncompressed archive in ra.
func index(ctx context.Context, ra io.ReaderAt, size int64) (*fsindex.FS, error) {
	dirDefault := fsindex.Node{Mode: fs.ModeDir | 0o755, ModTime: time.Unix(0, 0).UTC(), Meta: fsmeta.Meta{Nlink: 1}}
	t := fsindex.New(ra, dirDefault)
	cr := NewReader(io.NewSectionReader(ra, 0, size))
	type link struct {
		names        []string
		size, offset int64
		data         bool
	}
	links := map[linkKey]*link{}
	var order []linkKey
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		dataOff := cr.Offset()
		if h.Size > 0 && dataOff+h.Size > size {
			return nil, fmt.Errorf("initramfs: newc record at offset %d: %s: %d bytes of content run past the end of the %d-byte archive (it is cut short)", h.Offset, h.Name, h.Size, size)
		}
		name, ok := fsindex.Clean(h.Name)
		if !ok {
			return nil, fmt.Errorf("initramfs: newc record at offset %d: name %q leaves the archive's root", h.Offset, h.Name)
		}
		mode := h.FileMode()
		if mode&fs.ModeIrregular != 0 {
			return nil, fmt.Errorf("initramfs: newc record at offset %d: %s: unknown file type in mode %#o", h.Offset, h.Name, h.Mode)
		}
		n := fsindex.Node{Mode: mode, ModTime: h.ModTime(), Size: h.Size, Offset: dataOff,
			Meta: fsmeta.Meta{UID: h.UID, GID: h.GID, Major: h.RDevMajor, Minor: h.RDevMinor, Nlink: 1}}
		switch {
		case mode&fs.ModeSymlink != 0:
			if h.Size > MaxLinkTarget {
				return nil, fmt.Errorf("initramfs: newc record at offset %d: %s: symlink target of %d bytes, more than %d", h.Offset, h.Name, h.Size, MaxLinkTarget)
			}
			b, err := io.ReadAll(cr)
			if err != nil {
				return nil, fmt.Errorf("initramfs: %s: %w", h.Name, err)
			}
			n.Target = string(b)
		case mode.IsRegular():
			if h.NLink > 1 {
				k := linkKey{h.DevMajor, h.DevMinor, h.Ino}
				l := links[k]
				if l == nil {
					l = &link{}
					links[k] = l
					order = append(order, k)
				}
				l.names = append(l.names, name)
				if h.Size > 0 || !l.data {
					l.size, l.offset, l.data = h.Size, dataOff, h.Size > 0
				}
			}
		default:
			n.Size = 0
			if h.Size != 0 && !mode.IsDir() {
				return nil, fmt.Errorf("initramfs: newc record at offset %d: %s: a %v with %d bytes of content", h.Offset, h.Name, mode.Type(), h.Size)
			}
		}
		if err := t.Add(name, n, dirDefault); err != nil {
			return nil, fmt.Errorf("initramfs: newc record at offset %d: %w", h.Offset, err)
		}
	}
	// Every link of a set gets the content and the set's identity.
	for i, k := range order {
		l := links[k]
		for _, name := range l.names {
			n, err := t.Lookup(name)
			if err != nil || !n.Mode.IsRegular() {
				continue // replaced by a later record
			}
			n.Size, n.Offset = l.size, l.offset
			n.Meta.Inode, n.Meta.Nlink = uint64(i+1), uint32(len(l.names))
		}
	}
	return t, nil
}
