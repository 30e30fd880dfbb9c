package initramfs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/vicroot/vicroot/internal/decompress"
)

// Compression is how the archive is compressed.
type Compression int

// The compressions the Linux kernel can unpack an initramfs from and that
// this package writes. Gzip is the default, as in VIC.
const (
	Gzip Compression = iota
	Xz
	Zstd
	None
)

var compressionNames = [...]string{Gzip: "gzip", Xz: "xz", Zstd: "zstd", None: "none"}

func (c Compression) String() string {
	if c >= 0 && int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Compress returns a writer that compresses to w; Close flushes it (and
// does not close w), and must be called. The output depends only on the
// input bytes: the gzip header has no name and no time; gzip compresses
// 1 MiB blocks on every core, each primed with the previous block's tail
// (pgzip's stream), so the bytes do not depend on how many run at once; xz
// and zstd run single-threaded.
func Compress(w io.Writer, c Compression) (io.WriteCloser, error) {
	return compress(w, c, runtime.GOMAXPROCS(0))
}

// compress is Compress with gzip on workers goroutines.
func compress(w io.Writer, c Compression, workers int) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		// Level 3 of klauspost/compress still uses its fast matchers and
		// comes out about the size of VIC's `gzip --fast` (370 against
		// 366 MiB on 954 MiB of /usr/lib/x86_64-linux-gnu; level 1 gives
		// 391 MiB). The kernel unpacks any level equally fast.
		zw, err := newGzipWriter(w, workers)
		if err != nil {
			return nil, fmt.Errorf("initramfs: gzip: %w", err)
		}
		return zw, nil
	case Xz:
		// The kernel's xz decoder accepts CRC32 (and no check) only.
		cfg := xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 8 << 20}
		xw, err := cfg.NewWriter(w)
		if err != nil {
			return nil, fmt.Errorf("initramfs: xz: %w", err)
		}
		return xw, nil
	case Zstd:
		// A window the kernel's zstd decoder is sure to accept.
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20))
		if err != nil {
			return nil, fmt.Errorf("initramfs: zstd: %w", err)
		}
		return zw, nil
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("initramfs: unknown compression %v", c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Decompress detects the compression of r from its magic bytes and returns
// the decompressed stream. An uncompressed newc archive is returned as is.
// An xz dictionary or zstd window over decompress.UntrustedMaxMemory is
// refused: the archive may come from anyone's ISO (verify, inspect, diff).
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(decompress.MagicLen)
	if err != nil && len(magic) == 0 {
		return nil, 0, fmt.Errorf("initramfs: read magic: %w", unexpected(err))
	}
	var c Compression
	switch decompress.ByMagic(magic) {
	case decompress.Gzip:
		c = Gzip
	case decompress.Xz:
		c = Xz
	case decompress.Zstd:
		c = Zstd
	case decompress.None:
		if !bytes.HasPrefix(magic, []byte("0707")) {
			return nil, 0, fmt.Errorf("initramfs: unknown archive format (magic % x)", magic)
		}
		return io.NopCloser(br), None, nil
	default:
		return nil, 0, fmt.Errorf("initramfs: %v archives are not read (magic % x)", decompress.ByMagic(magic), magic)
	}
	rc, _, err := decompress.Sniff(br, decompress.Options{MaxMemory: decompress.UntrustedMaxMemory})
	if err != nil {
		return nil, c, fmt.Errorf("initramfs: %w", err)
	}
	return rc, c, nil
}

// Write packs fsys with WriteCPIO and compresses it with c onto w.
func Write(ctx context.Context, w io.Writer, fsys fs.FS, c Compression, opts Options) error {
	cw, err := Compress(w, c)
	if err != nil {
		return err
	}
	if err := WriteCPIO(ctx, cw, fsys, opts); err != nil {
		cw.Close()
		return err
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("initramfs: finish %v stream: %w", c, err)
	}
	return nil
}
