package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// Header is one newc record as stored.
type Header struct {
	// Name is the name as stored ("./usr/bin/sh"); "" for a record of
	// rpm's stripped format.
	Name string
	// Index is, for a record of rpm's stripped format ("07070X", which
	// names the file by its index in the RPM header's file list), that
	// index; -1 otherwise.
	Index int
	Ino   uint32
	// Mode is st_mode: the file type and permission bits.
	Mode                 uint32
	UID, GID             uint32
	NLink                uint32
	MTime                uint32
	Size                 int64
	DevMajor, DevMinor   uint32
	RDevMajor, RDevMinor uint32
	// Offset is where the record's header starts in the archive.
	Offset int64
}

// FileMode returns the record's mode as an fs.FileMode (fs.ModeIrregular
// for an unknown file type).
func (h *Header) FileMode() fs.FileMode { return fsmeta.FileMode(h.Mode) }

// ModTime returns the record's mtime.
func (h *Header) ModTime() time.Time { return time.Unix(int64(h.MTime), 0).UTC() }

// Limits that keep a malformed archive from making the reader allocate
// without bound. Linux's PATH_MAX is 4096.
const (
	maxNameLen = 4096
	// MaxLinkTarget is the longest symlink target a reader accepts.
	MaxLinkTarget = 4096
)

const trailer = "TRAILER!!!"

// Reader reads a newc archive (magic 070701, or 070702 with checksums,
// which are not verified) record by record from a stream, like
// archive/tar.Reader: Next returns each header, Read its content. It is
// vicroot's one newc reader: the initramfs readers and the RPM payload
// installer use it (the latter through NewPayloadReader).
type Reader struct {
	r       *bufio.Reader
	off     int64
	remain  int64 // content bytes of the current record not yet read
	pad     int64 // padding after the current record's content
	err     error // sticky
	trailer bool
	sizes   []int64 // file sizes of the RPM header, for stripped records
}

// NewReader returns a Reader of the uncompressed archive in r (see
// Decompress for compressed ones).
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// NewPayloadReader returns a Reader of an RPM payload's (uncompressed)
// archive that also reads rpm's stripped records ("07070X" and a file
// index, used by packages with files of 4 GiB or more): the size of file i
// is sizes[i], from the RPM header.
func NewPayloadReader(r io.Reader, sizes []int64) *Reader {
	cr := NewReader(r)
	cr.sizes = sizes
	return cr
}

// ErrNoTrailer is returned when the stream ends before the TRAILER!!!
// record.
var ErrNoTrailer = errors.New("archive ends without the TRAILER!!! record")

// Next advances to the next record, skipping what is left of the current
// one. It returns io.EOF after the trailer.
func (r *Reader) Next() (*Header, error) {
	if r.err != nil {
		return nil, r.err
	}
	h, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return h, nil
}

// Offset is where the current record's unread content continues in the
// archive (right after its header, name and padding when Next returned).
func (r *Reader) Offset() int64 { return r.off }

func (r *Reader) next() (*Header, error) {
	if r.trailer {
		return nil, io.EOF
	}
	if err := r.skip(r.remain + r.pad); err != nil {
		return nil, err
	}
	r.remain, r.pad = 0, 0
	start := r.off
	var raw [110]byte
	if n, err := io.ReadFull(r.r, raw[:6]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("initramfs: newc at offset %d (%d bytes left): %w", start, n, ErrNoTrailer)
		}
		return nil, fmt.Errorf("initramfs: newc header at offset %d: %w", start, err)
	}
	r.off += 6
	magic := string(raw[:6])
	if magic == "07070X" && r.sizes != nil {
		return r.stripped(start)
	}
	if magic != "070701" && magic != "070702" {
		return nil, fmt.Errorf("initramfs: newc header at offset %d: magic %q, want 070701", start, magic)
	}
	if _, err := io.ReadFull(r.r, raw[6:]); err != nil {
		return nil, fmt.Errorf("initramfs: newc header at offset %d: %w (the archive is cut short)", start, unexpected(err))
	}
	r.off += int64(len(raw) - 6)
	var f [13]uint32
	names := [13]string{"ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check"}
	for i := range f {
		field := raw[6+8*i : 14+8*i]
		v, err := parseHex(field)
		if err != nil {
			return nil, fmt.Errorf("initramfs: newc header at offset %d: field %s: %q is not 8 hex digits", start, names[i], field)
		}
		f[i] = v
	}
	nameSize := f[11]
	if nameSize == 0 || nameSize > maxNameLen+1 {
		return nil, fmt.Errorf("initramfs: newc header at offset %d: namesize %d out of range 1..%d", start, nameSize, maxNameLen+1)
	}
	name := make([]byte, nameSize)
	if _, err := io.ReadFull(r.r, name); err != nil {
		return nil, fmt.Errorf("initramfs: newc name at offset %d: %w (the archive is cut short)", r.off, unexpected(err))
	}
	r.off += int64(nameSize)
	if name[nameSize-1] != 0 {
		return nil, fmt.Errorf("initramfs: newc name at offset %d: not NUL-terminated", r.off-int64(nameSize))
	}
	if err := r.skip(pad4(r.off)); err != nil {
		return nil, err
	}
	h := &Header{
		Name: string(name[:nameSize-1]), Index: -1, Offset: start,
		Ino: f[0], Mode: f[1], UID: f[2], GID: f[3], NLink: f[4], MTime: f[5], Size: int64(f[6]),
		DevMajor: f[7], DevMinor: f[8], RDevMajor: f[9], RDevMinor: f[10],
	}
	if h.Name == "" {
		return nil, fmt.Errorf("initramfs: newc header at offset %d: empty name", start)
	}
	if h.Name == trailer {
		r.trailer = true
		return nil, io.EOF
	}
	r.remain = h.Size
	r.pad = pad4(r.off + r.remain)
	return h, nil
}

// stripped reads the rest of an rpm stripped record: 8 hex digits of file
// index, padding to 4 bytes, then the content (rpm's cpio writer pads
// before and after the header).
func (r *Reader) stripped(start int64) (*Header, error) {
	var idx [8]byte
	if _, err := io.ReadFull(r.r, idx[:]); err != nil {
		return nil, fmt.Errorf("initramfs: stripped header at offset %d: %w (the archive is cut short)", start, unexpected(err))
	}
	r.off += 8
	v, err := parseHex(idx[:])
	if err != nil {
		return nil, fmt.Errorf("initramfs: stripped header at offset %d: index %q is not 8 hex digits", start, idx[:])
	}
	if int64(v) >= int64(len(r.sizes)) {
		return nil, fmt.Errorf("initramfs: stripped header at offset %d: file index %d out of range (the header lists %d files)", start, v, len(r.sizes))
	}
	if err := r.skip(pad4(r.off)); err != nil {
		return nil, err
	}
	size := r.sizes[v]
	if size < 0 {
		return nil, fmt.Errorf("initramfs: stripped header at offset %d: file %d has size %d", start, v, size)
	}
	r.remain, r.pad = size, pad4(r.off+size)
	return &Header{Index: int(v), Size: size, Offset: start}, nil
}

func parseHex(b []byte) (uint32, error) {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0, strconv.ErrSyntax
		}
	}
	v, err := strconv.ParseUint(string(b), 16, 32)
	return uint32(v), err
}

// Read reads the current record's content.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.off += int64(n)
	r.remain -= int64(n)
	if err == io.EOF && r.remain > 0 {
		r.err = fmt.Errorf("initramfs: newc content at offset %d: %w (the archive is cut short)", r.off, io.ErrUnexpectedEOF)
		return n, r.err
	}
	if err != nil && err != io.EOF {
		r.err = err
		return n, err
	}
	return n, nil
}

func (r *Reader) skip(n int64) error {
	if n == 0 {
		return nil
	}
	m, err := io.CopyN(io.Discard, r.r, n)
	r.off += m
	if err != nil {
		return fmt.Errorf("initramfs: newc at offset %d: %w (the archive is cut short)", r.off, unexpected(err))
	}
	return nil
}

func pad4(off int64) int64 { return (4 - off%4) % 4 }

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
