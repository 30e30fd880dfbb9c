package pipeline

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// TestSyslinuxFilesCache: isolinux.bin and ldlinux.c32 come out of the
// syslinux package as rpm2cpio | cpio extracts them, from the payload and
// then from the cache entry the first call left; a damaged entry is
// replaced, not used.
func TestSyslinuxFilesCache(t *testing.T) {
	testrepo.NeedTools(t, "rpm2cpio", "cpio", "sh")
	repo := testrepo.Dir(t)
	rpm := testrepo.PackageFile(t, repo, "syslinux")
	x := t.TempDir()
	cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", rpm)
	cmd.Dir = x
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm2cpio | cpio: %v\n%s", err, out)
	}
	want := map[string][]byte{}
	filepath.WalkDir(x, func(p string, d os.DirEntry, err error) error {
		if err == nil && (d.Name() == "isolinux.bin" || d.Name() == "ldlinux.c32") && d.Type().IsRegular() && want[d.Name()] == nil {
			want[d.Name()], err = os.ReadFile(p)
		}
		return err
	})
	if want["isolinux.bin"] == nil || want["ldlinux.c32"] == nil {
		t.Fatalf("cpio extracted no isolinux.bin and ldlinux.c32 from %s", rpm)
	}
	pkg := &rpmrepo.Package{Name: "syslinux", Checksum: rpmrepo.Checksum{Type: "sha256", Value: "0123abcd"}}
	cache := t.TempDir()
	check := func(what string) {
		t.Helper()
		got, err := syslinuxFiles(context.Background(), pkg, rpm, cache)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for n, w := range want {
			if !bytes.Equal(got[n], w) {
				t.Errorf("%s: %s is %d bytes, cpio's %d", what, n, len(got[n]), len(w))
			}
		}
	}
	check("from the payload")
	ents, _ := filepath.Glob(filepath.Join(cache, "bootloader", "sha256-0123abcd-*"))
	if len(ents) != 1 {
		t.Fatalf("cache entries %v, want one", ents)
	}
	// The entry is what the second call reads: the RPM is gone.
	gone := filepath.Join(t.TempDir(), "none.rpm")
	if _, err := syslinuxFiles(context.Background(), pkg, gone, cache); err != nil {
		t.Fatalf("from the cache: %v", err)
	}
	check("from the cache")
	if err := os.WriteFile(ents[0], []byte(`{"isolinux.bin":"AAAA"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := syslinuxFiles(context.Background(), pkg, gone, cache); err == nil {
		t.Fatal("a damaged cache entry was used")
	}
	check("after a damaged entry")
}
