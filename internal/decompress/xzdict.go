package decompress

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// NewXzReaderAt is NewReader(r, Xz) for an xz stream whose end is known
// (size bytes of r): the decoder's dictionary is bounded by what each
// block decompresses to, read from the stream's index, instead of the
// dictionary size the encoder chose. The decoder allocates the dictionary
// a block header declares, so a 100 KiB kernel module compressed with
// `xz -6` would cost an 8 MiB buffer; an RPM payload one of its own size
// at most.
//
// The output is the same: an LZMA2 match never reaches back further than
// the bytes decoded so far in its block, and a dictionary at least that
// big holds them all (a match beyond it would be an error, never other
// bytes). The index is only a hint: the decoder checks it against the
// blocks, and a stream this does not recognise (several streams, padding)
// is read with the encoder's dictionary.
func NewXzReaderAt(r io.ReaderAt, size int64) (io.ReadCloser, error) {
	src, dict := xzSource(r, size)
	return newXzReader(src, xzDictUnbounded, dict)
}

// xzSource is the stream of size bytes of r with each block's dictionary
// bounded by xzBoundDict, and the largest dictionary its blocks declare
// then; or the stream as it is and 0 when xzBoundDict does not recognise
// it.
func xzSource(r io.ReaderAt, size int64) (io.Reader, uint64) {
	if parts, dict, ok := xzBoundDict(r, size); ok {
		return io.MultiReader(parts...), dict
	}
	return io.NewSectionReader(r, 0, size), 0
}

// xz container constants.
const (
	xzHeaderLen = 12
	xzFooterLen = 12
	xzLZMA2     = 0x21
)

// xzBoundDict returns the stream as pieces, each block header rewritten
// with the smallest dictionary that holds the block's output (never a
// bigger one than it had), and the largest of those dictionaries; ok is
// false when the stream is not one plain xz stream of blocks whose filter
// chain ends in LZMA2.
func xzBoundDict(r io.ReaderAt, size int64) (parts []io.Reader, dict uint64, ok bool) {
	if size < xzHeaderLen+xzFooterLen {
		return nil, 0, false
	}
	var foot [xzFooterLen]byte
	if _, err := r.ReadAt(foot[:], size-xzFooterLen); err != nil || foot[10] != 'Y' || foot[11] != 'Z' {
		return nil, 0, false
	}
	indexLen := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	indexOff := size - xzFooterLen - indexLen
	// The index is at least its indicator, a count, padding and its CRC32.
	if indexLen < 8 || indexLen > 1<<20 || indexOff < xzHeaderLen {
		return nil, 0, false
	}
	index := make([]byte, indexLen)
	if _, err := r.ReadAt(index, indexOff); err != nil || index[0] != 0 {
		return nil, 0, false
	}
	rd := bytes.NewReader(index[1 : len(index)-4])
	n, err := binary.ReadUvarint(rd)
	if err != nil || n == 0 || n > 1<<16 {
		return nil, 0, false
	}
	off := int64(xzHeaderLen)
	for i := uint64(0); i < n; i++ {
		unpadded, err1 := binary.ReadUvarint(rd)
		plain, err2 := binary.ReadUvarint(rd)
		if err1 != nil || err2 != nil || unpadded > uint64(size) {
			return nil, 0, false
		}
		hdr, d, ok := xzBlockHeader(r, off, plain)
		if !ok {
			return nil, 0, false
		}
		dict = max(dict, d)
		parts = append(parts, bytes.NewReader(hdr))
		// The block's data after its header; the next block starts at
		// its padded end.
		end := off + (int64(unpadded)+3)/4*4
		if end > indexOff {
			return nil, 0, false
		}
		parts = append(parts, io.NewSectionReader(r, off+int64(len(hdr)), end-off-int64(len(hdr))))
		off = end
	}
	if off != indexOff {
		return nil, 0, false
	}
	head := io.NewSectionReader(r, 0, xzHeaderLen)
	tail := io.NewSectionReader(r, indexOff, size-indexOff)
	return append(append([]io.Reader{head}, parts...), tail), dict, true
}

// xzBlockHeader reads the block header at off and returns it with its
// LZMA2 dictionary size lowered to the smallest that holds plain bytes,
// and that size.
func xzBlockHeader(r io.ReaderAt, off int64, plain uint64) ([]byte, uint64, bool) {
	var b [1]byte
	if _, err := r.ReadAt(b[:], off); err != nil || b[0] == 0 {
		return nil, 0, false
	}
	hdr := make([]byte, (int(b[0])+1)*4)
	if _, err := r.ReadAt(hdr, off); err != nil {
		return nil, 0, false
	}
	body := hdr[:len(hdr)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(hdr[len(hdr)-4:]) {
		return nil, 0, false
	}
	flags := body[1]
	if flags&0x3c != 0 { // reserved bits
		return nil, 0, false
	}
	rd := bytes.NewReader(body[2:])
	if flags&0x40 != 0 {
		if _, err := binary.ReadUvarint(rd); err != nil {
			return nil, 0, false
		}
	}
	if flags&0x80 != 0 {
		if _, err := binary.ReadUvarint(rd); err != nil {
			return nil, 0, false
		}
	}
	// Filters before the last (BCJ, delta) change no sizes; the last
	// is LZMA2 with its one property byte, the dictionary size.
	for i := byte(0); i < flags&3; i++ {
		_, err1 := binary.ReadUvarint(rd)
		psize, err2 := binary.ReadUvarint(rd)
		if err1 != nil || err2 != nil || psize > uint64(rd.Len()) {
			return nil, 0, false
		}
		rd.Seek(int64(psize), io.SeekCurrent)
	}
	id, err1 := binary.ReadUvarint(rd)
	psize, err2 := binary.ReadUvarint(rd)
	if err1 != nil || err2 != nil || id != xzLZMA2 || psize != 1 {
		return nil, 0, false
	}
	at := len(body) - rd.Len() // the dictionary size byte
	if at >= len(body) || body[at] > 40 {
		return nil, 0, false
	}
	for d := byte(0); d < body[at]; d++ {
		if xzDictSize(d) >= plain {
			body[at] = d
			break
		}
	}
	binary.LittleEndian.PutUint32(hdr[len(hdr)-4:], crc32.ChecksumIEEE(body))
	dict := uint64(1<<32 - 1) // 40: 4 GiB - 1
	if body[at] < 40 {
		dict = xzDictSize(body[at])
	}
	return hdr, dict, true
}

// xzDictSize is the dictionary size an LZMA2 property byte (0..39) encodes.
func xzDictSize(b byte) uint64 {
	return uint64(2|b&1) << (b/2 + 11)
}
