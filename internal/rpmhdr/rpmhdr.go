// Package rpmhdr reads the lead and the two header structures of an .rpm
// file — the one RPM header reader of vicroot, used both to verify packages
// (rpmrepo) and to install them (rootfs).
//
// Every count, offset and size is bounded before it is used, so a malformed
// header is an error naming what was wrong, never a panic or an allocation
// the file cannot back. A Header keeps the exact bytes the signatures and
// header digests cover (Raw).
package rpmhdr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LeadSize is the size of the lead that starts every .rpm file.
const LeadSize = 96

// Limits as rpm's header.c sets them (hdrchkTags, hdrchkData).
const (
	MaxEntries = 0xffff
	MaxData    = 0x0fffffff
	// MaxSigData bounds a signature header's data: rpm refuses far smaller
	// ones in practice (a V3/V4 RSA-4096 packet is ~550 bytes).
	MaxSigData = 64 << 20
)

// ErrMalformed is wrapped by every error about a lead or header that cannot
// be read.
var ErrMalformed = errors.New("malformed rpm")

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
)

// Tag data types.
const (
	TypeNull        = 0
	TypeChar        = 1
	TypeInt8        = 2
	TypeInt16       = 3
	TypeInt32       = 4
	TypeInt64       = 5
	TypeString      = 6
	TypeBin         = 7
	TypeStringArray = 8
	TypeI18NString  = 9
)

// intSize is the size of one value of each integer type.
var intSize = map[uint32]uint64{TypeChar: 1, TypeInt8: 1, TypeInt16: 2, TypeInt32: 4, TypeInt64: 8}

// Header is one parsed header structure: its index and data store, and Raw,
// the exact bytes from the 8-byte magic to the end of the data (what
// RSAHEADER/DSAHEADER sign and the header digests cover).
type Header struct {
	entries []Entry
	data    []byte
	Raw     []byte
}

// Entry is one index entry of a header.
type Entry struct {
	Tag, Type, Offset, Count uint32
}

// Read reads one header structure from r. maxData bounds the data store;
// limit, when not negative, is how many bytes r can still deliver, so that a
// header claiming more is refused before anything is allocated for it; what
// names the header in errors ("signature header").
func Read(r io.Reader, maxData uint32, limit int64, what string) (*Header, error) {
	var pre [16]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%s: %w: reading magic and sizes: %v", what, ErrMalformed, noEOF(err))
	}
	if !bytes.Equal(pre[:8], headerMagic) {
		return nil, fmt.Errorf("%s: %w: bad magic % x", what, ErrMalformed, pre[:8])
	}
	il := binary.BigEndian.Uint32(pre[8:12])
	dl := binary.BigEndian.Uint32(pre[12:16])
	if il == 0 || il > MaxEntries {
		return nil, fmt.Errorf("%s: %w: %d index entries (want 1..%d)", what, ErrMalformed, il, MaxEntries)
	}
	if dl > maxData {
		return nil, fmt.Errorf("%s: %w: %d data bytes (limit %d)", what, ErrMalformed, dl, maxData)
	}
	n := 16 + int(il)*16 + int(dl)
	if limit >= 0 && int64(n) > limit {
		return nil, fmt.Errorf("%s: %w: truncated: %d bytes claimed, %d left in the file", what, ErrMalformed, n, limit)
	}
	raw := make([]byte, n)
	copy(raw, pre[:])
	if _, err := io.ReadFull(r, raw[16:]); err != nil {
		return nil, fmt.Errorf("%s: %w: truncated (want %d bytes): %v", what, ErrMalformed, n, noEOF(err))
	}
	h := &Header{Raw: raw, data: raw[16+int(il)*16:], entries: make([]Entry, il)}
	for i := range h.entries {
		b := raw[16+i*16:]
		e := Entry{
			Tag:    binary.BigEndian.Uint32(b[0:]),
			Type:   binary.BigEndian.Uint32(b[4:]),
			Offset: binary.BigEndian.Uint32(b[8:]),
			Count:  binary.BigEndian.Uint32(b[12:]),
		}
		if e.Type > TypeI18NString {
			return nil, fmt.Errorf("%s: %w: tag %d has unknown type %d", what, ErrMalformed, e.Tag, e.Type)
		}
		if e.Offset > dl {
			return nil, fmt.Errorf("%s: %w: tag %d offset %d beyond data (%d bytes)", what, ErrMalformed, e.Tag, e.Offset, dl)
		}
		h.entries[i] = e
	}
	return h, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// File is an .rpm file's signature header and main header; the payload
// follows them at PayloadOffset.
type File struct {
	Sig, Main     *Header
	PayloadOffset int64
}

// ReadFile reads the lead, the signature header and its padding, and the
// main header from r, leaving r at the start of the payload. size, when not
// negative, is the file's size (see Read's limit).
func ReadFile(r io.Reader, size int64) (*File, error) {
	var lead [LeadSize]byte
	if _, err := io.ReadFull(r, lead[:]); err != nil {
		return nil, fmt.Errorf("lead: %w: %v", ErrMalformed, noEOF(err))
	}
	if !bytes.Equal(lead[:4], leadMagic) {
		return nil, fmt.Errorf("lead: %w: not an rpm file (magic % x)", ErrMalformed, lead[:4])
	}
	// Lead bytes 78-79: signature type; 5 is the header-style signature
	// every rpm since 3.0 writes.
	if st := binary.BigEndian.Uint16(lead[78:80]); st != 5 {
		return nil, fmt.Errorf("lead: %w: signature type %d, want 5", ErrMalformed, st)
	}
	off := int64(LeadSize)
	left := func() int64 {
		if size < 0 {
			return -1
		}
		return size - off
	}
	sig, err := Read(r, MaxSigData, left(), "signature header")
	if err != nil {
		return nil, err
	}
	off += int64(len(sig.Raw))
	if pad := (8 - len(sig.data)%8) % 8; pad > 0 {
		var p [8]byte
		if _, err := io.ReadFull(r, p[:pad]); err != nil {
			return nil, fmt.Errorf("signature header padding: %w: %v", ErrMalformed, noEOF(err))
		}
		off += int64(pad)
	}
	main, err := Read(r, MaxData, left(), "main header")
	if err != nil {
		return nil, err
	}
	off += int64(len(main.Raw))
	return &File{Sig: sig, Main: main, PayloadOffset: off}, nil
}

// Entries returns the header's index entries in file order.
func (h *Header) Entries() []Entry { return h.entries }

// Find returns the first entry for tag.
func (h *Header) Find(tag uint32) (Entry, bool) {
	for _, e := range h.entries {
		if e.Tag == tag {
			return e, true
		}
	}
	return Entry{}, false
}

// Has reports whether the header holds tag.
func (h *Header) Has(tag uint32) bool {
	_, ok := h.Find(tag)
	return ok
}

// Bin returns a BIN tag's bytes (nil, false when absent).
func (h *Header) Bin(tag uint32) ([]byte, bool, error) {
	e, ok := h.Find(tag)
	if !ok {
		return nil, false, nil
	}
	if e.Type != TypeBin {
		return nil, true, fmt.Errorf("%w: tag %d has type %d, want BIN", ErrMalformed, tag, e.Type)
	}
	end := uint64(e.Offset) + uint64(e.Count)
	if end > uint64(len(h.data)) {
		return nil, true, fmt.Errorf("%w: tag %d (%d bytes at %d) runs past the data store", ErrMalformed, tag, e.Count, e.Offset)
	}
	return h.data[e.Offset:end], true, nil
}

// Strings returns a STRING, STRING_ARRAY or I18NSTRING tag's values.
func (h *Header) Strings(tag uint32) ([]string, bool, error) {
	e, ok := h.Find(tag)
	if !ok {
		return nil, false, nil
	}
	switch e.Type {
	case TypeString, TypeStringArray, TypeI18NString:
	default:
		return nil, true, fmt.Errorf("%w: tag %d has type %d, want a string", ErrMalformed, tag, e.Type)
	}
	if e.Type == TypeString && e.Count != 1 {
		return nil, true, fmt.Errorf("%w: STRING tag %d has count %d", ErrMalformed, tag, e.Count)
	}
	if uint64(e.Count) > uint64(len(h.data)) {
		return nil, true, fmt.Errorf("%w: tag %d count %d exceeds the data store", ErrMalformed, tag, e.Count)
	}
	d := h.data[e.Offset:]
	out := make([]string, 0, e.Count)
	for i := uint32(0); i < e.Count; i++ {
		j := bytes.IndexByte(d, 0)
		if j < 0 {
			return nil, true, fmt.Errorf("%w: tag %d: string %d not NUL-terminated", ErrMalformed, tag, i)
		}
		out = append(out, string(d[:j]))
		d = d[j+1:]
	}
	return out, true, nil
}

// String returns a tag holding exactly one string.
func (h *Header) String(tag uint32) (string, bool, error) {
	s, ok, err := h.Strings(tag)
	if err != nil || !ok {
		return "", ok, err
	}
	if len(s) != 1 {
		return "", true, fmt.Errorf("%w: tag %d: %d strings, want one", ErrMalformed, tag, len(s))
	}
	return s[0], true, nil
}

// ints returns the entry of an integer tag whose values lie in the data
// store, naturally aligned as rpm requires (hdrchkAlign).
func (h *Header) ints(tag uint32) (Entry, uint64, bool, error) {
	e, ok := h.Find(tag)
	if !ok {
		return e, 0, false, nil
	}
	sz, isInt := intSize[e.Type]
	if !isInt {
		return e, 0, true, fmt.Errorf("%w: tag %d has type %d, want an integer", ErrMalformed, tag, e.Type)
	}
	end := uint64(e.Offset) + sz*uint64(e.Count)
	if end > uint64(len(h.data)) || uint64(e.Offset)%sz != 0 {
		return e, 0, true, fmt.Errorf("%w: integer tag %d (type %d, count %d at %d) misaligned or past the data store", ErrMalformed, tag, e.Type, e.Count, e.Offset)
	}
	return e, sz, true, nil
}

func (h *Header) value(e Entry, sz uint64, i int) uint64 {
	b := h.data[uint64(e.Offset)+sz*uint64(i):]
	switch sz {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}

// Int32s returns an INT32 tag's values; any other type is an error.
func (h *Header) Int32s(tag uint32) ([]uint32, bool, error) {
	e, ok := h.Find(tag)
	if ok && e.Type != TypeInt32 {
		return nil, true, fmt.Errorf("%w: tag %d has type %d, want INT32", ErrMalformed, tag, e.Type)
	}
	return h.Uint32s(tag)
}

// Uint32s returns a CHAR, INT8, INT16 or INT32 tag's values, widened.
func (h *Header) Uint32s(tag uint32) ([]uint32, bool, error) {
	e, sz, ok, err := h.ints(tag)
	if err != nil || !ok {
		return nil, ok, err
	}
	if sz > 4 {
		return nil, true, fmt.Errorf("%w: tag %d is INT64, want at most 32 bits", ErrMalformed, tag)
	}
	out := make([]uint32, e.Count)
	for i := range out {
		out[i] = uint32(h.value(e, sz, i))
	}
	return out, true, nil
}

// Uint64s returns any integer tag's values, widened.
func (h *Header) Uint64s(tag uint32) ([]uint64, bool, error) {
	e, sz, ok, err := h.ints(tag)
	if err != nil || !ok {
		return nil, ok, err
	}
	out := make([]uint64, e.Count)
	for i := range out {
		out[i] = h.value(e, sz, i)
	}
	return out, true, nil
}

// Main header tags of a package's identity (rpmtag.h).
const (
	TagName    = 1000
	TagVersion = 1001
	TagRelease = 1002
	TagEpoch   = 1003
	TagArch    = 1022
)

// NEVRA is a package's identity as its main header states it; Epoch is 0
// when the header has none.
type NEVRA struct {
	Name    string
	Epoch   uint64
	Version string
	Release string
	Arch    string
}

// NEVRA reads the name, epoch, version, release and arch tags; each but
// the epoch must be present.
func (h *Header) NEVRA() (NEVRA, error) {
	var s [4]string
	for i, tag := range []uint32{TagName, TagVersion, TagRelease, TagArch} {
		v, ok, err := h.String(tag)
		if err == nil && !ok {
			err = fmt.Errorf("%w: tag %d missing", ErrMalformed, tag)
		}
		if err != nil {
			return NEVRA{}, err
		}
		s[i] = v
	}
	n := NEVRA{Name: s[0], Version: s[1], Release: s[2], Arch: s[3]}
	epoch, _, err := h.Uint64s(TagEpoch)
	if err != nil {
		return NEVRA{}, err
	}
	if len(epoch) > 0 {
		n.Epoch = epoch[0]
	}
	return n, nil
}
