package rootfs_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs"
)

// FuzzInstallRPM feeds whole RPM files (seeded from real ones, with
// uncompressed and compressed payloads) to Install: errors are fine,
// panics are not, and whatever is installed stays inside the tree.
func FuzzInstallRPM(f *testing.F) {
	fx := filepath.Join(testrepo.ModuleRoot(), "..", "shared", "fixtures", "rpm-software-management-rpm", "RPMS")
	for _, name := range []string{"hlinktest-1.0-1.noarch.rpm", "capstest-1.0-1.noarch.rpm", "foo-1.0-1.noarch.rpm", "hello-2.0-1.x86_64.rpm"} {
		if data, err := os.ReadFile(filepath.Join(fx, name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte{0xed, 0xab, 0xee, 0xdb})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := rootfs.New()
		_, err := tr.InstallRPM(context.Background(), rootfs.RPMFile{R: bytes.NewReader(data), Size: int64(len(data))}, rootfs.InstallOptions{Workers: 1})
		if err != nil && !strings.HasPrefix(err.Error(), "rootfs: ") {
			t.Fatalf("error without the package prefix: %v", err)
		}
		err = fs.WalkDir(tr, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != "." && (d.Name() == ".." || d.Name() == "." || strings.Contains(d.Name(), "/")) {
				return fmt.Errorf("bad entry name %q", d.Name())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
