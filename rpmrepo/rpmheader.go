package rpmrepo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The on-disk layout of an .rpm file: a 96-byte lead, the signature header
// (padded to 8 bytes), the main header, then the compressed payload. Our own
// reader, not go-rpmutils': it bounds every count and offset so a malformed
// header is an error, never a panic, and it keeps the exact bytes that the
// signatures and digests cover.

const (
	leadSize = 96
	// Limits as rpm's header.c sets them (hdrchkTags, hdrchkData).
	maxHeaderEntries = 0xffff
	maxHeaderData    = 0x0fffffff
	// rpm refuses signature headers above 64 KiB of data in practice; be
	// generous but bounded (a V3/V4 RSA-4096 packet is ~550 bytes).
	maxSigHeaderData = 64 << 20
)

// ErrMalformedRPM is wrapped by every error about an .rpm file whose lead
// or headers cannot be read.
var ErrMalformedRPM = errors.New("malformed rpm")

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
)

// Header tag types.
const (
	typeNull        = 0
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// Signature header tags (rpmtag.h, RPMSIGTAG_*).
const (
	sigTagSize          = 1000
	sigTagPGP           = 1002
	sigTagMD5           = 1004
	sigTagGPG           = 1005
	sigTagDSAHeader     = 267
	sigTagRSAHeader     = 268
	sigTagSHA1Header    = 269
	sigTagLongSize      = 270
	sigTagSHA256Header  = 273
	tagPayloadDigest    = 5092
	tagPayloadDigestAlg = 5093
)

// header is one parsed RPM header structure: its index and data store,
// and Raw, the exact bytes from the 8-byte magic to the end of the data
// (what RSAHEADER/DSAHEADER sign and the header digests cover).
type header struct {
	entries []headerEntry
	data    []byte
	Raw     []byte
}

type headerEntry struct {
	Tag, Type, Offset, Count uint32
}

// readHeader reads one header structure from r. maxData bounds the data
// store; what names the header in errors ("signature header").
func readHeader(r io.Reader, maxData uint32, what string) (*header, error) {
	var pre [16]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%s: %w: reading magic and sizes: %v", what, ErrMalformedRPM, noEOF(err))
	}
	if !bytes.Equal(pre[:8], headerMagic) {
		return nil, fmt.Errorf("%s: %w: bad magic % x", what, ErrMalformedRPM, pre[:8])
	}
	il := binary.BigEndian.Uint32(pre[8:12])
	dl := binary.BigEndian.Uint32(pre[12:16])
	if il == 0 || il > maxHeaderEntries {
		return nil, fmt.Errorf("%s: %w: %d index entries (want 1..%d)", what, ErrMalformedRPM, il, maxHeaderEntries)
	}
	if dl > maxData {
		return nil, fmt.Errorf("%s: %w: %d data bytes (limit %d)", what, ErrMalformedRPM, dl, maxData)
	}
	n := 16 + int(il)*16 + int(dl)
	raw := make([]byte, n)
	copy(raw, pre[:])
	if _, err := io.ReadFull(r, raw[16:]); err != nil {
		return nil, fmt.Errorf("%s: %w: truncated (want %d bytes): %v", what, ErrMalformedRPM, n, noEOF(err))
	}
	h := &header{Raw: raw, data: raw[16+int(il)*16:], entries: make([]headerEntry, il)}
	for i := range h.entries {
		b := raw[16+i*16:]
		e := headerEntry{
			Tag:    binary.BigEndian.Uint32(b[0:]),
			Type:   binary.BigEndian.Uint32(b[4:]),
			Offset: binary.BigEndian.Uint32(b[8:]),
			Count:  binary.BigEndian.Uint32(b[12:]),
		}
		if e.Type > typeI18NString {
			return nil, fmt.Errorf("%s: %w: tag %d has unknown type %d", what, ErrMalformedRPM, e.Tag, e.Type)
		}
		if e.Offset > dl {
			return nil, fmt.Errorf("%s: %w: tag %d offset %d beyond data (%d bytes)", what, ErrMalformedRPM, e.Tag, e.Offset, dl)
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

func (h *header) find(tag uint32) (headerEntry, bool) {
	for _, e := range h.entries {
		if e.Tag == tag {
			return e, true
		}
	}
	return headerEntry{}, false
}

// bin returns a BIN tag's bytes (nil, false when absent).
func (h *header) bin(tag uint32) ([]byte, bool, error) {
	e, ok := h.find(tag)
	if !ok {
		return nil, false, nil
	}
	if e.Type != typeBin {
		return nil, true, fmt.Errorf("%w: tag %d has type %d, want BIN", ErrMalformedRPM, tag, e.Type)
	}
	end := uint64(e.Offset) + uint64(e.Count)
	if end > uint64(len(h.data)) {
		return nil, true, fmt.Errorf("%w: tag %d (%d bytes at %d) runs past the data store", ErrMalformedRPM, tag, e.Count, e.Offset)
	}
	return h.data[e.Offset:end], true, nil
}

// strings returns a STRING, STRING_ARRAY or I18NSTRING tag's values.
func (h *header) strings(tag uint32) ([]string, bool, error) {
	e, ok := h.find(tag)
	if !ok {
		return nil, false, nil
	}
	switch e.Type {
	case typeString, typeStringArray, typeI18NString:
	default:
		return nil, true, fmt.Errorf("%w: tag %d has type %d, want a string", ErrMalformedRPM, tag, e.Type)
	}
	if e.Type == typeString && e.Count != 1 {
		return nil, true, fmt.Errorf("%w: STRING tag %d has count %d", ErrMalformedRPM, tag, e.Count)
	}
	if uint64(e.Count) > uint64(len(h.data)) {
		return nil, true, fmt.Errorf("%w: tag %d count %d exceeds the data store", ErrMalformedRPM, tag, e.Count)
	}
	d := h.data[e.Offset:]
	out := make([]string, 0, e.Count)
	for i := uint32(0); i < e.Count; i++ {
		j := bytes.IndexByte(d, 0)
		if j < 0 {
			return nil, true, fmt.Errorf("%w: tag %d: string %d not NUL-terminated", ErrMalformedRPM, tag, i)
		}
		out = append(out, string(d[:j]))
		d = d[j+1:]
	}
	return out, true, nil
}

// int32s returns an INT32 tag's values.
func (h *header) int32s(tag uint32) ([]uint32, bool, error) {
	e, ok := h.find(tag)
	if !ok {
		return nil, false, nil
	}
	if e.Type != typeInt32 {
		return nil, true, fmt.Errorf("%w: tag %d has type %d, want INT32", ErrMalformedRPM, tag, e.Type)
	}
	end := uint64(e.Offset) + 4*uint64(e.Count)
	if end > uint64(len(h.data)) || e.Offset%4 != 0 {
		return nil, true, fmt.Errorf("%w: INT32 tag %d (count %d at %d) misaligned or past the data store", ErrMalformedRPM, tag, e.Count, e.Offset)
	}
	out := make([]uint32, e.Count)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(h.data[int(e.Offset)+4*i:])
	}
	return out, true, nil
}

// rpmFile is an .rpm file's signature header and main header; the payload
// follows in the reader the file was read from.
type rpmFile struct {
	sig  *header
	main *header
}

// readRPMHeaders reads the lead, the signature header and its padding, and
// the main header from r, leaving r at the start of the payload.
func readRPMHeaders(r io.Reader) (*rpmFile, error) {
	var lead [leadSize]byte
	if _, err := io.ReadFull(r, lead[:]); err != nil {
		return nil, fmt.Errorf("lead: %w: %v", ErrMalformedRPM, noEOF(err))
	}
	if !bytes.Equal(lead[:4], leadMagic) {
		return nil, fmt.Errorf("lead: %w: not an rpm file (magic % x)", ErrMalformedRPM, lead[:4])
	}
	// Lead bytes 78-79: signature type; 5 is the header-style signature
	// every rpm since 3.0 writes.
	if st := binary.BigEndian.Uint16(lead[78:80]); st != 5 {
		return nil, fmt.Errorf("lead: %w: signature type %d, want 5", ErrMalformedRPM, st)
	}
	sig, err := readHeader(r, maxSigHeaderData, "signature header")
	if err != nil {
		return nil, err
	}
	if pad := (8 - len(sig.data)%8) % 8; pad > 0 {
		var p [8]byte
		if _, err := io.ReadFull(r, p[:pad]); err != nil {
			return nil, fmt.Errorf("signature header padding: %w: %v", ErrMalformedRPM, noEOF(err))
		}
	}
	main, err := readHeader(r, maxHeaderData, "main header")
	if err != nil {
		return nil, err
	}
	return &rpmFile{sig: sig, main: main}, nil
}

var errNotString = errors.New("not a single string")

// string1 returns a single-string tag.
func (h *header) string1(tag uint32) (string, bool, error) {
	s, ok, err := h.strings(tag)
	if err != nil || !ok {
		return "", ok, err
	}
	if len(s) != 1 {
		return "", true, fmt.Errorf("%w: tag %d: %w", ErrMalformedRPM, tag, errNotString)
	}
	return s[0], true, nil
}
