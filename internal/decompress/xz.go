package decompress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/therootcompany/xz"
)

// xz decoding: github.com/therootcompany/xz, a Go port of XZ Embedded
// (the decoder of the Linux kernel and of busybox) under CC0, decodes RPM
// payloads and modules 1.3 to 2 times as fast as github.com/ulikunitz/xz's
// decoder (BenchmarkXzDecode), with a handful of allocations per stream
// instead of thousands, and reads the BCJ and delta filters, which
// ulikunitz/xz refuses. ulikunitz/xz remains the encoder and the legacy
// .lzma decoder.

// xzDictUnbounded is the dictMax of a decoder that takes the dictionary
// size each block header declares, as xz(1) does without a memory limit:
// LZMA2's largest, 4 GiB - 1. The decoder allocates the declared size when
// it reads a block header, not up front, unless the buffer it has is big
// enough; NewXzReaderAt lowers the declared sizes to what each block needs
// before the decoder sees them, which bounds the memory of the streams it
// recognises (a single stream, as RPM payloads and modules are).
const xzDictUnbounded = ^uint32(0)

// xzPool keeps idle decoders of dictMax xzDictUnbounded (*xzDecoder): a
// decoder keeps its dictionary and buffers across Reset, so a module or
// payload decoded after another reuses them instead of allocating and
// clearing its own. It never shrinks its dictionary, so only a decoder
// whose stream's dictionaries were all known (NewXzReaderAt's bounded
// streams) and at most xzPoolDict goes back to the pool: one that read a
// stream declaring a bigger dictionary (up to 4 GiB, allocated when its
// block header is read) or a stream read as it comes (NewReader, with no
// index to bound it) is dropped after it, so that such a buffer is not
// kept and reused by every later stream.
var xzPool sync.Pool

// xzPoolDict is the largest dictionary of a pooled decoder: 1 MiB, what a
// kernel module's stream needs. A decoder that held a big payload's
// dictionary is dropped after it, so that idle decoders do not keep the
// big payloads' dictionaries alive (a cold build of the test repository's
// bootstrap peaked at 90 MiB with 64 MiB here and at 74 MiB with 1 MiB, at
// the same CPU time: the reuse that pays is the modules').
const xzPoolDict = 1 << 20

// xzDecoder is a decoder and the buffer it reads its input through (the
// decoder reads 8 KiB at a time; a payload is read from its file in 64 KiB
// reads).
type xzDecoder struct {
	z  *xz.Reader
	br *bufio.Reader
}

// newXzReader is the one place an xz decoder is made: r's stream decoded,
// a block declaring a dictionary over dictMax refused (0 is
// xzDictUnbounded). dict is the largest dictionary r's blocks declare, 0
// when unknown. A decoder of dictMax xzDictUnbounded comes from xzPool,
// and Close gives it back when dict is known and at most xzPoolDict.
func newXzReader(r io.Reader, dictMax uint32, dict uint64) (rc io.ReadCloser, err error) {
	if dictMax == 0 {
		dictMax = xzDictUnbounded
	}
	xr := &xzReader{pooled: dictMax == xzDictUnbounded && dict != 0 && dict <= xzPoolDict}
	defer func() {
		if p := recover(); p != nil {
			// The decoder's state is unknown: it is not pooled again.
			rc, err = nil, xzError("at the start of the stream", panicError(p))
		}
	}()
	if dictMax == xzDictUnbounded {
		xr.d, _ = xzPool.Get().(*xzDecoder)
	}
	if xr.d != nil {
		xr.d.br.Reset(r)
		err = xr.d.z.Reset(xr.d.br)
	} else {
		xr.d = &xzDecoder{br: bufio.NewReaderSize(r, 64<<10)}
		xr.d.z, err = xz.NewReader(xr.d.br, dictMax)
	}
	if err != nil {
		xr.Close()
		return nil, xzError("at the start of the stream", err)
	}
	return xr, nil
}

// xzReader reads one xz decoder's output, turning a panic of the decoder
// into an error and naming the uncompressed offset of an error.
type xzReader struct {
	d      *xzDecoder
	pooled bool
	out    int64 // uncompressed bytes read so far
	err    error
}

func (r *xzReader) Read(p []byte) (n int, err error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.d == nil {
		return 0, errors.New("xz: read after close")
	}
	defer func() {
		if p := recover(); p != nil {
			r.d, r.pooled = nil, false
			n, err = 0, xzError(fmt.Sprintf("at uncompressed byte %d", r.out), panicError(p))
			r.err = err
		}
	}()
	n, err = r.d.z.Read(p)
	r.out += int64(n)
	if err != nil && err != io.EOF {
		err = xzError(fmt.Sprintf("at uncompressed byte %d", r.out), err)
		r.err = err
	}
	return n, err
}

// Close gives the decoder back to the pool; further reads fail.
func (r *xzReader) Close() error {
	if r.d != nil && r.pooled {
		r.d.br.Reset(nil)
		xzPool.Put(r.d)
	}
	r.d = nil
	return nil
}

// xzMeaning says what the decoder's terse errors mean.
var xzMeaning = map[error]string{
	xz.ErrUnsupportedCheck: "unsupported integrity check type",
	xz.ErrMemlimit:         "a block's dictionary is larger than allowed",
	xz.ErrFormat:           "not an xz stream (bad magic bytes)",
	xz.ErrOptions:          "unsupported options (a filter, flag or property this decoder does not know)",
	xz.ErrData:             "corrupt data (a header, block, check, index, footer or padding is wrong)",
	xz.ErrBuf:              "truncated or corrupt data",
}

// xzError is an error of the decoder at where, saying what it means; it
// wraps the decoder's error (xz.ErrData, ...).
func xzError(where string, err error) error {
	what, ok := xzMeaning[err]
	if !ok {
		what = err.Error()
	}
	return &xzErr{where, what, err}
}

type xzErr struct {
	where, what string
	err         error
}

func (e *xzErr) Error() string { return "xz: " + e.where + ": " + e.what }
func (e *xzErr) Unwrap() error { return e.err }

// errXzPanic is wrapped by the error for a panic of the decoder.
var errXzPanic = errors.New("decoder failed on malformed input")

func panicError(p any) error { return fmt.Errorf("%w (panic: %v)", errXzPanic, p) }
