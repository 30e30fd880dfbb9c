package decompress_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"

	"github.com/vicroot/vicroot/internal/decompress"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// Each format is made by its own command-line tool (the oracle) and read
// back by magic, by name and, for RPM payloads, by compressor tag.
func TestToolsRoundTrip(t *testing.T) {
	want := bytes.Repeat([]byte("vicroot decompress oracle test\n"), 5000)
	for _, c := range []struct {
		tool   []string
		f      decompress.Format
		name   string
		rpm    string
		sniffs bool
	}{
		{[]string{"gzip", "-c"}, decompress.Gzip, "primary.xml.gz", "gzip", true},
		{[]string{"xz", "-c"}, decompress.Xz, "x.ko.xz", "xz", true},
		{[]string{"zstd", "-q", "-c"}, decompress.Zstd, "primary.xml.zst", "zstd", true},
		{[]string{"bzip2", "-c"}, decompress.Bzip2, "primary.xml.bz2", "bzip2", true},
		{[]string{"lzma", "-c"}, decompress.Lzma, "payload.lzma", "lzma", false},
	} {
		t.Run(c.f.String(), func(t *testing.T) {
			testrepo.NeedTools(t, c.tool[0])
			cmd := exec.Command(c.tool[0], c.tool[1:]...)
			cmd.Stdin = bytes.NewReader(want)
			packed, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := decompress.ByName(c.name); got != c.f {
				t.Errorf("ByName(%q) = %v", c.name, got)
			}
			if got, err := decompress.ByRPMCompressor(c.rpm); got != c.f || err != nil {
				t.Errorf("ByRPMCompressor(%q) = %v, %v", c.rpm, got, err)
			}
			if got := decompress.ByMagic(packed); (got == c.f) != c.sniffs {
				t.Errorf("ByMagic = %v", got)
			}
			rc, err := decompress.NewReader(bytes.NewReader(packed), c.f, decompress.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(want))
			}
			if c.sniffs {
				rc, f, err := decompress.Sniff(bytes.NewReader(packed), decompress.Options{})
				if err != nil || f != c.f {
					t.Fatalf("Sniff = %v, %v", f, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("Sniff read %d bytes, %v", len(got), err)
				}
				// Cut in the middle: an error, never a short success.
				rc, _, err = decompress.Sniff(bytes.NewReader(packed[:len(packed)/2]), decompress.Options{})
				if err == nil {
					_, err = io.ReadAll(rc)
					rc.Close()
				}
				if err == nil {
					t.Error("a stream cut in half read without error")
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	if _, err := decompress.ByRPMCompressor("lz4"); !errors.Is(err, decompress.ErrUnsupported) {
		t.Errorf("lz4: %v", err)
	}
	if _, err := decompress.NewReader(bytes.NewReader(nil), decompress.Zchunk, decompress.Options{}); !errors.Is(err, decompress.ErrUnsupported) {
		t.Errorf("zchunk: %v", err)
	}
	if _, _, err := decompress.Sniff(bytes.NewReader(nil), decompress.Options{}); err == nil {
		t.Error("empty stream sniffed")
	}
	rc, f, err := decompress.Sniff(bytes.NewReader([]byte("070701plain")), decompress.Options{})
	if err != nil || f != decompress.None {
		t.Fatalf("plain: %v %v", f, err)
	}
	if b, _ := io.ReadAll(rc); string(b) != "070701plain" {
		t.Errorf("plain passed through as %q", b)
	}
}

// FuzzSniff: any input is decoded or refused with an error, never a panic.
func FuzzSniff(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 1})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x24, 0, 1, 0, 0})
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, _, err := decompress.Sniff(bytes.NewReader(b), decompress.Options{MaxMemory: 64 << 20})
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(rc, 64<<20))
		rc.Close()
	})
}
