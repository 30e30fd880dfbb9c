package rpminstall

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// payloadReader returns the decompressed cpio stream of an RPM payload,
// chosen by the header's PAYLOADCOMPRESSOR. It is our own selector, not
// go-rpmutils', because that one switches to a cgo zstd when cgo is on and
// vicroot must behave the same with and without cgo. The returned close
// function releases decoder resources.
func payloadReader(r io.Reader, compressor string) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	nop := func() {}
	switch compressor {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip payload: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case "bzip2":
		return bzip2.NewReader(br), nop, nil
	case "xz":
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("xz payload: %w", err)
		}
		return zr, nop, nil
	case "lzma":
		// The legacy lzma header's dictionary size is trusted by the
		// decoder for its allocation; cap it above what `lzma -9` uses.
		zr, err := lzma.ReaderConfig{DictCap: 128 << 20}.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("lzma payload: %w", err)
		}
		return zr, nop, nil
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd payload: %w", err)
		}
		return zr, zr.Close, nil
	case "", "uncompressed", "identity", "none":
		// rpm reads a payload without the tag through its gzip layer, which
		// passes plain data through; do the same.
		magic, _ := br.Peek(2)
		if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			return payloadReader(br, "gzip")
		}
		return br, nop, nil
	default:
		return nil, nil, fmt.Errorf("unknown payload compressor %q", compressor)
	}
}
