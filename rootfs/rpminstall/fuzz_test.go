package rpminstall_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/rpmpack"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// FuzzInstallRPM feeds whole RPM files (seeded from real ones, with
// uncompressed and compressed payloads) to Install: errors are fine,
// panics are not, and whatever is installed stays inside the tree.
func FuzzInstallRPM(f *testing.F) {
	// Small packages made with rpmpack: gzip level 0 leaves the cpio
	// stream in stored blocks, so mutations reach the cpio reader. (Go's
	// fuzzing engine stalls on seeds of 6 KB and more here, even with a
	// trivial target, so the fixture RPMs, 6-10 KB, only serve as
	// regression inputs through the tests above.)
	for _, comp := range []string{"gzip:0", "zstd", "xz", "lzma"} {
		f.Add(smallRPM(f, comp))
	}
	f.Add([]byte{0xed, 0xab, 0xee, 0xdb})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := rootfs.New()
		_, err := rpminstall.New(tr, sysconf.New(tr)).InstallRPM(context.Background(), rpminstall.RPMFile{R: bytes.NewReader(data), Size: int64(len(data))}, rpminstall.InstallOptions{Workers: 1})
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

func smallRPM(tb testing.TB, compressor string) []byte {
	tb.Helper()
	r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{Name: "f", Version: "1", Release: "1", Arch: "noarch", Compressor: compressor})
	if err != nil {
		tb.Fatal(err)
	}
	r.AddFile(rpmpack.RPMFile{Name: "/etc", Mode: 0o40755, Owner: "root", Group: "root"})
	r.AddFile(rpmpack.RPMFile{Name: "/etc/a", Body: []byte("hello\n"), Mode: 0o100644, Owner: "root", Group: "root"})
	r.AddFile(rpmpack.RPMFile{Name: "/etc/abs", Body: []byte("/etc/a"), Mode: 0o120777, Owner: "root", Group: "root"})
	r.AddFile(rpmpack.RPMFile{Name: "/etc/up", Body: []byte("../../../.."), Mode: 0o120777, Owner: "nobody", Group: "nogroup"})
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// The rpmpack seeds install, so the fuzzer starts from valid packages.
func TestSmallRPMSeedsInstall(t *testing.T) {
	for _, comp := range []string{"gzip:0", "zstd", "xz", "lzma"} {
		data := smallRPM(t, comp)
		tr := rootfs.New()
		if _, err := rpminstall.New(tr, sysconf.New(tr)).InstallRPM(context.Background(), rpminstall.RPMFile{R: bytes.NewReader(data), Size: int64(len(data))}, rpminstall.InstallOptions{}); err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
		if got, err := tr.ReadFile("etc/abs"); err != nil || string(got) != "hello\n" {
			t.Errorf("%s: etc/abs reads %q, %v", comp, got, err)
		}
	}
}
