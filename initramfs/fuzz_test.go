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
	f.Add([]byte("07070X00000001\x00\x00abc\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Odd lengths read rpm's stripped records too, with sizes as an
		// RPM header would give them.
		r := initramfs.NewReader(bytes.NewReader(data))
		if len(data)%2 == 1 {
			r = initramfs.NewPayloadReader(bytes.NewReader(data), []int64{0, 3, 1 << 20})
		}
		for i := 0; i < 10000; i++ {
			h, err := r.Next()
			if err != nil {
				return
			}
			if h.Name == "" && h.Index < 0 {
				t.Fatal("empty name accepted")
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
		}
	})
}
