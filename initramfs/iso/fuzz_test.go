package iso_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/vic"
)

// FuzzISO opens arbitrary images and walks and reads them: errors are
// fine, panics, hangs and unbounded allocations are not.
func FuzzISO(f *testing.F) {
	var buf bytes.Buffer
	tree := fstest.MapFS{
		"boot/isolinux/isolinux.bin": {Data: bytes.Repeat([]byte{0x90}, 2048), Mode: 0o644},
		"boot/vmlinuz64":             {Data: []byte("kernel"), Mode: 0o644},
		"a/" + longName:              {Data: []byte("x"), Mode: 0o644},
		"a/link":                     {Data: []byte(longTarget), Mode: fs.ModeSymlink | 0o777},
	}
	if _, err := iso.WriteTo(context.Background(), &buf, tree, vic.ISOOptions("v1", epoch)); err != nil {
		f.Fatal(err)
	}
	// The fuzzer mutates the front of the input; the padding adds nothing.
	f.Add(buf.Bytes()[:buf.Len()-iso.Padding])
	// A real xorriso image (Rock Ridge, El Torito) when xorriso is here.
	dir := f.TempDir()
	os.MkdirAll(filepath.Join(dir, "t/boot/isolinux"), 0o755)
	os.WriteFile(filepath.Join(dir, "t/boot/isolinux/isolinux.bin"), bytes.Repeat([]byte{0x90}, 2048), 0o644)
	os.Symlink("boot/isolinux", filepath.Join(dir, "t/l"))
	img := filepath.Join(dir, "x.iso")
	if exec.Command("xorriso", "-outdev", img, "-padding", "0", "-map", filepath.Join(dir, "t"), "/", "-boot_image", "isolinux", "dir=/boot/isolinux").Run() == nil {
		if b, err := os.ReadFile(img); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := iso.Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		n := 0
		fs.WalkDir(im, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			n++
			if d.Type().IsRegular() && n < 50 {
				if r, err := im.Open(p); err == nil {
					io.Copy(io.Discard, io.LimitReader(r, 1<<16))
					r.Close()
				}
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if _, err := fs.ReadLink(im, p); err != nil {
					t.Errorf("%s: listed as a symlink but: %v", p, err)
				}
				// Following it stays in the image: it resolves or fails.
				fs.Stat(im, p)
			}
			return nil
		})
	})
}
