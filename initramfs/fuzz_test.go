package initramfs_test

import (
	"bytes"
	"io"
	"os/exec"
	"testing"

	"github.com/vicroot/vicroot/initramfs"
)

// FuzzNewc feeds arbitrary bytes to the newc reader: it must return
// records or an error, never panic or allocate without bound.
func FuzzNewc(f *testing.F) {
	small := testTree()
	delete(small, "usr/share/big")
	f.Add(packBytes(f, small))
	// A real GNU cpio archive, when cpio is there.
	if out, err := exec.Command("sh", "-c", "cd /usr/share/doc/cpio 2>/dev/null && find . | cpio -o -H newc --quiet").Output(); err == nil && len(out) > 0 {
		f.Add(out)
	}
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := initramfs.NewReader(bytes.NewReader(data))
		for i := 0; i < 10000; i++ {
			h, err := r.Next()
			if err != nil {
				return
			}
			if h.Name == "" {
				t.Fatal("empty name accepted")
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
		}
	})
}
