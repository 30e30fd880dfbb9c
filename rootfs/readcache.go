package rootfs

import (
	"io"
	"reflect"
	"sync"
)

// readCache serves the small reads of content held by reference (Ref)
// from a few buffered windows of their stores. The image writers read
// every file of the tree in path order, and the files of one package lie
// one after the other, in path order, in its cached payload: a read that
// continues where the last read of the same store ended (past the cpio
// header between two files) loads a whole chunk, which then serves the
// files that follow, where each file cost at least one system call. A
// read elsewhere (an ELF reader probing headers) loads only a small
// window within the file. Reads of a chunk's size or more go to the store
// directly, and the cache holds at most readCacheBytes, so the memory it
// takes does not grow with file sizes: a big file is read a chunk at a
// time through windows that replace each other.
type readCache struct {
	mu      sync.Mutex
	windows []*window // least recently used first
	bytes   int       // their buffers' capacity in all
	// next is where the last read of each store ended.
	next map[io.ReaderAt]int64
}

const (
	readChunkSize  = 256 << 10
	readProbeSize  = 16 << 10
	readCacheBytes = 2 << 20
	// readSeqGap is how far past the last read a read still continues
	// it: a newc header and its name (at most PATH_MAX) lie between the
	// contents of two files.
	readSeqGap = 4096 + 128
)

// window is what a store holds at off (short at the store's end).
type window struct {
	src  io.ReaderAt
	off  int64
	data []byte
}

// readerAt reads src through the cache, for a file that lies in src
// before end. Windows are keyed by the store itself, so only a store that
// is a pointer (an *os.File, as the tree's stores are) is cached: a store
// of another type may not be comparable at all (a slice: comparing it
// panics), or two equal values of it need not be one store; it is read
// directly.
func (c *readCache) readerAt(src io.ReaderAt, end int64) io.ReaderAt {
	if reflect.TypeOf(src).Kind() != reflect.Pointer {
		return src
	}
	return cachedStore{c, src, end}
}

type cachedStore struct {
	c   *readCache
	src io.ReaderAt
	end int64
}

func (s cachedStore) ReadAt(p []byte, off int64) (int, error) {
	if len(p) >= readChunkSize || off < 0 {
		return s.src.ReadAt(p, off)
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		w := c.find(s.src, pos)
		if w == nil {
			size := int64(readProbeSize)
			if last, ok := c.next[s.src]; ok && pos >= last && pos-last <= readSeqGap {
				size = readChunkSize
			} else {
				size = min(size, s.end-pos)
			}
			size = max(size, int64(len(p)-n))
			var err error
			if w, err = c.load(s.src, pos, int(size)); w == nil {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
		}
		n += copy(p[n:], w.data[pos-w.off:])
	}
	if c.next == nil {
		c.next = map[io.ReaderAt]int64{}
	}
	c.next[s.src] = off + int64(n)
	return n, nil
}

// find returns the window of src holding pos, as the most recently used.
func (c *readCache) find(src io.ReaderAt, pos int64) *window {
	for i, w := range c.windows {
		if w.src == src && pos >= w.off && pos < w.off+int64(len(w.data)) {
			copy(c.windows[i:], c.windows[i+1:])
			c.windows[len(c.windows)-1] = w
			return w
		}
	}
	return nil
}

// load reads size bytes of src at off into a new window, evicting the
// least recently used ones (and reusing a buffer of theirs) to stay
// within readCacheBytes; it returns nil when nothing could be read.
func (c *readCache) load(src io.ReaderAt, off int64, size int) (*window, error) {
	var buf []byte
	for len(c.windows) > 0 && c.bytes+size > readCacheBytes {
		old := c.windows[0]
		c.windows = c.windows[1:]
		c.bytes -= cap(old.data)
		if buf == nil && cap(old.data) >= size {
			buf = old.data[:size]
		}
	}
	if buf == nil {
		buf = make([]byte, size)
	}
	n, err := src.ReadAt(buf, off)
	if n == 0 {
		return nil, err
	}
	w := &window{src: src, off: off, data: buf[:n]}
	c.windows = append(c.windows, w)
	c.bytes += cap(buf)
	return w, nil
}
