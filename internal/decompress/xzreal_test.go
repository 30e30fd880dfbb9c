package decompress_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/decompress"
	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
)

// xzStream is one real xz stream: an RPM payload or a kernel module.
type xzStream struct {
	name string
	data []byte
}

var (
	realOnce    sync.Once
	realStreams []xzStream
	realErr     string
)

// realXzStreams returns every xz stream of the test repository: the xz
// payload of each package (the part of the .rpm after its headers, as
// rpm2cpio reads it) and each *.ko.xz module in the kernel package.
func realXzStreams(t testing.TB) []xzStream {
	t.Helper()
	dir := testrepo.Dir(t)
	realOnce.Do(func() {
		for _, f := range testrepo.PackageFiles(t, dir) {
			s, ok, err := rpmPayload(f)
			if err != nil {
				realErr = err.Error()
				return
			}
			if ok {
				realStreams = append(realStreams, s)
			}
		}
		kernel := testrepo.PackageFile(t, dir, "linux-esx")
		fi, err := os.Stat(kernel)
		if err != nil {
			realErr = err.Error()
			return
		}
		k, err := os.Open(kernel)
		if err != nil {
			realErr = err.Error()
			return
		}
		defer k.Close()
		files, err := rpminstall.Payload(context.Background(), rpminstall.RPMFile{Path: kernel, R: k, Size: fi.Size()})
		if err != nil {
			realErr = err.Error()
			return
		}
		var mods []string
		for p := range files {
			if strings.HasSuffix(p, ".ko.xz") {
				mods = append(mods, p)
			}
		}
		slices.Sort(mods)
		for _, p := range mods {
			realStreams = append(realStreams, xzStream{p, files[p].Data})
		}
	})
	if realErr != "" {
		t.Fatal(realErr)
	}
	return realStreams
}

// rpmPayload returns the payload of the .rpm file f when its
// PAYLOADCOMPRESSOR is xz.
func rpmPayload(f string) (xzStream, bool, error) {
	data, err := os.ReadFile(f)
	if err != nil {
		return xzStream{}, false, err
	}
	h, err := rpmhdr.ReadFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return xzStream{}, false, err
	}
	if c, _, _ := h.Main.String(1125); c != "xz" {
		return xzStream{}, false, nil
	}
	return xzStream{filepath.Base(f), data[h.PayloadOffset:]}, true, nil
}

// xzDecode reads a stream with NewXzReaderAt.
func xzDecode(data []byte) ([]byte, error) {
	r, err := decompress.NewXzReaderAt(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestXzRealStreams: every xz payload and module of the test repository
// decodes to what `xz -dc` (the oracle) makes of it, and to what the
// previous decoder (ulikunitz/xz) made of it; each cut short or damaged in
// its last block is an error.
func TestXzRealStreams(t *testing.T) {
	testrepo.NeedTools(t, "xz")
	streams := realXzStreams(t)
	var payloads, modules int
	for _, s := range streams {
		if strings.HasSuffix(s.name, ".rpm") {
			payloads++
		} else {
			modules++
		}
		cmd := exec.Command("xz", "-dc")
		cmd.Stdin = bytes.NewReader(s.data)
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: xz -dc: %v", s.name, err)
		}
		got, err := xzDecode(s.data)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: decoded %d bytes (%v); xz -dc gives %d", s.name, len(got), err, len(want))
		}
		ur, err := decompress.UlikunitzXzReaderAt(bytes.NewReader(s.data), int64(len(s.data)))
		if err == nil {
			got, err = io.ReadAll(ur)
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: ulikunitz/xz decoded %d bytes (%v); xz -dc gives %d", s.name, len(got), err, len(want))
		}
		for _, bad := range [][]byte{
			s.data[:len(s.data)-13],
			func() []byte {
				c := bytes.Clone(s.data)
				c[len(c)*9/10] ^= 0x55
				return c
			}(),
		} {
			if got, err := xzDecode(bad); err == nil {
				t.Errorf("%s: a damaged copy decoded without error (%d bytes)", s.name, len(got))
			}
		}
	}
	if payloads < 10 || modules < 10 {
		t.Fatalf("%d xz payloads and %d xz modules; the test repository has dozens of each", payloads, modules)
	}
	t.Logf("%d payloads and %d modules decode as xz -dc decodes them", payloads, modules)
}

// BenchmarkXzDecode decodes real xz streams with the decoder NewXzReaderAt
// uses (therootcompany/xz, a Go port of XZ Embedded) and with the one it
// replaced (ulikunitz/xz), each with the same bounded dictionaries: the
// kernel's and systemd's payloads of the test repository, a payload of the
// big repository (bigdata-006, shared libraries) and all of the kernel
// package's modules, one stream each. MB/s is of uncompressed bytes.
// <set>/<decoder> reports each decoder's speed and allocations;
// <set>/interleaved runs both in every iteration and reports the best
// speed of each and speedup (ulikunitz/xz's time over therootcompany/xz's),
// the figure to quote from a shared machine. VICROOT_BENCH_BIG=0 leaves
// out bigdata-006 (whose repository takes minutes to build the first time).
func BenchmarkXzDecode(b *testing.B) {
	dir := testrepo.Dir(b)
	streams := realXzStreams(b)
	one := func(name string) []xzStream {
		for _, s := range streams {
			if strings.HasPrefix(s.name, name+"-") && strings.HasSuffix(s.name, ".rpm") {
				return []xzStream{s}
			}
		}
		b.Fatalf("no xz payload of %s", name)
		return nil
	}
	var modules []xzStream
	for _, s := range streams {
		if strings.HasSuffix(s.name, ".ko.xz") {
			modules = append(modules, s)
		}
	}
	sets := []struct {
		name    string
		streams []xzStream
	}{
		{"kernel", one("linux-esx")},
		{"systemd", one("systemd")},
		{"modules", modules},
	}
	if os.Getenv("VICROOT_BENCH_BIG") != "0" {
		big := testrepo.BigDir(b, dir)
		for _, p := range testrepo.BigPackages(b, big) {
			if p.Name == "bigdata-006" {
				s, ok, err := rpmPayload(filepath.Join(big, "bigdata", p.File))
				if err != nil || !ok {
					b.Fatalf("%s: xz payload: %v", p.File, err)
				}
				sets = append(sets, struct {
					name    string
					streams []xzStream
				}{"bigdata-006", []xzStream{s}})
			}
		}
	}
	decoders := []struct {
		name string
		open func(io.ReaderAt, int64) (io.Reader, error)
	}{
		{"ulikunitz", decompress.UlikunitzXzReaderAt},
		{"therootcompany", func(r io.ReaderAt, size int64) (io.Reader, error) {
			return decompress.NewXzReaderAt(r, size)
		}},
	}
	for _, set := range sets {
		var plain int64
		for _, s := range set.streams {
			got, err := xzDecode(s.data)
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			plain += int64(len(got))
		}
		decodeAll := func(b *testing.B, open func(io.ReaderAt, int64) (io.Reader, error)) time.Duration {
			start := time.Now()
			for _, s := range set.streams {
				r, err := open(bytes.NewReader(s.data), int64(len(s.data)))
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, r); err != nil {
					b.Fatalf("%s: %d bytes, %v", s.name, n, err)
				}
				if c, ok := r.(io.Closer); ok {
					c.Close()
				}
			}
			return time.Since(start)
		}
		for _, d := range decoders {
			b.Run(set.name+"/"+d.name, func(b *testing.B) {
				b.SetBytes(plain)
				b.ReportAllocs()
				for b.Loop() {
					decodeAll(b, d.open)
				}
			})
		}
		// Both decoders in each iteration, in alternating order, so that
		// a shared machine's load drifts over both alike: the fastest
		// run of each and their ratio.
		b.Run(set.name+"/interleaved", func(b *testing.B) {
			best := make([]time.Duration, len(decoders))
			for i := 0; b.Loop(); i++ {
				for j := range decoders {
					k := (i + j) % len(decoders)
					if t := decodeAll(b, decoders[k].open); best[k] == 0 || t < best[k] {
						best[k] = t
					}
				}
			}
			for k, d := range decoders {
				b.ReportMetric(float64(plain)/best[k].Seconds()/1e6, d.name+"-MB/s")
			}
			b.ReportMetric(best[0].Seconds()/best[1].Seconds(), "speedup")
		})
	}
}

// FuzzXzReaderAt: any input decodes, through NewXzReaderAt and through
// NewReader, to the same bytes or fails in both, without panicking; where
// the previous decoder (ulikunitz/xz) decides otherwise, xz -d (the oracle)
// decides, and the decoder must agree with it. Seeds: streams xz(1) makes
// with each check, a BCJ filter, several blocks, two streams and padding,
// the smallest module of the test repository's kernel, and cut and
// damaged copies of each.
func FuzzXzReaderAt(f *testing.F) {
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 1, 0x69, 0x22, 0xde, 0x36, 0, 0, 0, 0, 0x1c, 0xdf, 0x44, 0x21, 0x1f, 0xb6, 0xf3, 0x7d, 1, 0, 0, 'Y', 'Z'})
	for _, s := range xzSeeds(f) {
		f.Add(s)
		f.Add(s[:len(s)*2/3])
		c := bytes.Clone(s)
		c[len(c)/2] ^= 0x10
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 20
		read := func(r io.Reader, err error) ([]byte, error) {
			if err != nil {
				return nil, err
			}
			if c, ok := r.(io.Closer); ok {
				defer c.Close()
			}
			return io.ReadAll(io.LimitReader(r, limit))
		}
		got, err := read(decompress.NewXzReaderAt(bytes.NewReader(in), int64(len(in))))
		plain, perr := read(decompress.NewReader(bytes.NewReader(in), decompress.Xz, decompress.Options{}))
		if (err == nil) != (perr == nil) || err == nil && !bytes.Equal(got, plain) {
			t.Fatalf("bounded: %d bytes, %v; plain: %d bytes, %v", len(got), err, len(plain), perr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "xz: ") {
			t.Fatalf("error does not say it is xz's: %v", err)
		}
		old, oerr := read(decompress.UlikunitzXzReaderAt(bytes.NewReader(in), int64(len(in))))
		if (err == nil) == (oerr == nil) && (err != nil || bytes.Equal(got, old)) {
			return
		}
		if len(got) == limit || len(old) == limit {
			if bytes.Equal(got, old) {
				return // the same first MiB; the verdicts lie beyond it
			}
		}
		cmd := exec.Command("xz", "-dc")
		cmd.Stdin = bytes.NewReader(in)
		want, xerr := cmd.Output()
		if len(want) > limit {
			want = want[:limit]
		}
		if (err == nil) != (xerr == nil) || err == nil && !bytes.Equal(got, want) {
			t.Fatalf("therootcompany: %d bytes, %v; ulikunitz: %d bytes, %v; xz -d: %d bytes, %v", len(got), err, len(old), oerr, len(want), xerr)
		}
	})
}

// xzSeeds are xz streams for the fuzz targets, made by xz(1).
func xzSeeds(f *testing.F) [][]byte {
	f.Helper()
	text := bytes.Repeat([]byte("vicroot fuzz seed: xz stream\n"), 40)
	var seeds [][]byte
	for _, args := range [][]string{
		{"--check=crc32"}, {"--check=crc64"}, {"--check=sha256"}, {"--check=none"},
		{"--x86", "--lzma2=preset=6"}, {"--delta=dist=4", "--lzma2=preset=0"},
		{"--block-size=256"},
	} {
		seeds = append(seeds, decompress.XzCompress(f, text, args...))
	}
	two := append(decompress.XzCompress(f, []byte("a\n")), decompress.XzCompress(f, []byte("b\n"))...)
	seeds = append(seeds, two, append(bytes.Clone(seeds[0]), 0, 0, 0, 0))
	var small []byte
	for _, s := range realXzStreams(f) {
		if strings.HasSuffix(s.name, ".ko.xz") && (small == nil || len(s.data) < len(small)) {
			small = s.data
		}
	}
	return append(seeds, small)
}
