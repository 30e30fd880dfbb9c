package decompress

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
// (one block, several blocks, every check) decode to the input with the
// dictionary bounded, and the bounded headers are really smaller.
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
	} {
		args := tc.args
		z := xzCompress(t, plain, args...)
		parts, ok := xzBoundDict(bytes.NewReader(z), int64(len(z)))
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

// FuzzXzReaderAt: any input decodes to what NewReader decodes or fails,
// without panicking.
func FuzzXzReaderAt(f *testing.F) {
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 1, 0x69, 0x22, 0xde, 0x36, 0, 0, 0, 0, 0x1c, 0xdf, 0x44, 0x21, 0x1f, 0xb6, 0xf3, 0x7d, 1, 0, 0, 'Y', 'Z'})
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := func() ([]byte, error) {
			r, err := NewReader(bytes.NewReader(in), Xz, Options{})
			if err != nil {
				return nil, err
			}
			return io.ReadAll(io.LimitReader(r, 1<<20))
		}()
		r, err := NewXzReaderAt(bytes.NewReader(in), int64(len(in)))
		var got []byte
		if err == nil {
			got, err = io.ReadAll(io.LimitReader(r, 1<<20))
		}
		if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) {
			t.Fatalf("bounded: %d bytes, %v; plain: %d bytes, %v", len(got), err, len(want), werr)
		}
	})
}
