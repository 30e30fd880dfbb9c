package rpminstall

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The cpio reader for RPM payloads. go-rpmutils has one, but it trusts the
// archive's name and file sizes for its allocations (a lying size allocates
// gigabytes) and panics on a zero name size; payloads are parsed here with
// every field bounded instead.

const (
	newcHeaderLen = 110
	maxNameSize   = 4096 + 1 // PATH_MAX plus the NUL
	cpioTrailer   = "TRAILER!!!"
)

// cpioEntry is one archive member: either named (newc) or, in rpm's
// stripped format for large packages ("07070X"), an index into the
// header's file list.
type cpioEntry struct {
	name     string
	index    int // stripped format only; -1 otherwise
	filesize int64
	mode     uint32
}

type newcReader struct {
	r      *bufio.Reader
	off    int64
	remain int64 // unread bytes of the current member's data
	pad    int64 // padding after the current member's data
	// sizes are the header's file sizes, for stripped entries.
	sizes []int64
}

var errTrailer = errors.New("cpio trailer")

func (c *newcReader) read(p []byte) error {
	n, err := io.ReadFull(c.r, p)
	c.off += int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (c *newcReader) skip(n int64) error {
	m, err := c.r.Discard(int(n))
	c.off += int64(m)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

// next advances to the next member, skipping unread data of the current
// one. It returns errTrailer at the end of the archive.
func (c *newcReader) next() (*cpioEntry, error) {
	if err := c.skip(c.remain + c.pad); err != nil {
		return nil, fmt.Errorf("cpio at offset %d: %w", c.off, err)
	}
	c.remain, c.pad = 0, 0
	start := c.off
	var magic [6]byte
	if err := c.read(magic[:]); err != nil {
		return nil, fmt.Errorf("cpio header at offset %d: %w", start, err)
	}
	switch string(magic[:]) {
	case "070701", "070702":
	case "07070X":
		var idx [8]byte
		if err := c.read(idx[:]); err != nil {
			return nil, fmt.Errorf("cpio stripped header at offset %d: %w", start, err)
		}
		v, err := parseHex(idx[:])
		if err != nil {
			return nil, fmt.Errorf("cpio stripped header at offset %d: index: %w", start, err)
		}
		if int(v) >= len(c.sizes) {
			return nil, fmt.Errorf("cpio stripped header at offset %d: file index %d out of range (header lists %d files)", start, v, len(c.sizes))
		}
		size := c.sizes[v]
		c.remain, c.pad = size, pad4(size)
		return &cpioEntry{index: int(v), filesize: size}, nil
	default:
		return nil, fmt.Errorf("cpio header at offset %d: bad magic %q", start, magic[:])
	}
	var h [newcHeaderLen - 6]byte
	if err := c.read(h[:]); err != nil {
		return nil, fmt.Errorf("cpio header at offset %d: %w", start, err)
	}
	var f [13]uint32
	for i := range f {
		v, err := parseHex(h[i*8 : i*8+8])
		if err != nil {
			return nil, fmt.Errorf("cpio header at offset %d: field %d: %w", start, i, err)
		}
		f[i] = v
	}
	mode, filesize, namesize := f[1], f[6], f[11]
	if namesize == 0 || namesize > maxNameSize {
		return nil, fmt.Errorf("cpio header at offset %d: name size %d out of range 1..%d", start, namesize, maxNameSize)
	}
	name := make([]byte, namesize)
	if err := c.read(name); err != nil {
		return nil, fmt.Errorf("cpio name at offset %d: %w", start, err)
	}
	if name[namesize-1] != 0 {
		return nil, fmt.Errorf("cpio name at offset %d: not NUL-terminated", start)
	}
	if err := c.skip(pad4(newcHeaderLen + int64(namesize))); err != nil {
		return nil, fmt.Errorf("cpio name padding at offset %d: %w", start, err)
	}
	e := &cpioEntry{name: string(name[:namesize-1]), index: -1, filesize: int64(filesize), mode: mode}
	if e.name == cpioTrailer {
		return nil, errTrailer
	}
	c.remain, c.pad = e.filesize, pad4(e.filesize)
	return e, nil
}

// readData reads exactly the current member's data. The caller has checked
// its size against the RPM header, so the allocation is what the (verified)
// header promised, and a short archive is an error rather than a hang.
func (c *newcReader) readData() ([]byte, error) {
	buf := make([]byte, 0, min(c.remain, 1<<20))
	for c.remain > 0 {
		chunk := min(c.remain, 1<<20)
		l := len(buf)
		buf = append(buf, make([]byte, chunk)...)
		if err := c.read(buf[l:]); err != nil {
			return nil, fmt.Errorf("cpio data at offset %d: %w", c.off, err)
		}
		c.remain -= chunk
	}
	return buf, nil
}

func parseHex(b []byte) (uint32, error) {
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad hex number %q", b)
	}
	return uint32(v), nil
}
