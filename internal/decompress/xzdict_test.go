package decompress

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/therootcompany/xz"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// xzCompress compresses data with xz(1), the oracle, with extra options.
func xzCompress(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	testrepo.NeedTools(t, "xz")
	cmd := exec.Command("xz", append([]string{"-c"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %v: %v", args, err)
	}
	return out
}

// TestXzReaderAtBoundsDictionary: streams xz(1) made with big dictionaries
// (one block, several blocks, every check, BCJ and delta filters) decode
// to the input with the dictionary bounded, and the bounded headers are
// really smaller.
func TestXzReaderAtBoundsDictionary(t *testing.T) {
	plain := make([]byte, 300<<10)
	rand.Read(plain[:100<<10])
	for i := 100 << 10; i < len(plain); i++ {
		plain[i] = plain[i%(100<<10)] ^ byte(i>>12)
	}
	// The smallest dictionary size LZMA2 encodes (2^n or 3*2^n bytes)
	// that holds each block, never more than the encoder's: 300 KiB in
	// 384 KiB; 64 KiB blocks in 64 KiB and the last 44 KiB in 48 KiB; -0's
	// 256 KiB stays.
	for _, tc := range []struct {
		args  []string
		dicts string
	}{
		{[]string{"-6"}, "dict=384KiB"},
		{[]string{"-9", "--check=crc32"}, "dict=384KiB"},
		{[]string{"-6", "--check=sha256", "--block-size=65536"}, "dict=64KiB dict=64KiB dict=64KiB dict=64KiB dict=48KiB"},
		{[]string{"--lzma2=dict=64MiB", "--check=none"}, "dict=384KiB"},
		{[]string{"-0"}, "dict=256KiB"},
		// Filter chains: BCJ or delta before LZMA2.
		{[]string{"--x86", "--lzma2=preset=6"}, "dict=384KiB"},
		{[]string{"--check=crc64", "--delta=dist=4", "--lzma2=dict=64MiB", "--block-size=200000"}, "dict=256KiB dict=128KiB"},
	} {
		args := tc.args
		z := xzCompress(t, plain, args...)
		parts, _, ok := xzBoundDict(bytes.NewReader(z), int64(len(z)))
		if !ok {
			t.Fatalf("xz %v: stream not recognised", args)
		}
		rewritten, err := io.ReadAll(io.MultiReader(parts...))
		if err != nil || len(rewritten) != len(z) {
			t.Fatalf("xz %v: rewritten stream %d bytes (%v), want %d", args, len(rewritten), err, len(z))
		}
		// xz(1) itself reads the rewritten stream (headers and their CRCs).
		cmd := exec.Command("xz", "-dc")
		cmd.Stdin = bytes.NewReader(rewritten)
		if out, err := cmd.Output(); err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("xz %v: xz -d of the rewritten stream: %v", args, err)
		}
		// xz --robot -lvv, the oracle, names each block's dictionary.
		if got := strings.Join(xzDicts(t, rewritten), " "); got != tc.dicts {
			t.Errorf("xz %v: rewritten blocks have %s, want %s", args, got, tc.dicts)
		}
		r, err := NewXzReaderAt(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("xz %v: decoded %d bytes (%v), want the %d input bytes", args, len(got), err, len(plain))
		}
	}
}

// xzDicts lists the LZMA2 dictionary of each block of an xz stream as
// xz --robot -lvv reports it ("dict=8MiB").
func xzDicts(t *testing.T, z []byte) []string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "s.xz")
	if err := os.WriteFile(f, z, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xz", "--robot", "-lvv", f).Output()
	if err != nil {
		t.Fatalf("xz -lvv: %v", err)
	}
	var dicts []string
	for _, line := range strings.Split(string(out), "\n") {
		if fields := strings.Split(line, "\t"); fields[0] == "block" {
			_, d, _ := strings.Cut(fields[len(fields)-1], "--lzma2=")
			dicts = append(dicts, d)
		}
	}
	if len(dicts) == 0 {
		t.Fatalf("xz -lvv lists no block:\n%s", out)
	}
	return dicts
}

// TestXzReaderAtFallsBack: what is not one plain xz stream (two streams,
// padding, a truncated or damaged stream) is read as NewReader reads it:
// the same bytes or an error, never other bytes.
func TestXzReaderAtFallsBack(t *testing.T) {
	a := xzCompress(t, []byte("first stream\n"))
	b := xzCompress(t, []byte("second stream\n"))
	for _, tc := range []struct {
		name string
		in   []byte
		want string // "" for an error
	}{
		{"two streams", append(append([]byte{}, a...), b...), "first stream\nsecond stream\n"},
		{"padding", append(append([]byte{}, a...), 0, 0, 0, 0), "first stream\n"},
		{"truncated", a[:len(a)-5], ""},
		{"damaged data", func() []byte { c := append([]byte{}, a...); c[len(c)/2] ^= 0xff; return c }(), ""},
	} {
		r, err := NewXzReaderAt(bytes.NewReader(tc.in), int64(len(tc.in)))
		var got []byte
		if err == nil {
			got, err = io.ReadAll(r)
		}
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: no error, got %q", tc.name, got)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// panicReader panics on Read, as a decoder bug would.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("decoder bug") }

// TestXzErrors: each malformed stream is an error that says it is xz's,
// where (the stream header or the uncompressed offset) and what was
// wrong; a panic inside the decoder is an error too.
func TestXzErrors(t *testing.T) {
	plain := bytes.Repeat([]byte("vicroot xz error test\n"), 20000)
	good := xzCompress(t, plain, "--lzma2=dict=8MiB")
	damaged := bytes.Clone(good)
	damaged[len(damaged)/2] ^= 0x40
	// Check type 2 is reserved: the flags' CRC32 made right again.
	check2 := bytes.Clone(good)
	check2[7] = 2
	binary.LittleEndian.PutUint32(check2[8:12], crc32.ChecksumIEEE(check2[6:8]))
	for _, c := range []struct {
		name string
		in   []byte
		opts Options
		want string
	}{
		{"not xz", []byte("070701 plain cpio"), Options{}, "xz: at the start of the stream: not an xz stream"},
		{"empty", nil, Options{}, "xz: at the start of the stream: truncated"},
		{"truncated", good[:len(good)/2], Options{}, "truncated or corrupt data"},
		{"damaged", damaged, Options{}, "xz: at uncompressed byte "},
		{"reserved check", check2, Options{}, "unsupported integrity check type"},
		{"dictionary over MaxMemory", good, Options{MaxMemory: 1 << 20}, "dictionary is larger than allowed"},
	} {
		var err error
		for _, open := range []func() (io.ReadCloser, error){
			func() (io.ReadCloser, error) { return NewReader(bytes.NewReader(c.in), Xz, c.opts) },
			func() (io.ReadCloser, error) {
				if c.opts.MaxMemory != 0 {
					return NewReader(bytes.NewReader(c.in), Xz, c.opts)
				}
				return NewXzReaderAt(bytes.NewReader(c.in), int64(len(c.in)))
			},
		} {
			r, oerr := open()
			err = oerr
			if err == nil {
				_, err = io.ReadAll(r)
				r.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
			}
			t.Logf("%s: %v", c.name, err)
		}
	}
	r, err := newXzReader(bytes.NewReader(good), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.(*xzReader).d.br.Reset(panicReader{})
	_, err = io.ReadAll(r)
	if !errors.Is(err, errXzPanic) || !strings.Contains(err.Error(), "decoder bug") {
		t.Errorf("a panic in the decoder: %v", err)
	}
	// The decoder that panicked is dropped, never given back to the pool.
	if r.(*xzReader).d != nil {
		t.Error("the reader keeps the decoder that panicked")
	}
	r.Close()
}

// TestXzHugeDictionaryNotPooled: a small stream whose block header
// declares a 1 GiB dictionary (a hostile or odd stream, read as it comes
// or not recognised by xzBoundDict) is decoded — the decoder allocates
// the dictionary it declares, as xz(1) does — but its decoder is not
// kept in the pool afterwards: the heap is back to what it was after a
// garbage collection. A bounded stream's decoder is pooled.
func TestXzHugeDictionaryNotPooled(t *testing.T) {
	plain := bytes.Repeat([]byte("vicroot xz dictionary test\n"), 2000)
	z := xzCompress(t, plain, "--lzma2=dict=8MiB")
	// The first block header: the LZMA2 filter (0x21, one property
	// byte) with property 36, a 1 GiB dictionary; its CRC32 made right.
	hs := (int(z[xzHeaderLen]) + 1) * 4
	hdr := z[xzHeaderLen : xzHeaderLen+hs]
	i := bytes.Index(hdr, []byte{xzLZMA2, 1})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in block header % x", hdr)
	}
	hdr[i+2] = 36
	binary.LittleEndian.PutUint32(hdr[hs-4:], crc32.ChecksumIEEE(hdr[:hs-4]))
	padded := append(bytes.Clone(z), 0, 0, 0, 0) // stream padding: not recognised
	if _, _, ok := xzBoundDict(bytes.NewReader(padded), int64(len(padded))); ok {
		t.Fatal("test setup: xzBoundDict recognises a padded stream")
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	for _, c := range []struct {
		name string
		open func() (io.ReadCloser, error)
	}{
		{"NewReader", func() (io.ReadCloser, error) { return NewReader(bytes.NewReader(z), Xz, Options{}) }},
		{"NewXzReaderAt, padded", func() (io.ReadCloser, error) {
			return NewXzReaderAt(bytes.NewReader(padded), int64(len(padded)))
		}},
	} {
		before := heap()
		r, err := c.open()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s: %d bytes, %v; want the %d bytes given to xz", c.name, len(got), err, len(plain))
		}
		r.Close()
		if after := heap(); after > before+256<<20 {
			t.Errorf("%s: after Close the heap holds %d MiB more: the 1 GiB dictionary was kept", c.name, (after-before)>>20)
		}
	}
	// With a bound, the stream is refused before anything is allocated.
	r, err := NewReader(bytes.NewReader(z), Xz, Options{MaxMemory: 64 << 20})
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if !errors.Is(err, xz.ErrMemlimit) {
		t.Errorf("MaxMemory 64 MiB: %v, want %v", err, xz.ErrMemlimit)
	}
	// The bounded stream of a payload goes back to the pool.
	good := xzCompress(t, plain, "--lzma2=dict=8MiB")
	rc, err := NewXzReaderAt(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	if !rc.(*xzReader).pooled {
		t.Error("a bounded stream's decoder is not given back to the pool")
	}
	rc.Close()
}

// TestXzPoolReuse: a pooled decoder given back after an error in the
// middle of a stream, or closed before the end, and closed twice, decodes
// the next stream right (the bytes given to xz(1)); a read after Close
// fails.
func TestXzPoolReuse(t *testing.T) {
	plain := bytes.Repeat([]byte("vicroot xz pool test, some text to compress\n"), 20000) // under xzPoolDict
	good := xzCompress(t, plain, "--lzma2=dict=8MiB")
	damaged := bytes.Clone(good)
	damaged[len(damaged)/2] ^= 0x40
	open := func(z []byte) io.ReadCloser {
		t.Helper()
		r, err := NewXzReaderAt(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		if !r.(*xzReader).pooled {
			t.Fatal("test setup: the decoder is not pooled")
		}
		return r
	}
	for i := range 20 {
		r := open(damaged)
		if _, err := io.ReadAll(r); err == nil {
			t.Fatal("damaged stream decoded")
		}
		r.Close()
		r.Close()
		r = open(good)
		io.ReadFull(r, make([]byte, 1000+i*997)) // stopped mid-stream
		r.Close()
		if _, err := r.Read(make([]byte, 10)); err == nil {
			t.Fatal("Read after Close succeeded")
		}
		r = open(good)
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("round %d: %d bytes, %v; want the %d bytes given to xz", i, len(got), err, len(plain))
		}
	}
}
