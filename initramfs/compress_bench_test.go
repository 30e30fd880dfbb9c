package initramfs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/klauspost/pgzip"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// benchCorpus is up to limit bytes of the regular files under
// $VICROOT_BENCH_TREE (default /usr/lib/x86_64-linux-gnu, shared
// libraries as an initramfs holds them), as a tree in memory.
func benchCorpus(tb testing.TB, limit int64) fstest.MapFS {
	tb.Helper()
	root := os.Getenv("VICROOT_BENCH_TREE")
	if root == "" {
		root = "/usr/lib/x86_64-linux-gnu"
	}
	tree := fstest.MapFS{}
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || n >= limit {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil // unreadable: skip
		}
		rel, _ := filepath.Rel(root, p)
		tree[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data, Mode: 0o644, ModTime: epoch}
		n += int64(len(data))
		return nil
	})
	if err != nil || n == 0 {
		tb.Skipf("no bench tree at %s: %v", root, err)
	}
	return tree
}

// gzipWith compresses data with gzip on workers goroutines.
func gzipWith(tb testing.TB, data []byte, workers int) []byte {
	tb.Helper()
	var out bytes.Buffer
	zw, err := initramfs.CompressWorkers(&out, initramfs.Gzip, workers)
	must(tb, err)
	_, err = zw.Write(data)
	must(tb, err)
	must(tb, zw.Close())
	return out.Bytes()
}

// TestGzipIndependentOfWorkers: the gzip stream is the same bytes whatever
// the number of goroutines compressing its blocks (1 MiB each, primed with
// the previous block's tail), and GNU gzip unpacks it to the input.
func TestGzipIndependentOfWorkers(t *testing.T) {
	testrepo.NeedTools(t, "gzip")
	// Several 1 MiB blocks of real machine code: this test binary.
	exe, err := os.Executable()
	must(t, err)
	plain, err := os.ReadFile(exe)
	must(t, err)
	if len(plain) < 3<<20 {
		plain = bytes.Repeat(plain, (3<<20)/len(plain)+1)
	}
	want := gzipWith(t, plain, 1)
	for _, w := range []int{2, 3, 8} {
		if got := gzipWith(t, plain, w); !bytes.Equal(got, want) {
			t.Errorf("%d workers: %d bytes differ from 1 worker's %d", w, len(got), len(want))
		}
	}
	cmd := exec.Command("gzip", "-dc")
	cmd.Stdin = bytes.NewReader(want)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gzip -dc: %v", err)
	}
	if !bytes.Equal(out, plain) {
		t.Fatalf("gzip -dc gave %d bytes, want the %d-byte archive", len(out), len(plain))
	}
}

// BenchmarkGzip is the initramfs compression alone on 1, 2 and GOMAXPROCS
// workers, in MB/s of archive: with 2 cores, 2 workers should be near twice
// 1 worker's speed.
func BenchmarkGzip(b *testing.B) {
	plain := packBytes(b, benchCorpus(b, 64<<20))
	for _, w := range workerCounts() {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			defer cpuPerOp(b)()
			for range b.N {
				zw, err := initramfs.CompressWorkers(io.Discard, initramfs.Gzip, w)
				must(b, err)
				if _, err := zw.Write(plain); err != nil {
					b.Fatal(err)
				}
				must(b, zw.Close())
			}
		})
	}
	// pgzip, whose stream the writer makes, for comparison.
	b.Run("pgzip", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		defer cpuPerOp(b)()
		for range b.N {
			zw, err := pgzip.NewWriterLevel(io.Discard, 3)
			must(b, err)
			must(b, zw.SetConcurrency(1<<20, runtime.GOMAXPROCS(0)))
			if _, err := zw.Write(plain); err != nil {
				b.Fatal(err)
			}
			must(b, zw.Close())
		}
	})
}

// BenchmarkWriteGzip is the whole initramfs stage, the newc archive of a
// tree written into the gzip stream, in MB/s of archive: what the serial
// cpio writer in front of the compressor leaves of BenchmarkGzip's speed.
func BenchmarkWriteGzip(b *testing.B) {
	tree := benchCorpus(b, 64<<20)
	size := int64(len(packBytes(b, tree)))
	b.Run("cpio-only", func(b *testing.B) {
		b.SetBytes(size)
		defer cpuPerOp(b)()
		for range b.N {
			must(b, initramfs.WriteCPIO(context.Background(), io.Discard, tree, initramfs.Options{Epoch: epoch}))
		}
	})
	b.Run("cpio+gzip", func(b *testing.B) {
		b.SetBytes(size)
		defer cpuPerOp(b)()
		for range b.N {
			must(b, initramfs.Write(context.Background(), io.Discard, tree, initramfs.Gzip, initramfs.Options{Epoch: epoch}))
		}
	})
}

func workerCounts() []int {
	ws := []int{1, 2}
	if n := runtime.GOMAXPROCS(0); n > 2 {
		ws = append(ws, n)
	}
	return ws
}

// cpuPerOp reports, when the returned func runs, the process's CPU time
// per op (cpu-ms/op), the cores it kept busy (cores: CPU over wall) and
// the processors (GOMAXPROCS's Ps) that had a goroutine to run (p-cores:
// busy Ps over wall, as the Go scheduler sees them). On a machine shared
// with other work cores is what the other work leaves over, while p-cores
// still shows whether the writer gives every processor work.
func cpuPerOp(b *testing.B) func() {
	pbusy0, ptotal0 := procTime()
	start, t0 := cpuTime(), time.Now()
	return func() {
		cpu, wall := cpuTime()-start, time.Since(t0)
		pbusy, ptotal := procTime()
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
		b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
		if ptotal > ptotal0 {
			b.ReportMetric((pbusy-pbusy0)/(ptotal-ptotal0)*float64(runtime.GOMAXPROCS(0)), "p-cores")
		}
	}
}

// procTime is the runtime's busy and total processor time (GOMAXPROCS
// integrated over wall time), in seconds. The runtime brings these up to
// date at a collection, so it runs one.
func procTime() (busy, total float64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 || s[1].Value.Kind() != metrics.KindFloat64 {
		return 0, 0
	}
	return s[0].Value.Float64() - s[1].Value.Float64(), s[0].Value.Float64()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
