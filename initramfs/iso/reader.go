package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/vicroot/vicroot/internal/fsindex"
	"github.com/vicroot/vicroot/internal/fsmeta"
)

// Limits that keep a malformed image from making the reader loop or
// allocate without bound.
const (
	maxDirSize = 64 << 20
	maxCEHops  = 64
	maxDepth   = 256
)

// Image is an ISO9660 image opened for reading. It is the image's tree as
// an fs.FS (with fs.StatFS, fs.ReadDirFS and fs.ReadLinkFS): Rock Ridge
// names, modes, owners (FileInfo.Sys() is a *fsmeta.Meta, as the writer
// takes it), symlinks and device numbers when the image has them, else the
// ISO9660 names, root-owned, directories 0555 and files 0444. Open
// returns regular files as io.ReaderAt and io.Seeker. The whole directory
// tree is read and checked by Open, so a damaged or truncated image fails
// there, naming what is cut; file contents are read when opened.
type Image struct {
	tree *fsindex.FS
	r    io.ReaderAt

	SystemID, VolumeID, VolumeSetID  string
	Publisher, Preparer, Application string
	// VolumeSpaceSize is in 2048-byte sectors.
	VolumeSpaceSize        uint32
	Created, Modified      time.Time
	PathTableSize          uint32
	LPathTable, MPathTable uint32
	// RockRidge reports an SP entry in the root directory.
	RockRidge bool
	// Boot is the El Torito default entry, or nil.
	Boot *BootEntry

	root   rawRecord
	suSkip int
	size   int64 // of the image, or -1 when r cannot tell
}

// BootEntry is an El Torito catalog's validation and default entries.
type BootEntry struct {
	CatalogLBA  uint32
	Platform    byte // 0 = x86 BIOS
	Bootable    bool
	Media       byte // 0 = no emulation
	LoadSegment uint16
	SystemType  byte
	SectorCount uint16 // 512-byte sectors
	LBA         uint32
}

// entry is one file of the image, with Rock Ridge data when present.
type entry struct {
	Name    string // Rock Ridge name, else the ISO9660 name without ";1"
	ISOName string // the ISO9660 identifier as recorded
	Mode    fs.FileMode
	UID     uint32
	GID     uint32
	Nlink   uint32
	Size    int64
	LBA     uint32
	ModTime time.Time
	Target  string // symlink target
	RMajor  uint32
	RMinor  uint32
}

type rawRecord struct {
	lba   uint32
	size  uint32
	flags byte
	date  [7]byte
	id    []byte
	su    []byte
}

// Open reads the volume descriptors of the image in r.
func Open(r io.ReaderAt) (*Image, error) {
	im := &Image{r: r, size: -1}
	switch s := r.(type) {
	case interface{ Size() int64 }:
		im.size = s.Size()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := s.Stat(); err == nil && fi.Mode().IsRegular() {
			im.size = fi.Size()
		}
	}
	var pvd []byte
	for s := int64(16); ; s++ {
		if s > 16+64 {
			return nil, errors.New("iso: no volume descriptor set terminator in 64 sectors")
		}
		b := make([]byte, sectorSize)
		if _, err := r.ReadAt(b, s*sectorSize); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("iso: volume descriptor at sector %d: the image is cut short (%w)", s, err)
			}
			return nil, fmt.Errorf("iso: volume descriptor at sector %d: %w", s, err)
		}
		if string(b[1:6]) != "CD001" {
			return nil, fmt.Errorf("iso: volume descriptor at sector %d: identifier %q, want CD001", s, b[1:6])
		}
		if b[0] == 255 {
			break
		}
		switch b[0] {
		case 1:
			if pvd == nil {
				pvd = b
			}
		case 0:
			if string(bytes.TrimRight(b[7:39], "\x00")) == "EL TORITO SPECIFICATION" {
				im.Boot = &BootEntry{CatalogLBA: binary.LittleEndian.Uint32(b[71:])}
			}
		}
	}
	if pvd == nil {
		return nil, errors.New("iso: no primary volume descriptor")
	}
	str := func(b []byte) string { return strings.TrimRight(string(b), " \x00") }
	im.SystemID = str(pvd[8:40])
	im.VolumeID = str(pvd[40:72])
	im.VolumeSpaceSize = binary.LittleEndian.Uint32(pvd[80:])
	if want := int64(im.VolumeSpaceSize) * sectorSize; im.size >= 0 && im.size < want {
		return nil, fmt.Errorf("iso: the image is cut short: %d bytes, but its volume descriptor says %d (%d sectors)", im.size, want, im.VolumeSpaceSize)
	}
	if bs := binary.LittleEndian.Uint16(pvd[128:]); bs != sectorSize {
		return nil, fmt.Errorf("iso: primary volume descriptor: logical block size %d, want 2048", bs)
	}
	im.PathTableSize = binary.LittleEndian.Uint32(pvd[132:])
	im.LPathTable = binary.LittleEndian.Uint32(pvd[140:])
	im.MPathTable = binary.BigEndian.Uint32(pvd[148:])
	im.VolumeSetID = str(pvd[190:318])
	im.Publisher = str(pvd[318:446])
	im.Preparer = str(pvd[446:574])
	im.Application = str(pvd[574:702])
	im.Created = parseVolDate(pvd[813:830])
	im.Modified = parseVolDate(pvd[830:847])
	root, _, err := parseRecord(pvd[156:190])
	if err != nil {
		return nil, fmt.Errorf("iso: primary volume descriptor: root directory record: %w", err)
	}
	if root.flags&2 == 0 {
		return nil, errors.New("iso: primary volume descriptor: root record is not a directory")
	}
	im.root = root
	// Rock Ridge: an SP entry at the start of the root's "." record.
	recs, err := im.readDir(root)
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 {
		su := recs[0].su
		if len(su) >= 7 && string(su[:2]) == "SP" && su[2] == 7 && su[4] == 0xbe && su[5] == 0xef {
			im.RockRidge = true
			im.suSkip = int(su[6])
		}
	}
	if im.Boot != nil {
		if err := im.readCatalog(); err != nil {
			return nil, err
		}
	}
	if err := im.index(); err != nil {
		return nil, err
	}
	return im, nil
}

func (im *Image) readCatalog() error {
	b := make([]byte, 64)
	if _, err := im.r.ReadAt(b, int64(im.Boot.CatalogLBA)*sectorSize); err != nil {
		return fmt.Errorf("iso: El Torito catalog at sector %d: %w", im.Boot.CatalogLBA, err)
	}
	if b[0] != 1 || b[30] != 0x55 || b[31] != 0xaa {
		return fmt.Errorf("iso: El Torito catalog at sector %d: no validation entry (header % x, key % x)", im.Boot.CatalogLBA, b[0], b[30:32])
	}
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(b[i:])
	}
	if sum != 0 {
		return fmt.Errorf("iso: El Torito catalog at sector %d: validation entry checksum is off by %#x", im.Boot.CatalogLBA, sum)
	}
	e := b[32:]
	im.Boot.Platform = b[1]
	im.Boot.Bootable = e[0] == 0x88
	im.Boot.Media = e[1]
	im.Boot.LoadSegment = binary.LittleEndian.Uint16(e[2:])
	im.Boot.SystemType = e[4]
	im.Boot.SectorCount = binary.LittleEndian.Uint16(e[6:])
	im.Boot.LBA = binary.LittleEndian.Uint32(e[8:])
	return nil
}

func parseVolDate(b []byte) time.Time {
	s := string(b[:16])
	if strings.Trim(s, "0 \x00") == "" {
		return time.Time{}
	}
	n := func(i, j int) int { v, _ := strconv.Atoi(s[i:j]); return v }
	t := time.Date(n(0, 4), time.Month(n(4, 6)), n(6, 8), n(8, 10), n(10, 12), n(12, 14), n(14, 16)*1e7, time.UTC)
	return t.Add(-time.Duration(int8(b[16])) * 15 * time.Minute)
}

func parseDirDate(d [7]byte) time.Time {
	t := time.Date(1900+int(d[0]), time.Month(d[1]), int(d[2]), int(d[3]), int(d[4]), int(d[5]), 0, time.UTC)
	return t.Add(-time.Duration(int8(d[6])) * 15 * time.Minute)
}

// parseRecord parses the directory record at the start of b and returns
// it and its length.
func parseRecord(b []byte) (rawRecord, int, error) {
	if len(b) < 34 {
		return rawRecord{}, 0, fmt.Errorf("record of %d bytes, shorter than 34", len(b))
	}
	n := int(b[0])
	if n < 34 || n > len(b) {
		return rawRecord{}, 0, fmt.Errorf("record length %d out of range 34..%d", n, len(b))
	}
	idLen := int(b[32])
	if 33+idLen > n {
		return rawRecord{}, 0, fmt.Errorf("file identifier length %d overruns the %d-byte record", idLen, n)
	}
	r := rawRecord{
		lba:   binary.LittleEndian.Uint32(b[2:]),
		size:  binary.LittleEndian.Uint32(b[10:]),
		flags: b[25],
		id:    b[33 : 33+idLen],
	}
	copy(r.date[:], b[18:25])
	suStart := 33 + idLen + (idLen+1)%2
	if suStart < n {
		r.su = b[suStart:n]
	}
	return r, n, nil
}

// readDir returns the records of a directory extent, "." and ".."
// included.
func (im *Image) readDir(d rawRecord) ([]rawRecord, error) {
	if d.size > maxDirSize {
		return nil, fmt.Errorf("iso: directory at sector %d: size %d over the %d limit", d.lba, d.size, maxDirSize)
	}
	if im.size >= 0 && int64(d.lba)*sectorSize+int64(d.size) > im.size {
		return nil, fmt.Errorf("iso: directory at sector %d (%d bytes) extends past the end of the %d-byte image", d.lba, d.size, im.size)
	}
	b := make([]byte, d.size)
	if _, err := im.r.ReadAt(b, int64(d.lba)*sectorSize); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("iso: directory at sector %d (%d bytes): the image is cut short (%w)", d.lba, d.size, err)
		}
		return nil, fmt.Errorf("iso: directory at sector %d (%d bytes): %w", d.lba, d.size, err)
	}
	var out []rawRecord
	for off := 0; off < len(b); {
		if b[off] == 0 {
			off = (off/sectorSize + 1) * sectorSize
			continue
		}
		end := min((off/sectorSize+1)*sectorSize, len(b))
		r, n, err := parseRecord(b[off:end])
		if err != nil {
			return nil, fmt.Errorf("iso: directory at sector %d, offset %d: %w", d.lba, off, err)
		}
		out = append(out, r)
		off += n
	}
	return out, nil
}

// entry decodes a record's names and Rock Ridge data.
func (im *Image) entry(r rawRecord) (entry, error) {
	e := entry{ISOName: string(r.id), Size: int64(r.size), LBA: r.lba, ModTime: parseDirDate(r.date), Nlink: 1}
	e.Name = strings.TrimSuffix(strings.TrimSuffix(e.ISOName, ";1"), ".")
	if r.flags&2 != 0 {
		e.Mode = fs.ModeDir | 0o555
	} else {
		e.Mode = 0o444
	}
	if !im.RockRidge {
		return e, nil
	}
	var nm, sl []byte
	su := r.su
	if len(su) >= im.suSkip {
		su = su[im.suSkip:]
	}
	slDone := false
	for hops := 0; ; hops++ {
		var ce []byte
		for len(su) >= 4 {
			n := int(su[2])
			if n < 4 || n > len(su) {
				break
			}
			ent, data := su[:n], su[4:n]
			switch string(ent[:2]) {
			case "PX":
				if len(data) >= 32 {
					e.Mode = fsmeta.FileMode(binary.LittleEndian.Uint32(data[0:]))
					e.Nlink = binary.LittleEndian.Uint32(data[8:])
					e.UID = binary.LittleEndian.Uint32(data[16:])
					e.GID = binary.LittleEndian.Uint32(data[24:])
				}
			case "PN":
				if len(data) >= 16 {
					dev := uint64(binary.LittleEndian.Uint32(data[0:]))<<32 | uint64(binary.LittleEndian.Uint32(data[8:]))
					e.RMajor, e.RMinor = splitdev(dev)
				}
			case "NM":
				if len(data) >= 1 && data[0]&0x06 == 0 {
					nm = append(nm, data[1:]...)
				}
			case "SL":
				if len(data) >= 1 && !slDone {
					sl = append(sl, data[1:]...)
					slDone = data[0]&1 == 0
					// Components continue across entries; keep them
					// in one buffer and decode at the end.
				}
			case "TF":
				if t, ok := tfModify(data); ok {
					e.ModTime = t
				}
			case "CE":
				if len(data) >= 24 {
					ce = data
				}
			case "ST":
				su = nil
			}
			if su == nil {
				break
			}
			su = su[n:]
		}
		if ce == nil {
			break
		}
		if hops >= maxCEHops {
			return e, fmt.Errorf("iso: %s: more than %d continuation areas", e.ISOName, maxCEHops)
		}
		lba := binary.LittleEndian.Uint32(ce[0:])
		off := binary.LittleEndian.Uint32(ce[8:])
		n := binary.LittleEndian.Uint32(ce[16:])
		if n > sectorSize || off > sectorSize {
			return e, fmt.Errorf("iso: %s: continuation area at sector %d offset %d: length %d out of range", e.ISOName, lba, off, n)
		}
		su = make([]byte, n)
		if _, err := im.r.ReadAt(su, int64(lba)*sectorSize+int64(off)); err != nil {
			return e, fmt.Errorf("iso: %s: continuation area at sector %d: %w", e.ISOName, lba, err)
		}
	}
	if nm != nil {
		e.Name = string(nm)
	}
	if e.Mode&fs.ModeSymlink != 0 {
		t, err := decodeSL(sl)
		if err != nil {
			return e, fmt.Errorf("iso: %s: SL: %w", e.ISOName, err)
		}
		e.Target = t
	}
	if e.Mode.IsDir() {
		e.Size = int64(r.size)
	}
	return e, nil
}

func tfModify(data []byte) (time.Time, bool) {
	if len(data) < 1 {
		return time.Time{}, false
	}
	flags := data[0]
	if flags&0x80 != 0 { // long form: not written by us or xorriso
		return time.Time{}, false
	}
	off := 1
	if flags&1 != 0 { // creation
		off += 7
	}
	if flags&2 == 0 || len(data) < off+7 {
		return time.Time{}, false
	}
	var d [7]byte
	copy(d[:], data[off:])
	return parseDirDate(d), true
}

func decodeSL(b []byte) (string, error) {
	var parts []string
	cur := ""
	cont := false
	abs := false
	for len(b) > 0 {
		if len(b) < 2 || int(b[1])+2 > len(b) {
			return "", errors.New("component record overruns the entry")
		}
		flags, data := b[0], string(b[2:2+int(b[1])])
		b = b[2+int(b[1]):]
		switch {
		case flags&0x02 != 0:
			data = "."
		case flags&0x04 != 0:
			data = ".."
		case flags&0x08 != 0:
			if len(parts) == 0 && !cont {
				abs = true
			}
			continue
		}
		cur += data
		if flags&1 != 0 {
			cont = true
			continue
		}
		parts = append(parts, cur)
		cur, cont = "", false
	}
	if cont {
		parts = append(parts, cur)
	}
	t := strings.Join(parts, "/")
	if abs {
		t = "/" + t
	}
	return t, nil
}

var _ interface {
	fs.StatFS
	fs.ReadDirFS
	fs.ReadLinkFS
} = (*Image)(nil)

// Open opens name, following symlinks inside the tree (fs.FS). A regular
// file is also an io.ReaderAt and io.Seeker.
func (im *Image) Open(name string) (fs.File, error) { return im.tree.Open(name) }

// Stat returns the FileInfo of name, following symlinks (fs.StatFS).
func (im *Image) Stat(name string) (fs.FileInfo, error) { return im.tree.Stat(name) }

// Lstat returns the FileInfo of name itself (fs.ReadLinkFS).
func (im *Image) Lstat(name string) (fs.FileInfo, error) { return im.tree.Lstat(name) }

// ReadLink returns the target of the symlink name (fs.ReadLinkFS).
func (im *Image) ReadLink(name string) (string, error) { return im.tree.ReadLink(name) }

// ReadDir lists the directory name, sorted by name (fs.ReadDirFS).
func (im *Image) ReadDir(name string) ([]fs.DirEntry, error) { return im.tree.ReadDir(name) }

// index reads every directory of the image into the tree, checking that
// each extent lies inside the image.
func (im *Image) index() error {
	rootEnt, err := im.entry(im.root)
	if err != nil {
		return err
	}
	// The root's own metadata is in its "." record.
	if recs, err := im.readDir(im.root); err == nil && len(recs) > 0 {
		if e, err := im.entry(recs[0]); err == nil {
			rootEnt = e
		}
	}
	im.tree = fsindex.New(im.r, indexNode(rootEnt))
	seen := map[uint32]bool{im.root.lba: true}
	var walk func(dir rawRecord, prefix string, depth int) error
	walk = func(dir rawRecord, prefix string, depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("iso: /%s: directories nested deeper than %d", prefix, maxDepth)
		}
		recs, err := im.readDir(dir)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if len(r.id) == 1 && (r.id[0] == 0 || r.id[0] == 1) {
				continue
			}
			e, err := im.entry(r)
			if err != nil {
				return err
			}
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") {
				return fmt.Errorf("iso: /%s: directory at sector %d holds the name %q", prefix, dir.lba, e.Name)
			}
			p := e.Name
			if prefix != "" {
				p = prefix + "/" + e.Name
			}
			if e.Mode.IsRegular() && im.size >= 0 && int64(e.LBA)*sectorSize+e.Size > im.size {
				return fmt.Errorf("iso: /%s: its %d bytes at sector %d run past the end of the %d-byte image (it is cut short)", p, e.Size, e.LBA, im.size)
			}
			if err := im.tree.Add(p, indexNode(e), indexNode(rootEnt)); err != nil {
				return fmt.Errorf("iso: %w", err)
			}
			if r.flags&2 != 0 {
				if seen[r.lba] {
					return fmt.Errorf("iso: /%s: directory at sector %d visited twice (a loop)", p, r.lba)
				}
				seen[r.lba] = true
				if err := walk(r, p, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(im.root, "", 0)
}

func indexNode(e entry) fsindex.Node {
	n := fsindex.Node{Mode: e.Mode, ModTime: e.ModTime, Size: e.Size, Offset: int64(e.LBA) * sectorSize, Target: e.Target,
		Meta: fsmeta.Meta{UID: e.UID, GID: e.GID, Major: e.RMajor, Minor: e.RMinor, Nlink: max(e.Nlink, 1)}}
	if e.Mode.IsRegular() && e.Nlink > 1 && e.Size > 0 {
		n.Meta.Inode = uint64(e.LBA) // hardlinks share their extent
	}
	if !e.Mode.IsRegular() {
		n.Size = 0
		if e.Mode&fs.ModeSymlink != 0 {
			n.Size = int64(len(e.Target))
		}
	}
	return n
}
