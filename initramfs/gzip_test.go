package initramfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/pgzip"

	"github.com/vicroot/vicroot/initramfs"
)

// pgzipStream is the stream pgzip makes of data as vicroot used it: level
// 3, MTIME 0, 1 MiB blocks.
func pgzipStream(t *testing.T, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, err := pgzip.NewWriterLevel(&out, 3)
	must(t, err)
	zw.ModTime = time.Unix(0, 0)
	must(t, zw.SetConcurrency(1<<20, 2))
	_, err = zw.Write(data)
	must(t, err)
	must(t, zw.Close())
	return out.Bytes()
}

// TestGzipIsPgzipStream: the gzip writer makes pgzip's bytes, so images
// built before it stay the same, for inputs around the 16 KiB tail and
// the 1 MiB block, written whole and in uneven pieces, on 1 to 3 workers.
func TestGzipIsPgzipStream(t *testing.T) {
	exe, err := os.Executable()
	must(t, err)
	code, err := os.ReadFile(exe)
	must(t, err)
	for len(code) < 3<<20+12345 {
		code = append(code, code...)
	}
	const block, tail = 1 << 20, 16 << 10
	for _, n := range []int{0, 1, tail - 1, tail, tail + 1, block - 1, block, block + 1, block + tail, 2 * block, 3*block + 12345} {
		data := code[:n]
		want := pgzipStream(t, data)
		for i, workers := range []int{1, 2, 3} {
			// Whole, in odd pieces, and in the newc writer's flushes.
			for _, piece := range [][]int{{n + 1, 4093}, {256 << 10}, {4093}}[i] {
				t.Run(fmt.Sprintf("%d-bytes/%d-workers/writes-of-%d", n, workers, piece), func(t *testing.T) {
					var out bytes.Buffer
					zw, err := initramfs.CompressWorkers(&out, initramfs.Gzip, workers)
					must(t, err)
					for b := data; len(b) > 0; {
						k := min(len(b), piece)
						if _, err := zw.Write(b[:k]); err != nil {
							t.Fatal(err)
						}
						b = b[k:]
					}
					must(t, zw.Close())
					if !bytes.Equal(out.Bytes(), want) {
						t.Fatalf("%d bytes, pgzip's stream is %d bytes; first difference at byte %d", out.Len(), len(want), diffAt(out.Bytes(), want))
					}
				})
			}
		}
	}
}

func diffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestGzipWriteError: a failing destination fails the stream — a later
// Write or Close returns its error — and Close still returns (the
// goroutines stop).
func TestGzipWriteError(t *testing.T) {
	data := bytes.Repeat([]byte("initramfs "), 600000) // several blocks
	for _, n := range []int{0, 10, 5000} {
		zw, err := initramfs.CompressWorkers(&failAfter{n}, initramfs.Gzip, 2)
		if n == 0 {
			if err == nil || !errors.Is(err, errDiskFull) {
				t.Errorf("header into a full disk: %v, want %v", err, errDiskFull)
			}
			continue
		}
		must(t, err)
		var werr error
		for b := data; len(b) > 0 && werr == nil; b = b[min(len(b), 65536):] {
			_, werr = zw.Write(b[:min(len(b), 65536)])
		}
		cerr := zw.Close()
		if !errors.Is(werr, errDiskFull) && !errors.Is(cerr, errDiskFull) {
			t.Errorf("after %d bytes: Write %v, Close %v, want %v", n, werr, cerr, errDiskFull)
		}
		if _, err := zw.Write([]byte("x")); err == nil {
			t.Error("Write after Close succeeded")
		}
	}
}

// slowWriter holds every write for a while, so that deflaters finish
// blocks while another one is writing and blocks finish out of order.
type slowWriter struct{ bytes.Buffer }

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	return w.Buffer.Write(p)
}

// TestGzipSlowDestination: with a destination slower than the deflaters,
// the blocks still come out in stream order, as pgzip's stream.
func TestGzipSlowDestination(t *testing.T) {
	exe, err := os.Executable()
	must(t, err)
	code, err := os.ReadFile(exe)
	must(t, err)
	for len(code) < 12<<20 {
		code = append(code, code...)
	}
	data := code[:12<<20+777]
	want := pgzipStream(t, data)
	for _, workers := range []int{2, 8} {
		var out slowWriter
		zw, err := initramfs.CompressWorkers(&out, initramfs.Gzip, workers)
		must(t, err)
		for b := data; len(b) > 0; b = b[min(len(b), 256<<10):] {
			if _, err := zw.Write(b[:min(len(b), 256<<10)]); err != nil {
				t.Fatal(err)
			}
		}
		must(t, zw.Close())
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("%d workers: %d bytes, pgzip's stream is %d bytes; first difference at byte %d", workers, out.Len(), len(want), diffAt(out.Bytes(), want))
		}
	}
}

// TestGzipWriteErrorNoLeak: after a destination that fails part way
// (after 0 to a few blocks) and Close, no deflater goroutine is left, and
// a second Close returns the same error.
func TestGzipWriteErrorNoLeak(t *testing.T) {
	data := make([]byte, 6<<20) // incompressible: about as much out
	rand.New(rand.NewSource(1)).Read(data)
	before := runtime.NumGoroutine()
	for _, n := range []int{10, 100 << 10, 1 << 20, 3 << 20} {
		for _, workers := range []int{1, 2, 8} {
			zw, err := initramfs.CompressWorkers(&failAfter{n}, initramfs.Gzip, workers)
			must(t, err)
			var werr error
			for b := data; len(b) > 0 && werr == nil; b = b[min(len(b), 100000):] {
				_, werr = zw.Write(b[:min(len(b), 100000)])
			}
			cerr := zw.Close()
			if !errors.Is(werr, errDiskFull) && !errors.Is(cerr, errDiskFull) {
				t.Errorf("fail after %d bytes, %d workers: Write %v, Close %v, want %v", n, workers, werr, cerr, errDiskFull)
			}
			if again := zw.Close(); !errors.Is(again, errDiskFull) {
				t.Errorf("fail after %d bytes, %d workers: second Close %v, want %v", n, workers, again, errDiskFull)
			}
		}
	}
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the writers closed, %d before", n, before)
	}
}
