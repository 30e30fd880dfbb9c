package initramfs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// TestCompressionsDecompressWithRealTools writes every compression and
// unpacks it with the real gzip, xz and zstd; the result must be the plain
// archive byte for byte.
func TestCompressionsDecompressWithRealTools(t *testing.T) {
	testrepo.NeedTools(t, "gzip", "xz", "zstd")
	plain := packBytes(t, testTree())
	tests := []struct {
		c   initramfs.Compression
		cmd []string
	}{
		{initramfs.Gzip, []string{"gzip", "-dc"}},
		{initramfs.Xz, []string{"xz", "-dc"}},
		{initramfs.Zstd, []string{"zstd", "-dcq"}},
		{initramfs.None, []string{"cat"}},
	}
	for _, tt := range tests {
		t.Run(tt.c.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "core."+tt.c.String())
			must(t, writeArchive(context.Background(), path, testTree(), tt.c, initramfs.Options{Epoch: epoch}))
			comp, err := os.ReadFile(path)
			must(t, err)
			cmd := exec.Command(tt.cmd[0], tt.cmd[1:]...)
			cmd.Stdin = bytes.NewReader(comp)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", tt.cmd, err)
			}
			if !bytes.Equal(out, plain) {
				t.Fatalf("%v output (%d bytes) differs from the plain archive (%d bytes)", tt.cmd, len(out), len(plain))
			}
			// Our own sniffing reader agrees.
			rc, c, err := initramfs.Decompress(bytes.NewReader(comp))
			must(t, err)
			got, err := io.ReadAll(rc)
			must(t, err)
			if c != tt.c || !bytes.Equal(got, plain) {
				t.Errorf("Decompress: %v, %d bytes", c, len(got))
			}
			again := filepath.Join(t.TempDir(), "again")
			must(t, writeArchive(context.Background(), again, testTree(), tt.c, initramfs.Options{Epoch: epoch}))
			if b, _ := os.ReadFile(again); !bytes.Equal(b, comp) {
				t.Error("second write differs")
			}
		})
	}
}

// TestGzipHeader checks what VIC's `gzip --fast` stored and the kernel
// ignores, but reproducibility needs: no name, MTIME 0.
func TestGzipHeader(t *testing.T) {
	var buf bytes.Buffer
	must(t, initramfs.Write(context.Background(), &buf, testTree(), initramfs.Gzip, initramfs.Options{Epoch: epoch}))
	b := buf.Bytes()
	if b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
		t.Fatalf("not a deflate gzip stream: % x", b[:3])
	}
	if b[3] != 0 {
		t.Errorf("FLG %#x, want 0 (no name, comment or extra)", b[3])
	}
	if !bytes.Equal(b[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("MTIME % x, want 0", b[4:8])
	}
}

// TestXzCheckIsCRC32 asks xz itself which check the stream carries: the
// kernel's decoder rejects CRC64 and SHA-256.
func TestXzCheckIsCRC32(t *testing.T) {
	testrepo.NeedTools(t, "xz")
	path := filepath.Join(t.TempDir(), "core.xz")
	must(t, writeArchive(context.Background(), path, testTree(), initramfs.Xz, initramfs.Options{Epoch: epoch}))
	out, err := exec.Command("xz", "--robot", "--list", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "file\t") {
			if f := strings.Split(line, "\t"); len(f) < 7 || f[6] != "CRC32" {
				t.Errorf("xz --list: %q, want check CRC32", line)
			}
			return
		}
	}
	t.Fatalf("xz --list printed no file line:\n%s", out)
}

// writeArchive packs fsys compressed with c into the file name.
func writeArchive(ctx context.Context, name string, fsys fs.FS, c initramfs.Compression, opts initramfs.Options) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := initramfs.Write(ctx, f, fsys, c, opts); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TestDecompressRefusesHugeDictionary: an xz initramfs (from anyone's ISO,
// as verify and inspect read) whose block header declares a 1 GiB
// dictionary is refused with an error, nothing of that size allocated;
// the same archive with xz's own 8 MiB dictionary reads back.
func TestDecompressRefusesHugeDictionary(t *testing.T) {
	testrepo.NeedTools(t, "xz")
	plain := packBytes(t, testTree())
	cmd := exec.Command("xz", "-c", "--check=crc32", "--lzma2=dict=8MiB")
	cmd.Stdin = bytes.NewReader(plain)
	z, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	read := func(z []byte) ([]byte, error) {
		rc, _, err := initramfs.Decompress(bytes.NewReader(z))
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if got, err := read(z); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("xz's own stream: %d bytes, %v; want the %d bytes given to xz", len(got), err, len(plain))
	}
	// The first block header (after the 12-byte stream header): its LZMA2
	// filter (id 0x21, one property byte) gets property 36, a 1 GiB
	// dictionary, and the header's CRC32 is made right.
	hs := (int(z[12]) + 1) * 4
	hdr := z[12 : 12+hs]
	i := bytes.Index(hdr, []byte{0x21, 1})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in block header % x", hdr)
	}
	hdr[i+2] = 36
	binary.LittleEndian.PutUint32(hdr[hs-4:], crc32.ChecksumIEEE(hdr[:hs-4]))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = read(z)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("an initramfs declaring a 1 GiB xz dictionary was read")
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
		t.Errorf("refusing it allocated %d MiB", grown>>20)
	}
	t.Logf("refused: %v", err)
}
