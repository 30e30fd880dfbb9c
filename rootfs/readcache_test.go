package rootfs

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// countingStore is a store that counts the reads it serves.
type countingStore struct {
	mu    sync.Mutex
	data  []byte
	reads atomic.Int64
}

func (s *countingStore) ReadAt(p []byte, off int64) (int, error) {
	s.reads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	n := copy(p, s.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// layout lays out files of the given sizes as a cpio archive does: each
// after a header of some bytes. It returns their offsets.
func layout(rng *rand.Rand, sizes []int) ([]byte, []int64) {
	var b []byte
	var offs []int64
	for _, n := range sizes {
		b = append(b, make([]byte, 110+rng.Intn(100))...)
		offs = append(offs, int64(len(b)))
		f := make([]byte, n)
		rng.Read(f)
		b = append(b, f...)
	}
	return b, offs
}

// TestReadCacheSequential: files read one after the other, as the image
// writers read them (32 KiB at a time), come out whole and cost a store
// read per chunk, not per file; the cache stays within its bound.
func TestReadCacheSequential(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var sizes []int
	for range 2000 {
		sizes = append(sizes, rng.Intn(8<<10))
	}
	sizes = append(sizes, 3<<20, 0, 1, 700<<10) // big ones too
	for range 500 {
		sizes = append(sizes, rng.Intn(4<<10))
	}
	data, offs := layout(rng, sizes)
	st := &countingStore{data: data}
	var c readCache
	buf := make([]byte, 32<<10)
	for i, n := range sizes {
		var out bytes.Buffer
		r := io.NewSectionReader(c.readerAt(st, offs[i]+int64(n)), offs[i], int64(n))
		if _, err := io.CopyBuffer(&out, struct{ io.Reader }{r}, buf); err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if !bytes.Equal(out.Bytes(), data[offs[i]:offs[i]+int64(n)]) {
			t.Fatalf("file %d (%d bytes at %d): content differs", i, n, offs[i])
		}
		if c.bytes > readCacheBytes+readChunkSize {
			t.Fatalf("cache holds %d bytes", c.bytes)
		}
	}
	// One read per chunk of the store, a few more for the first file.
	if max := int64(len(data)/readChunkSize) + 4; st.reads.Load() > max {
		t.Errorf("%d files, %d bytes: %d store reads, want at most %d", len(sizes), len(data), st.reads.Load(), max)
	}
	t.Logf("%d files, %d bytes: %d store reads", len(sizes), len(data), st.reads.Load())
}

// TestReadCacheRandom: reads anywhere, from several goroutines and
// several stores, return the store's bytes and its errors at the end.
func TestReadCacheRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var stores []*countingStore
	for range 3 {
		b := make([]byte, 1<<20+rng.Intn(1<<20))
		rng.Read(b)
		stores = append(stores, &countingStore{data: b})
	}
	var c readCache
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for range 2000 {
				st := stores[rng.Intn(len(stores))]
				size := int64(len(st.data))
				off := rng.Int63n(size + 100)
				n := rng.Intn(70 << 10)
				if rng.Intn(50) == 0 {
					n = readChunkSize + rng.Intn(1000)
				}
				p := make([]byte, n)
				got, err := c.readerAt(st, size).ReadAt(p, off)
				want := 0
				if off < size {
					want = copy(make([]byte, n), st.data[off:])
				}
				if got != want || !bytes.Equal(p[:got], st.data[min(off, size):min(off, size)+int64(got)]) {
					t.Errorf("ReadAt(%d bytes at %d of %d): %d bytes, want %d, or other bytes", n, off, size, got, want)
					return
				}
				if (got < n) != (err != nil) {
					t.Errorf("ReadAt(%d bytes at %d of %d): %d bytes, error %v", n, off, size, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestReadCacheGrowingStore: a store appended to after a read at its end
// (a spill file) serves the new bytes.
func TestReadCacheGrowingStore(t *testing.T) {
	st := &countingStore{data: []byte("hello")}
	var c readCache
	p := make([]byte, 5)
	if n, err := c.readerAt(st, 5).ReadAt(p, 0); n != 5 || string(p) != "hello" {
		t.Fatalf("%d %q %v", n, p, err)
	}
	st.mu.Lock()
	st.data = append(st.data, " world"...)
	st.mu.Unlock()
	p = make([]byte, 6)
	if n, err := c.readerAt(st, 11).ReadAt(p, 5); n != 6 || string(p) != " world" {
		t.Fatalf("after growing: %d %q %v", n, p, err)
	}
}

// BenchmarkReadCache reads the files of a payload-like store on disk one
// after the other, as the image writers do, directly (a read per file and
// 32 KiB) and through the read cache.
func BenchmarkReadCache(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	var sizes []int
	for range 3000 {
		sizes = append(sizes, rng.Intn(12<<10))
	}
	sizes = append(sizes, 4<<20, 1<<20)
	data, offs := layout(rng, sizes)
	p := filepath.Join(b.TempDir(), "store")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for _, mode := range []string{"direct", "cached"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				var c readCache
				for i, n := range sizes {
					var src io.ReaderAt = f
					if mode == "cached" {
						src = c.readerAt(f, offs[i]+int64(n))
					}
					r := io.NewSectionReader(src, offs[i], int64(n))
					if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// sliceStore is a store of a type that cannot be compared (a slice), as
// an io.ReaderAt given to Ref may be.
type sliceStore []byte

func (s sliceStore) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(s).ReadAt(p, off)
}

// TestReadCacheUncomparableStore: content whose store is of a type that
// cannot be a map key or be compared is read, not a panic of the tree.
func TestReadCacheUncomparableStore(t *testing.T) {
	data := []byte("hello, world")
	tr := New()
	if err := tr.WriteContent("f", Ref(sliceStore(data), 7, 5, sha256.Sum256(data[7:])), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := tr.ReadFile("f")
	if err != nil || string(got) != "world" {
		t.Fatalf("ReadFile: %q, %v", got, err)
	}
	f, err := tr.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil || string(b) != "world" {
		t.Fatalf("Open and read: %q, %v", b, err)
	}
}
