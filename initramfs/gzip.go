package initramfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// The gzip stream is pgzip's (github.com/klauspost/pgzip) with 1 MiB
// blocks, byte for byte: each block is deflated on its own, primed with the
// last 16 KiB of the block before, and ends with a sync flush; the last
// one (empty when the input is a whole number of blocks) also with the
// final block. The bytes do not depend on how many blocks are deflated at
// once. This writer makes them with a fixed set of buffers and one
// deflater per worker, where pgzip allocates a block's buffers and
// deflater anew whenever the garbage collector has emptied its pools.
const (
	gzipBlockSize = 1 << 20
	gzipTailSize  = 16 << 10
	gzipLevel     = 3
)

// gzipBlock is one block of input on its way through the writer.
type gzipBlock struct {
	in    []byte
	dict  []byte // the previous block's tail
	last  bool
	out   bytes.Buffer
	ready bool // deflated, waiting for the blocks before it (under mu)
}

// gzipWriter hands full blocks to its deflaters through jobs; the deflater
// that finishes the oldest unwritten block writes it, and any finished
// blocks after it, in stream order, and returns them to free. There is no
// output goroutine: a goroutine woken to write a finished block waits for a
// processor while both deflaters run on, and blocks it holds are blocks the
// producer lacks (the trace of BenchmarkWriteGzip showed it runnable for
// half of its life).
type gzipWriter struct {
	w     io.Writer
	cur   *gzipBlock
	tail  []byte // the last gzipTailSize bytes of the last block sent
	crc   uint32
	size  uint32
	free  chan *gzipBlock
	jobs  chan *gzipBlock // to the deflaters
	wg    sync.WaitGroup
	mu    sync.Mutex
	queue []*gzipBlock // sent and not yet written, in stream order
	// writing is set while a deflater writes finished blocks; the others
	// only mark theirs ready, and it writes them before it stops.
	writing bool
	err     error // the first write error
	closed  bool
}

// gzipBlocks is how many blocks the writer holds for workers deflaters:
// beside the ones being deflated, one being filled and as many again
// queued, so that a producer that waits for a processor or a read while
// both deflaters run does not leave them without work.
func gzipBlocks(workers int) int { return 2*workers + 2 }

// newGzipWriter starts workers deflaters; Close stops them.
func newGzipWriter(w io.Writer, workers int) (*gzipWriter, error) {
	workers = max(workers, 1)
	blocks := gzipBlocks(workers)
	z := &gzipWriter{
		w:     w,
		tail:  make([]byte, 0, gzipTailSize),
		free:  make(chan *gzipBlock, blocks),
		jobs:  make(chan *gzipBlock, blocks),
		queue: make([]*gzipBlock, 0, blocks),
	}
	for range blocks {
		z.free <- &gzipBlock{}
	}
	fws := make([]*flate.Writer, workers)
	for i := range fws {
		fw, err := flate.NewWriter(nil, gzipLevel)
		if err != nil {
			return nil, err
		}
		fws[i] = fw
	}
	// The header: no name, MTIME 0, no extra flags, OS unknown (255).
	if _, err := w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}); err != nil {
		return nil, err
	}
	z.wg.Add(workers)
	for _, fw := range fws {
		go z.deflate(fw)
	}
	return z, nil
}

func (z *gzipWriter) deflate(fw *flate.Writer) {
	defer z.wg.Done()
	for b := range z.jobs {
		b.out.Reset()
		// Room for an incompressible block once, not a growing buffer.
		b.out.Grow(gzipBlockSize + gzipBlockSize>>4)
		dict := b.dict
		if len(dict) == 0 {
			dict = nil // as pgzip primes the first block
		}
		fw.ResetDict(&b.out, dict)
		// Writes to a bytes.Buffer do not fail.
		fw.Write(b.in)
		fw.Flush()
		if b.last {
			fw.Close()
		}
		z.finished(b)
	}
}

// finished marks b deflated and, unless another deflater is writing,
// writes the finished blocks at the head of the stream.
func (z *gzipWriter) finished(b *gzipBlock) {
	z.mu.Lock()
	b.ready = true
	if z.writing {
		z.mu.Unlock()
		return
	}
	z.writing = true
	for len(z.queue) > 0 && z.queue[0].ready {
		h := z.queue[0]
		z.queue = append(z.queue[:0], z.queue[1:]...)
		h.ready = false
		failed := z.err != nil
		z.mu.Unlock()
		if !failed {
			if _, err := z.w.Write(h.out.Bytes()); err != nil {
				z.setError(err)
			}
		}
		z.free <- h // never blocks: free holds every block
		z.mu.Lock()
	}
	z.writing = false
	z.mu.Unlock()
}

func (z *gzipWriter) error() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.err
}

func (z *gzipWriter) setError(err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.err == nil {
		z.err = err
	}
}

var errGzipClosed = errors.New("initramfs: write to a closed gzip stream")

func (z *gzipWriter) Write(p []byte) (int, error) {
	if z.closed {
		return 0, errGzipClosed
	}
	if err := z.error(); err != nil {
		return 0, err
	}
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p)
	z.size += uint32(len(p))
	n := len(p)
	for len(p) > 0 {
		if z.cur == nil {
			z.cur = <-z.free
			z.cur.in = z.cur.in[:0]
			if cap(z.cur.in) < gzipBlockSize {
				z.cur.in = make([]byte, 0, gzipBlockSize)
			}
		}
		k := min(len(p), gzipBlockSize-len(z.cur.in))
		z.cur.in = append(z.cur.in, p[:k]...)
		p = p[k:]
		if len(z.cur.in) == gzipBlockSize {
			z.send(false)
		}
	}
	return n, nil
}

// send queues the current block for deflating and writing.
func (z *gzipWriter) send(last bool) {
	b := z.cur
	z.cur = nil
	b.last = last
	b.dict = append(b.dict[:0], z.tail...)
	if len(b.in) > gzipTailSize {
		z.tail = append(z.tail[:0], b.in[len(b.in)-gzipTailSize:]...)
	} else {
		z.tail = z.tail[:0]
	}
	z.mu.Lock()
	z.queue = append(z.queue, b)
	z.mu.Unlock()
	z.jobs <- b
}

// Close deflates what is left, writes the trailer and stops the
// deflaters; it does not close the underlying writer.
func (z *gzipWriter) Close() error {
	if z.closed {
		return z.error()
	}
	z.closed = true
	if z.cur == nil {
		z.cur = <-z.free
		z.cur.in = z.cur.in[:0]
	}
	z.send(true)
	close(z.jobs)
	// The deflater that finishes last writes what is left.
	z.wg.Wait()
	if err := z.error(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:], z.size)
	if _, err := z.w.Write(trailer[:]); err != nil {
		z.setError(err)
		return err
	}
	return nil
}
