package iso

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/vicroot/vicroot/initramfs/internal/treemeta"
	"github.com/vicroot/vicroot/initramfs/internal/wcount"
	"github.com/vicroot/vicroot/internal/fsmeta"
)

const sectorSize = 2048

// Padding is what xorriso appends after the image by default (300 KiB);
// it keeps old CD drives and Linux's read-ahead off the end of the data.
const Padding = 300 << 10

// maxFileSize is the most one ISO9660 extent describes.
const maxFileSize = 1<<32 - 1

// ErrFileTooLarge is returned for files that need more than one extent.
var ErrFileTooLarge = errors.New("file too large for one ISO9660 extent (4 GiB - 1)")

// Options describe the volume.
type Options struct {
	// VolumeID defaults to "ISOIMAGE", xorriso's default and VIC's.
	VolumeID string
	// Publisher is stored upper-cased, as xorriso stores it: vic-machine
	// takes its last word as the image's version.
	Publisher string
	// Preparer defaults to "VICROOT".
	Preparer string
	// Epoch (SOURCE_DATE_EPOCH, required) is every volume date and the
	// upper bound of every file time.
	Epoch time.Time
	// BootImage is the tree path of the El Torito no-emulation boot file
	// (e.g. "boot/isolinux/isolinux.bin"); empty for no boot record. Its
	// copy in the image gets the boot-info-table.
	BootImage string
	// Catalog is where the boot catalog appears in the tree; it defaults
	// to boot.cat beside BootImage.
	Catalog string
	// HybridMBR, when set, is the 432 bytes of MBR boot code of syslinux's
	// isohdpfx.bin (from the same syslinux as isolinux.bin). The image
	// then also boots as a disk (isohybrid): an MBR with one partition
	// over the whole image, which is padded to a whole MiB.
	HybridMBR []byte
	// Stream, for WriteFile only, is a file whose content is produced
	// while the image is written, straight into its place in the image.
	Stream *Stream
}

// Stream is a file of the image whose content is written into the image
// file where it belongs (an initramfs, compressed as it is packed), instead
// of being read from the tree: the tree holds the file with its metadata
// (mode, owner, time) and any content, which is ignored. The image is the
// same bytes as WriteFile writes, without Stream, of the tree with that
// content in place.
type Stream struct {
	Path string
	// Write writes the content to w, once.
	Write func(w io.Writer) error
}

type node struct {
	path    string // in the tree; "." for the root
	name    string // Rock Ridge name
	isoID   string // ISO9660 identifier
	e       treemeta.Entry
	target  string
	parent  *node
	kids    []*node
	nlink   uint32 // PX link count
	catalog bool   // the boot catalog, not a tree file
	boot    bool   // the boot image

	dirNum   int    // path table number (directories)
	lba      uint32 // extent
	size     uint32 // data length
	dataFrom *node  // hardlink whose extent this file shares
	stream   bool   // Options.Stream's file: its data is in the image already
	self     suArea // system use of the "." record (directories)
	parentSU suArea // of the ".." record
	su       suArea // of the record in the parent directory
}

// WriteFile writes the image of fsys to f, an empty file open for reading
// and writing, and returns its size and SHA-256. Only metadata is held
// in memory (and the boot file, to patch it). opts.Stream's content goes
// once, straight into its place in f: the
// sectors before it are laid out first, the rest of the image after it
// is done and its size known. The file's bytes are then hashed in order,
// that content read back from f.
func WriteFile(ctx context.Context, f *os.File, fsys fs.FS, opts Options) (int64, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	l, err := newLayout(ctx, fsys, opts)
	if err != nil {
		return 0, sum, err
	}
	if opts.Stream != nil {
		if err := l.stream(f, opts.Stream); err != nil {
			return 0, sum, err
		}
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	cw := &wcount.Writer{W: bw}
	l.skip = func(n *node) error {
		// The content is in f already: hash it from there and move on.
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("iso: write: %w", err)
		}
		off := int64(n.lba) * sectorSize
		if cw.N != off {
			return fmt.Errorf("iso: internal error: %s at byte %d, placed at %d", n.path, cw.N, off)
		}
		buf := make([]byte, 1<<20)
		if _, err := io.CopyBuffer(h, io.NewSectionReader(f, off, n.e.Size), buf); err != nil {
			return fmt.Errorf("iso: read back %s: %w", n.path, err)
		}
		if _, err := f.Seek(n.e.Size, io.SeekCurrent); err != nil {
			return fmt.Errorf("iso: %w", err)
		}
		cw.N += n.e.Size
		return nil
	}
	if err := l.write(cw); err != nil {
		return cw.N, sum, err
	}
	if err := bw.Flush(); err != nil {
		return cw.N, sum, fmt.Errorf("iso: write: %w", err)
	}
	h.Sum(sum[:0])
	return cw.N, sum, nil
}

// newLayout checks opts and reads and places the tree.
func newLayout(ctx context.Context, fsys fs.FS, opts Options) (*layout, error) {
	if opts.Epoch.IsZero() {
		return nil, errors.New("iso: Options.Epoch (SOURCE_DATE_EPOCH) is required")
	}
	if opts.VolumeID == "" {
		opts.VolumeID = "ISOIMAGE"
	}
	if opts.Preparer == "" {
		opts.Preparer = "VICROOT"
	}
	if opts.HybridMBR != nil && (len(opts.HybridMBR) < mbrCodeSize || opts.BootImage == "") {
		return nil, fmt.Errorf("iso: HybridMBR needs the %d bytes of isohdpfx.bin (got %d) and a BootImage", mbrCodeSize, len(opts.HybridMBR))
	}
	if opts.BootImage != "" && opts.Catalog == "" {
		opts.Catalog = path.Join(path.Dir(opts.BootImage), "boot.cat")
	}
	l := &layout{ctx: ctx, fsys: fsys, opts: opts}
	if err := l.collect(); err != nil {
		return nil, err
	}
	if err := l.plan(); err != nil {
		return nil, err
	}
	return l, nil
}

// stream writes s's content into f where the layout places it, and
// places the image again with its size.
func (l *layout) stream(f *os.File, s *Stream) error {
	n, err := l.lookup(s.Path)
	if err != nil {
		return fmt.Errorf("iso: stream %s: %w", s.Path, err)
	}
	switch {
	case !n.e.Mode.IsRegular() || n.catalog:
		return fmt.Errorf("iso: stream %s: not a regular file (%v)", s.Path, n.e.Mode)
	case n.boot:
		return fmt.Errorf("iso: stream %s: the boot image cannot be streamed", s.Path)
	case n.e.Link != (treemeta.LinkID{}) && n.nlink > 1:
		return fmt.Errorf("iso: stream %s: a hardlink cannot be streamed", s.Path)
	}
	// Place it as a file of unknown size: what comes before it does
	// not depend on its size.
	n.stream = true
	if err := l.place(); err != nil {
		return err
	}
	lba := n.lba
	cw := &wcount.Writer{W: io.NewOffsetWriter(f, int64(lba)*sectorSize)}
	if err := s.Write(cw); err != nil {
		return fmt.Errorf("iso: stream %s: %w", s.Path, err)
	}
	if cw.N > maxFileSize {
		return fmt.Errorf("iso: %s: %d bytes: %w", s.Path, cw.N, ErrFileTooLarge)
	}
	n.e.Size = cw.N
	// An empty file has no extent, as a tree file would be placed.
	n.stream = cw.N > 0
	if err := l.place(); err != nil {
		return err
	}
	if n.stream && n.lba != lba {
		return fmt.Errorf("iso: internal error: %s moved from sector %d to %d", s.Path, lba, n.lba)
	}
	return nil
}

type layout struct {
	ctx   context.Context
	fsys  fs.FS
	opts  Options
	root  *node
	dirs  []*node // path table order
	files []*node // data order
	links map[treemeta.LinkID]*node
	boot  *node
	cat   *node
	ce    ceRegion

	// skip, set by WriteFile, passes over the streamed file's data,
	// which is in the image already.
	skip func(n *node) error

	ptSize     uint32
	lPath      uint32
	mPath      uint32
	ceBase     uint32
	volumeSize uint32
	bootData   []byte
}

func (l *layout) clamp(t time.Time) time.Time { return treemeta.Clamp(t, l.opts.Epoch) }

// collect reads the tree's metadata into nodes.
func (l *layout) collect() error {
	fi, err := fs.Stat(l.fsys, ".")
	if err != nil {
		return fmt.Errorf("iso: stat tree root: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("iso: tree root is not a directory (mode %v)", fi.Mode())
	}
	l.root = &node{path: ".", e: treemeta.Of(fi)}
	l.root.parent = l.root
	if err := l.collectDir(l.root); err != nil {
		return err
	}
	if l.opts.BootImage != "" {
		b, err := l.lookup(l.opts.BootImage)
		if err != nil {
			return fmt.Errorf("iso: boot image %s: %w", l.opts.BootImage, err)
		}
		if !b.e.Mode.IsRegular() {
			return fmt.Errorf("iso: boot image %s is not a regular file (%v)", l.opts.BootImage, b.e.Mode)
		}
		b.boot = true
		l.boot = b
		dir, err := l.lookup(path.Dir(l.opts.Catalog))
		if err != nil || !dir.e.Mode.IsDir() {
			return fmt.Errorf("iso: boot catalog %s: no such directory in the tree", l.opts.Catalog)
		}
		base := path.Base(l.opts.Catalog)
		for _, k := range dir.kids {
			if k.name == base {
				return fmt.Errorf("iso: boot catalog %s: the tree already has a file there", l.opts.Catalog)
			}
		}
		l.cat = &node{
			path: l.opts.Catalog, name: base, parent: dir, catalog: true, nlink: 1,
			e: treemeta.Entry{Mode: 0o444, ModTime: l.opts.Epoch, Size: sectorSize, Nlink: 1},
		}
		dir.kids = append(dir.kids, l.cat)
	}
	return nil
}

func (l *layout) lookup(p string) (*node, error) {
	n := l.root
	for _, c := range strings.Split(path.Clean(p), "/") {
		if c == "." {
			continue
		}
		var next *node
		for _, k := range n.kids {
			if k.name == c {
				next = k
			}
		}
		if next == nil {
			return nil, fs.ErrNotExist
		}
		n = next
	}
	return n, nil
}

func (l *layout) collectDir(d *node) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	ents, err := fs.ReadDir(l.fsys, d.path)
	if err != nil {
		return fmt.Errorf("iso: read directory %s: %w", d.path, err)
	}
	d.nlink = 2
	for _, de := range ents {
		p := de.Name()
		if d.path != "." {
			p = d.path + "/" + p
		}
		fi, err := de.Info()
		if err != nil {
			return fmt.Errorf("iso: stat %s: %w", p, err)
		}
		n := &node{path: p, name: de.Name(), parent: d, e: treemeta.Of(fi), nlink: 1}
		switch t := n.e.Mode.Type(); {
		case t == fs.ModeDir:
			d.nlink++
			if err := l.collectDir(n); err != nil {
				return err
			}
		case t == 0:
			if n.e.Size > maxFileSize {
				return fmt.Errorf("iso: %s: %d bytes: %w", p, n.e.Size, ErrFileTooLarge)
			}
			if n.e.Link != (treemeta.LinkID{}) {
				n.nlink = n.e.Nlink
			}
		case t == fs.ModeSymlink:
			if n.target, err = fs.ReadLink(l.fsys, p); err != nil {
				return fmt.Errorf("iso: read symlink %s: %w", p, err)
			}
		case t&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 && t&fs.ModeIrregular == 0:
		default:
			return fmt.Errorf("iso: %s: unsupported file type %v", p, n.e.Mode)
		}
		d.kids = append(d.kids, n)
	}
	return nil
}

// plan names, orders and places everything.
func (l *layout) plan() error {
	// Names and order: breadth first, which is also path table order.
	queue := []*node{l.root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		l.dirs = append(l.dirs, d)
		d.dirNum = len(l.dirs)
		taken := map[string]bool{}
		// Name in tree order so that mangling is stable.
		sort.Slice(d.kids, func(i, j int) bool { return d.kids[i].name < d.kids[j].name })
		for _, k := range d.kids {
			k.isoID = isoName(k.name, k.e.Mode.IsDir(), taken)
		}
		sort.Slice(d.kids, func(i, j int) bool { return d.kids[i].isoID < d.kids[j].isoID })
		for _, k := range d.kids {
			if k.e.Mode.IsDir() {
				queue = append(queue, k)
			}
		}
	}
	if len(l.dirs) > 65535 {
		return fmt.Errorf("iso: %d directories, more than a path table numbers (65535)", len(l.dirs))
	}
	// Path tables.
	for _, d := range l.dirs {
		n := len(d.isoID)
		if d == l.root {
			n = 1
		}
		l.ptSize += uint32(8 + n + n%2)
	}
	// System use and directory sizes.
	for _, d := range l.dirs {
		size := 0
		add := func(idLen int, su *suArea, entries [][]byte) {
			fixed := 33 + idLen + (idLen+1)%2
			*su = l.ce.pack(entries, 255-fixed)
			n := fixed + len(su.data)
			if n%2 == 1 {
				su.data = append(su.data, 0)
				n++
			}
			if size%sectorSize+n > sectorSize {
				size += sectorSize - size%sectorSize
			}
			size += n
		}
		self := l.rrEntries(d, nil)
		if d == l.root {
			self = append([][]byte{spEntry()}, self...)
			self = append(self, erEntry())
		}
		add(1, &d.self, self)
		add(1, &d.parentSU, l.rrEntries(d.parent, nil))
		for _, k := range d.kids {
			add(len(k.isoID), &k.su, l.rrEntries(k, nmEntries(k.name)))
		}
		d.size = uint32((size + sectorSize - 1) / sectorSize * sectorSize)
	}
	return l.place()
}

// place gives everything its sectors, from the sizes of the files; it can
// run again when a size changes (a streamed file's).
func (l *layout) place() error {
	l.files = l.files[:0]
	l.links = map[treemeta.LinkID]*node{}
	next := uint32(16) // system area
	next++             // primary volume descriptor
	if l.boot != nil {
		next++ // El Torito boot record
	}
	next++ // terminator
	ptSectors := (l.ptSize + sectorSize - 1) / sectorSize
	l.lPath, next = next, next+ptSectors
	l.mPath, next = next, next+ptSectors
	for _, d := range l.dirs {
		d.lba = next
		next += d.size / sectorSize
	}
	l.ceBase = next
	next += l.ce.sectors
	if l.cat != nil {
		l.cat.lba, l.cat.size = next, sectorSize
		next++
		l.boot.lba, l.boot.size = next, uint32(l.boot.e.Size)
		next += sectors(l.boot.e.Size)
		if l.boot.e.Link != (treemeta.LinkID{}) {
			l.links[l.boot.e.Link] = l.boot
		}
	}
	var linkErr error
	var walk func(d *node)
	walk = func(d *node) {
		for _, k := range d.kids {
			if !k.e.Mode.IsDir() && !k.catalog && !k.boot {
				k.lba, k.size, k.dataFrom = 0, 0, nil // placed afresh
			}
			switch {
			case k.e.Mode.IsDir():
				walk(k)
			case k.catalog || k.boot:
			case k.e.Mode.IsRegular() && (k.e.Size > 0 || k.stream):
				k.size = uint32(k.e.Size)
				if k.e.Link != (treemeta.LinkID{}) {
					if first := l.links[k.e.Link]; first != nil {
						if first.e.Size != k.e.Size && linkErr == nil {
							linkErr = fmt.Errorf("iso: %s: hardlink of %s with a different size (%d, want %d)", k.path, first.path, k.e.Size, first.e.Size)
						}
						k.dataFrom, k.lba = first, first.lba
						continue
					}
					l.links[k.e.Link] = k
				}
				k.lba = next
				next += sectors(k.e.Size)
				l.files = append(l.files, k)
			}
		}
	}
	walk(l.root)
	if linkErr != nil {
		return linkErr
	}
	l.volumeSize = next
	return nil
}

func sectors(n int64) uint32 { return uint32((n + sectorSize - 1) / sectorSize) }

// rrEntries returns the Rock Ridge entries of n's record, names last.
func (l *layout) rrEntries(n *node, names [][]byte) [][]byte {
	flags := byte(rrPX | rrTF)
	var extra [][]byte
	mode := fsmeta.UnixMode(n.e.Mode)
	switch {
	case n.e.Mode&fs.ModeDevice != 0:
		flags |= rrPN
		extra = append(extra, pnEntry(n.e.RMajor, n.e.RMinor))
	case n.e.Mode&fs.ModeSymlink != 0:
		flags |= rrSL
		extra = append(extra, slEntries(n.target)...)
	}
	if names != nil {
		flags |= rrNM
	}
	out := [][]byte{rrEntry(flags), pxEntry(mode, n.nlink, n.e.UID, n.e.GID), tfEntry(l.clamp(n.e.ModTime))}
	out = append(out, extra...)
	return append(out, names...)
}

// write emits the image.
func (l *layout) write(w *wcount.Writer) error {
	pvd := l.pvd()
	system := make([]byte, 16*sectorSize)
	if l.opts.HybridMBR != nil {
		copy(system, hybridMBR(l.opts.HybridMBR, l.boot.lba, l.totalSize(), crc32.ChecksumIEEE(pvd)))
	}
	if _, err := w.Write(system); err != nil {
		return fmt.Errorf("iso: write: %w", err)
	}
	if l.boot != nil {
		data, err := fs.ReadFile(l.fsys, l.boot.path)
		if err != nil {
			return fmt.Errorf("iso: read boot image %s: %w", l.boot.path, err)
		}
		if int64(len(data)) != l.boot.e.Size {
			return fmt.Errorf("iso: boot image %s changed size while writing (%d, was %d)", l.boot.path, len(data), l.boot.e.Size)
		}
		if err := patchBootInfo(data, 16, l.boot.lba); err != nil {
			return fmt.Errorf("iso: boot image %s: %w", l.boot.path, err)
		}
		l.bootData = data
	}
	if err := l.writeSector(w, pvd); err != nil {
		return err
	}
	if l.boot != nil {
		if err := l.writeSector(w, bootRecord(l.cat.lba)); err != nil {
			return err
		}
	}
	term := make([]byte, sectorSize)
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	if err := l.writeSector(w, term); err != nil {
		return err
	}
	if err := l.writePadded(w, l.pathTable(binary.LittleEndian)); err != nil {
		return err
	}
	if err := l.writePadded(w, l.pathTable(binary.BigEndian)); err != nil {
		return err
	}
	for _, d := range l.dirs {
		if err := l.writePadded(w, l.dirExtent(d)); err != nil {
			return err
		}
	}
	ce := make([]byte, l.ce.sectors*sectorSize)
	for _, a := range l.ce.areas {
		a.fill(l.ceBase)
		copy(ce[a.sector*sectorSize+a.offset:], a.data)
	}
	if _, err := w.Write(ce); err != nil {
		return fmt.Errorf("iso: write: %w", err)
	}
	if l.boot != nil {
		if err := l.writeSector(w, bootCatalog(l.boot.lba)); err != nil {
			return err
		}
		if err := l.writePadded(w, l.bootData); err != nil {
			return err
		}
	}
	for _, f := range l.files {
		var err error
		if f.stream {
			err = l.skipStream(w, f)
		} else {
			err = l.copyFile(w, f)
		}
		if err != nil {
			return err
		}
	}
	if w.N != int64(l.volumeSize)*sectorSize {
		return fmt.Errorf("iso: internal error: wrote %d bytes, planned %d sectors", w.N, l.volumeSize)
	}
	if _, err := w.Write(make([]byte, l.totalSize()-w.N)); err != nil {
		return fmt.Errorf("iso: write: %w", err)
	}
	return nil
}

// totalSize is the image with its padding: xorriso's 300 KiB, and for a
// hybrid image up to the next whole cylinder of 64 heads × 32 sectors.
func (l *layout) totalSize() int64 {
	n := int64(l.volumeSize)*sectorSize + Padding
	if l.opts.HybridMBR != nil {
		n = (n + cylinderSize - 1) / cylinderSize * cylinderSize
	}
	return n
}

func (l *layout) writeSector(w io.Writer, b []byte) error {
	if len(b) != sectorSize {
		return fmt.Errorf("iso: internal error: sector of %d bytes", len(b))
	}
	_, err := w.Write(b)
	if err != nil {
		return fmt.Errorf("iso: write: %w", err)
	}
	return nil
}

func (l *layout) writePadded(w io.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("iso: write: %w", err)
	}
	if pad := (sectorSize - len(b)%sectorSize) % sectorSize; pad > 0 {
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("iso: write: %w", err)
		}
	}
	return nil
}

// skipStream passes over the streamed file n, and pads it.
func (l *layout) skipStream(w io.Writer, n *node) error {
	if l.skip == nil {
		return fmt.Errorf("iso: internal error: %s is streamed, and the writer cannot skip it", n.path)
	}
	if err := l.skip(n); err != nil {
		return err
	}
	if pad := (sectorSize - n.e.Size%sectorSize) % sectorSize; pad > 0 {
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("iso: write: %w", err)
		}
	}
	return nil
}

func (l *layout) copyFile(w io.Writer, n *node) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	f, err := l.fsys.Open(n.path)
	if err != nil {
		return fmt.Errorf("iso: open %s: %w", n.path, err)
	}
	defer f.Close()
	m, err := io.CopyN(w, f, n.e.Size)
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("iso: %s shrank while writing (%d bytes, was %d)", n.path, m, n.e.Size)
		}
		return fmt.Errorf("iso: copy %s: %w", n.path, err)
	}
	var one [1]byte
	if k, _ := f.Read(one[:]); k > 0 {
		return fmt.Errorf("iso: %s grew while writing (more than %d bytes)", n.path, n.e.Size)
	}
	if pad := (sectorSize - n.e.Size%sectorSize) % sectorSize; pad > 0 {
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("iso: write: %w", err)
		}
	}
	return nil
}

// pathTable returns the L (little-endian) or M (big-endian) path table.
func (l *layout) pathTable(order binary.ByteOrder) []byte {
	var b []byte
	for _, d := range l.dirs {
		id := []byte(d.isoID)
		if d == l.root {
			id = []byte{0}
		}
		rec := make([]byte, 8, 8+len(id)+1)
		rec[0] = byte(len(id))
		order.PutUint32(rec[2:], d.lba)
		order.PutUint16(rec[6:], uint16(d.parent.dirNum))
		rec = append(rec, id...)
		if len(id)%2 == 1 {
			rec = append(rec, 0)
		}
		b = append(b, rec...)
	}
	return b
}

// dirExtent returns the records of directory d.
func (l *layout) dirExtent(d *node) []byte {
	b := make([]byte, 0, d.size)
	add := func(rec []byte) {
		if len(b)%sectorSize+len(rec) > sectorSize {
			b = append(b, make([]byte, sectorSize-len(b)%sectorSize)...)
		}
		b = append(b, rec...)
	}
	d.self.fill(l.ceBase)
	add(l.record(d, []byte{0}, d.self.data))
	d.parentSU.fill(l.ceBase)
	add(l.record(d.parent, []byte{1}, d.parentSU.data))
	for _, k := range d.kids {
		k.su.fill(l.ceBase)
		add(l.record(k, []byte(k.isoID), k.su.data))
	}
	return b
}

// record returns one directory record (ECMA-119 9.1).
func (l *layout) record(n *node, id, su []byte) []byte {
	fixed := 33 + len(id) + (len(id)+1)%2
	r := make([]byte, fixed, fixed+len(su))
	r[0] = byte(fixed + len(su))
	copy(r[2:], both32(n.lba))
	copy(r[10:], both32(n.size))
	d := dirDate(l.clamp(n.e.ModTime))
	copy(r[18:], d[:])
	if n.e.Mode.IsDir() {
		r[25] = 2
	}
	copy(r[28:], both16(1))
	r[32] = byte(len(id))
	copy(r[33:], id)
	return append(r, su...)
}

// dirDate is the 7-byte recording date of ECMA-119 9.1.5, in UTC.
func dirDate(t time.Time) [7]byte {
	t = t.UTC()
	y := t.Year() - 1900
	if y < 0 {
		y = 0
	}
	if y > 255 {
		y = 255
	}
	return [7]byte{byte(y), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

// volDate is the 17-byte date of ECMA-119 8.4.26.1, in UTC.
func volDate(t time.Time) []byte {
	t = t.UTC()
	s := fmt.Sprintf("%04d%02d%02d%02d%02d%02d%02d", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7)
	return append([]byte(s), 0)
}

func padField(b []byte, s string) {
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

// pvd returns the primary volume descriptor (ECMA-119 8.4).
func (l *layout) pvd() []byte {
	b := make([]byte, sectorSize)
	b[0] = 1
	copy(b[1:], "CD001")
	b[6] = 1
	padField(b[8:40], "")
	padField(b[40:72], l.opts.VolumeID)
	copy(b[80:], both32(l.volumeSize))
	copy(b[120:], both16(1))
	copy(b[124:], both16(1))
	copy(b[128:], both16(sectorSize))
	copy(b[132:], both32(l.ptSize))
	binary.LittleEndian.PutUint32(b[140:], l.lPath)
	binary.BigEndian.PutUint32(b[148:], l.mPath)
	root := l.record(l.root, []byte{0}, nil)
	copy(b[156:190], root)
	padField(b[190:318], l.opts.VolumeID)
	padField(b[318:446], strings.ToUpper(l.opts.Publisher))
	padField(b[446:574], strings.ToUpper(l.opts.Preparer))
	padField(b[574:702], "")
	padField(b[702:739], "")
	padField(b[739:776], "")
	padField(b[776:813], "")
	created := volDate(l.opts.Epoch)
	copy(b[813:], created)
	copy(b[830:], created)
	copy(b[847:], []byte("0000000000000000\x00"))
	copy(b[864:], created)
	b[881] = 1
	padField(b[883:1395], "")
	return b
}
