// Package decompress is vicroot's one decompressor chooser: it names the
// compression of a stream from its magic bytes, a file name's suffix or an
// RPM header's PAYLOADCOMPRESSOR, and opens the matching pure-Go decoder
// (never a cgo one, so vicroot behaves the same with cgo on or off), each
// bounded against hostile input.
package decompress

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"
)

// Format is a compression format.
type Format int

// The formats: None passes the stream through.
const (
	None Format = iota
	Gzip
	Xz
	Zstd
	Bzip2
	Lzma
	Zchunk // recognised by name only, never decoded
)

var names = [...]string{None: "none", Gzip: "gzip", Xz: "xz", Zstd: "zstd", Bzip2: "bzip2", Lzma: "lzma", Zchunk: "zchunk"}

func (f Format) String() string {
	if f >= 0 && int(f) < len(names) {
		return names[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ErrUnsupported is returned (wrapped) for a format no decoder here reads.
var ErrUnsupported = errors.New("unsupported compression")

var magics = []struct {
	f     Format
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Bzip2, []byte("BZh")},
}

// MagicLen is how many leading bytes ByMagic needs at most.
const MagicLen = 6

// ByMagic names the format whose magic b starts with, or None.
func ByMagic(b []byte) Format {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			return m.f
		}
	}
	return None
}

// ByName names the format a file name's suffix says: .gz, .xz, .zst, .bz2,
// .lzma, .zck, else None.
func ByName(name string) Format {
	for _, s := range []struct {
		suffix string
		f      Format
	}{{".gz", Gzip}, {".xz", Xz}, {".zst", Zstd}, {".bz2", Bzip2}, {".lzma", Lzma}, {".zck", Zchunk}} {
		if strings.HasSuffix(name, s.suffix) {
			return s.f
		}
	}
	return None
}

// ByRPMCompressor names the format of an RPM payload from its
// PAYLOADCOMPRESSOR tag. An empty tag (or "uncompressed", "identity",
// "none") is None: rpm then reads the payload through its gzip layer,
// which passes plain data through, so callers should sniff with Sniff.
func ByRPMCompressor(s string) (Format, error) {
	switch s {
	case "gzip":
		return Gzip, nil
	case "bzip2":
		return Bzip2, nil
	case "xz":
		return Xz, nil
	case "lzma":
		return Lzma, nil
	case "zstd":
		return Zstd, nil
	case "", "uncompressed", "identity", "none":
		return None, nil
	}
	return None, fmt.Errorf("payload compressor %q: %w", s, ErrUnsupported)
}

// Options bound the decoders.
type Options struct {
	// MaxMemory caps the zstd decoder's window and frame buffers and the
	// xz decoder's dictionary; zero keeps the zstd decoder's default (64
	// MiB windows) and takes the dictionary an xz block declares, as
	// xz(1) does: up to 4 GiB, allocated (not touched) when the block
	// header is read, so a stream from an untrusted source wants a cap.
	MaxMemory uint64
}

// UntrustedMaxMemory is the MaxMemory for streams whose sender could ask
// for any dictionary or window (repository metadata, an ISO's initramfs):
// four times what `xz -9` or `zstd --ultra -22` use, far below the 4 GiB an
// xz block may declare.
const UntrustedMaxMemory = 256 << 20

// xzDictMax is the xz decoder's dictMax for Options.MaxMemory.
func xzDictMax(maxMemory uint64) uint32 {
	if maxMemory == 0 || maxMemory >= uint64(xzDictUnbounded) {
		return xzDictUnbounded
	}
	return uint32(maxMemory)
}

// lzmaDictCap caps the legacy lzma header's dictionary size, which the
// decoder trusts for its allocation; `lzma -9` uses 64 MiB.
const lzmaDictCap = 128 << 20

// NewReader returns the decompressed stream of r in format f; Close
// releases the decoder (it does not close r).
func NewReader(r io.Reader, f Format, opts Options) (io.ReadCloser, error) {
	switch f {
	case None:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Xz:
		return newXzReader(r, xzDictMax(opts.MaxMemory), 0)
	case Zstd:
		zo := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true)}
		if opts.MaxMemory > 0 {
			zo = append(zo, zstd.WithDecoderMaxMemory(opts.MaxMemory))
		}
		zr, err := zstd.NewReader(r, zo...)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case Lzma:
		lr, err := lzma.ReaderConfig{DictCap: lzmaDictCap}.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("lzma: %w", err)
		}
		return io.NopCloser(lr), nil
	}
	return nil, fmt.Errorf("%v: %w", f, ErrUnsupported)
}

// Sniff reads the first bytes of r, names their format with ByMagic and
// returns the decompressed stream (r itself, buffered, when None).
func Sniff(r io.Reader, opts Options) (io.ReadCloser, Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(MagicLen)
	if err != nil && len(magic) == 0 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, None, fmt.Errorf("read magic: %w", err)
	}
	f := ByMagic(magic)
	rc, err := NewReader(br, f, opts)
	return rc, f, err
}
