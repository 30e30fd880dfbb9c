package initramfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/vicroot/vicroot/initramfs/internal/treemeta"
	"github.com/vicroot/vicroot/initramfs/internal/wcount"
	"github.com/vicroot/vicroot/internal/fsmeta"
)

// Options control WriteCPIO.
type Options struct {
	// Epoch is SOURCE_DATE_EPOCH: later modification times are clamped to
	// it. The zero value keeps the tree's times.
	Epoch time.Time
}

// maxNewcSize is the largest file a newc header can describe.
const maxNewcSize = 1<<32 - 1

// WriteCPIO writes fsys as a cpio newc archive to w, uncompressed.
//
// Entries come in the order of a depth-first walk with each directory's
// entries sorted by name, every directory before its contents, named as GNU
// cpio names them after `cd root && find`: "." and then "bin", "bin/sh".
// Inode numbers count up from 1 in archive order. A hardlink set shares one
// inode number; as GNU cpio does, its records are written together when the
// last link is reached, with the content on the last one only (the kernel
// links the earlier names and then fills the file). The archive is streamed:
// only names and hardlink bookkeeping are held in memory.
//
// Owners, device numbers and hardlinks come from the *fsmeta.Meta of each
// FileInfo, or from the host's stat data for trees on disk. File
// capabilities (fsmeta.Meta.Caps) cannot be stored: newc has no extended
// attributes, and the kernel's unpacker sets none.
func WriteCPIO(ctx context.Context, w io.Writer, fsys fs.FS, opts Options) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := &wcount.Writer{W: bw}
	p := &packer{
		ctx:   ctx,
		fsys:  fsys,
		opts:  opts,
		rw:    cpio.Newc.Writer(cw),
		links: map[treemeta.LinkID]*linkSet{},
	}
	root, err := fs.Stat(fsys, ".")
	if err != nil {
		return fmt.Errorf("initramfs: stat tree root: %w", err)
	}
	if !root.IsDir() {
		return fmt.Errorf("initramfs: tree root is not a directory (mode %v)", root.Mode())
	}
	if err := p.dir(".", root); err != nil {
		return err
	}
	// Sets whose other links are outside the tree (possible only for trees
	// on disk) are written at the end, in the order they were first seen.
	for _, s := range p.order {
		if !s.done {
			if err := p.flushLinks(s); err != nil {
				return err
			}
		}
	}
	if err := cpio.WriteTrailer(p.rw); err != nil {
		return fmt.Errorf("initramfs: write trailer: %w", err)
	}
	// GNU cpio pads the archive to its 512-byte block size; do the same so
	// the two are interchangeable for tools that expect whole blocks.
	if pad := (512 - cw.N%512) % 512; pad != 0 {
		if _, err := cw.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("initramfs: write padding: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("initramfs: write: %w", err)
	}
	return nil
}

type packer struct {
	ctx   context.Context
	fsys  fs.FS
	opts  Options
	rw    cpio.RecordWriter
	ino   uint64
	links map[treemeta.LinkID]*linkSet
	order []*linkSet
}

// linkSet collects the names of one hardlink set until its last link.
type linkSet struct {
	ino   uint64
	want  uint32
	infos []cpio.Info
	done  bool
}

func (p *packer) nextIno() uint64 {
	p.ino++
	return p.ino
}

func (p *packer) info(name string, e treemeta.Entry) cpio.Info {
	return cpio.Info{
		Name:   name,
		Mode:   uint64(fsmeta.UnixMode(e.Mode)),
		UID:    uint64(e.UID),
		GID:    uint64(e.GID),
		NLink:  1,
		MTime:  uint64(treemeta.Clamp(e.ModTime, p.opts.Epoch).Unix()),
		Rmajor: uint64(e.RMajor),
		Rminor: uint64(e.RMinor),
	}
}

func (p *packer) dir(name string, fi fs.FileInfo) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	ents, err := fs.ReadDir(p.fsys, name)
	if err != nil {
		return fmt.Errorf("initramfs: read directory %s: %w", name, err)
	}
	info := p.info(name, treemeta.Of(fi))
	info.Ino = p.nextIno()
	info.NLink = 2
	for _, d := range ents {
		if d.IsDir() {
			info.NLink++
		}
	}
	if err := p.rw.WriteRecord(cpio.Record{Info: info}); err != nil {
		return fmt.Errorf("initramfs: write %s: %w", name, err)
	}
	for _, d := range ents {
		child := d.Name()
		if name != "." {
			child = path.Join(name, child)
		}
		cfi, err := d.Info()
		if err != nil {
			return fmt.Errorf("initramfs: stat %s: %w", child, err)
		}
		if cfi.IsDir() {
			err = p.dir(child, cfi)
		} else {
			err = p.entry(child, cfi)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *packer) entry(name string, fi fs.FileInfo) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	e := treemeta.Of(fi)
	info := p.info(name, e)
	switch t := e.Mode.Type(); {
	case t == 0:
		if e.Size > maxNewcSize {
			return fmt.Errorf("initramfs: %s: %d bytes is more than a newc record holds (4 GiB - 1)", name, e.Size)
		}
		info.FileSize = uint64(e.Size)
		if e.Link != (treemeta.LinkID{}) {
			return p.addLink(e, info)
		}
		info.Ino = p.nextIno()
		return p.writeFile(info)
	case t == fs.ModeSymlink:
		target, err := fs.ReadLink(p.fsys, name)
		if err != nil {
			return fmt.Errorf("initramfs: read symlink %s: %w", name, err)
		}
		info.Ino = p.nextIno()
		rec := cpio.StaticRecord([]byte(target), info)
		if err := p.rw.WriteRecord(rec); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", name, err)
		}
		return nil
	case t&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 && t&fs.ModeIrregular == 0:
		info.Ino = p.nextIno()
		if err := p.rw.WriteRecord(cpio.Record{Info: info}); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", name, err)
		}
		return nil
	default:
		return fmt.Errorf("initramfs: %s: unsupported file type %v", name, e.Mode)
	}
}

func (p *packer) addLink(e treemeta.Entry, info cpio.Info) error {
	s := p.links[e.Link]
	if s == nil {
		s = &linkSet{ino: p.nextIno(), want: e.Nlink}
		p.links[e.Link] = s
		p.order = append(p.order, s)
	}
	if s.done {
		return fmt.Errorf("initramfs: %s: hardlink set already has its %d links", info.Name, s.want)
	}
	if len(s.infos) > 0 && s.infos[0].FileSize != info.FileSize {
		return fmt.Errorf("initramfs: %s: hardlink of %s with a different size (%d, want %d)", info.Name, s.infos[0].Name, info.FileSize, s.infos[0].FileSize)
	}
	info.Ino = s.ino
	s.infos = append(s.infos, info)
	if uint32(len(s.infos)) >= s.want {
		return p.flushLinks(s)
	}
	return nil
}

func (p *packer) flushLinks(s *linkSet) error {
	s.done = true
	n := uint64(len(s.infos))
	for i, info := range s.infos {
		info.NLink = n
		if i < len(s.infos)-1 {
			info.FileSize = 0
			if err := p.rw.WriteRecord(cpio.Record{Info: info}); err != nil {
				return fmt.Errorf("initramfs: write %s: %w", info.Name, err)
			}
			continue
		}
		if err := p.writeFile(info); err != nil {
			return err
		}
	}
	s.infos = nil
	return nil
}

// writeFile writes a regular file's record with its content read from the
// tree.
func (p *packer) writeFile(info cpio.Info) error {
	if info.FileSize == 0 {
		if err := p.rw.WriteRecord(cpio.Record{Info: info}); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", info.Name, err)
		}
		return nil
	}
	f, err := p.fsys.Open(info.Name)
	if err != nil {
		return fmt.Errorf("initramfs: open %s: %w", info.Name, err)
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		ra = &seqReaderAt{r: f}
	}
	// u-root closes a ReaderAt that is an io.Closer; hide Close so the
	// deferred one is the only one.
	if err := p.rw.WriteRecord(cpio.Record{ReaderAt: readerAtOnly{ra}, Info: info}); err != nil {
		return fmt.Errorf("initramfs: write %s: %w", info.Name, err)
	}
	return nil
}

type readerAtOnly struct{ io.ReaderAt }

// seqReaderAt serves the strictly sequential ReadAt calls the newc writer
// makes from a plain io.Reader.
type seqReaderAt struct {
	r   io.Reader
	off int64
}

var errNotSequential = errors.New("non-sequential read")

func (s *seqReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off != s.off {
		return 0, fmt.Errorf("%w at %d, expected %d", errNotSequential, off, s.off)
	}
	n, err := io.ReadFull(s.r, p)
	s.off += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
