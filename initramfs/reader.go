package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// Header is one newc record as stored: the fields of cpio.Info plus what
// a reader needs to know about where it was.
type Header struct {
	cpio.Info
	// Offset is where the record's header starts in the archive.
	Offset int64
}

// ModTime returns the record's mtime.
func (h *Header) ModTime() time.Time { return time.Unix(int64(h.MTime), 0).UTC() }

// Limits that keep a malformed archive from making the reader allocate
// without bound. Linux's PATH_MAX is 4096.
const maxNameLen = 4096

// Reader reads a newc archive (magic 070701, or 070702 with checksums,
// which are not verified) record by record from a stream, like
// archive/tar.Reader: Next returns each header, Read its content.
type Reader struct {
	r       *bufio.Reader
	off     int64
	remain  int64 // content bytes of the current record not yet read
	pad     int64 // padding after the current record's content
	err     error // sticky
	trailer bool
}

// NewReader returns a Reader of the uncompressed archive in r (see
// Decompress for compressed ones).
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
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
	if n, err := io.ReadFull(r.r, raw[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("initramfs: newc at offset %d (%d bytes left): %w", start, n, ErrNoTrailer)
		}
		return nil, fmt.Errorf("initramfs: newc header at offset %d: %w", start, err)
	}
	r.off += int64(len(raw))
	magic := string(raw[:6])
	if magic != "070701" && magic != "070702" {
		return nil, fmt.Errorf("initramfs: newc header at offset %d: magic %q, want 070701", start, magic)
	}
	var f [13]uint64
	names := [13]string{"ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check"}
	for i := range f {
		field := raw[6+8*i : 14+8*i]
		v, err := strconv.ParseUint(string(field), 16, 32)
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
		return nil, fmt.Errorf("initramfs: newc name at offset %d: %w", r.off, unexpected(err))
	}
	r.off += int64(nameSize)
	if name[nameSize-1] != 0 {
		return nil, fmt.Errorf("initramfs: newc name at offset %d: not NUL-terminated", r.off-int64(nameSize))
	}
	if err := r.skip(pad4(r.off)); err != nil {
		return nil, err
	}
	h := &Header{Offset: start, Info: cpio.Info{
		Ino: f[0], Mode: f[1], UID: f[2], GID: f[3], NLink: f[4], MTime: f[5], FileSize: f[6],
		Major: f[7], Minor: f[8], Rmajor: f[9], Rminor: f[10],
		Name: string(name[:nameSize-1]),
	}}
	if h.Name == "" {
		return nil, fmt.Errorf("initramfs: newc header at offset %d: empty name", start)
	}
	if h.Name == cpio.Trailer {
		r.trailer = true
		return nil, io.EOF
	}
	r.remain = int64(h.FileSize)
	r.pad = pad4(r.off + r.remain)
	return h, nil
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
		r.err = fmt.Errorf("initramfs: newc content at offset %d: %w", r.off, io.ErrUnexpectedEOF)
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
		return fmt.Errorf("initramfs: newc at offset %d: %w", r.off, unexpected(err))
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
