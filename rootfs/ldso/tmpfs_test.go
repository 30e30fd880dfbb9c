package ldso_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/ldso"
)

func TestTmpfsSizeArithmetic(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        []ldso.TmpfsEntry
		bytes, mb int64
	}{
		{name: "empty", bytes: 0, mb: 1},
		// /a (implied dir) + one byte file: two pages.
		{name: "one byte", in: []ldso.TmpfsEntry{{Path: "/a/b", Size: 1}}, bytes: 2 * 4096, mb: 2},
		// an empty file still counts one page; a 4097-byte file two.
		{name: "rounding", in: []ldso.TmpfsEntry{{Path: "/e"}, {Path: "/f", Size: 4097}, {Path: "/f", Size: 4097}}, bytes: 3 * 4096, mb: 2},
		{name: "dirs once", in: []ldso.TmpfsEntry{{Path: "/d", Mode: fs.ModeDir}, {Path: "/d/x/y", Mode: fs.ModeSymlink, Size: 10}}, bytes: 3 * 4096, mb: 2},
		// 40 MiB of data: 40 MiB + 25% + 1 MiB = 51 MiB.
		{name: "large", in: []ldso.TmpfsEntry{{Path: "/big", Size: 40 << 20}}, bytes: 40 << 20, mb: 51},
	} {
		b, mb := ldso.TmpfsSize(c.in)
		if b != c.bytes || mb != c.mb {
			t.Errorf("%s: TmpfsSize = %d bytes, %d MiB; want %d, %d", c.name, b, mb, c.bytes, c.mb)
		}
	}
}

// TestTmpfsSizeHoldsClosure copies the iptables+haveged closure into a real
// tmpfs mounted with the computed size and checks the kernel's own count of
// used blocks never exceeds the page-rounded estimate.
func TestTmpfsSizeHoldsClosure(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "mount", "umount")
	root := debianTree(t)
	fsys := os.DirFS(root)
	ctx := context.Background()
	dir, err := ldso.XtablesDir(context.Background(), fsys, "/usr/lib/x86_64-linux-gnu/libxtables.so.12")
	must(t, err)
	exts, err := ldso.Extensions(ctx, fsys, dir)
	must(t, err)
	c, err := ldso.Resolve(ctx, fsys, append([]string{"/usr/sbin/iptables", "/usr/sbin/haveged"}, exts...), ldso.Options{IgnoreCache: true})
	must(t, err)
	var entries []ldso.TmpfsEntry
	for _, o := range c.Objects {
		fi, err := os.Stat(filepath.Join(root, o.Path))
		must(t, err)
		entries = append(entries, ldso.TmpfsEntry{Path: o.Path, Size: fi.Size()})
	}
	bytes, mb := ldso.TmpfsSize(entries)

	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+itoa(mb)+"m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	for _, o := range c.Objects {
		copyFile(t, filepath.Join(root, o.Path), filepath.Join(mnt, o.Path))
	}
	var st syscall.Statfs_t
	must(t, syscall.Statfs(mnt, &st))
	used := int64(st.Blocks-st.Bfree) * st.Bsize
	if used > bytes {
		t.Errorf("tmpfs uses %d bytes, estimate %d", used, bytes)
	}
	t.Logf("%d files: tmpfs uses %d bytes, estimate %d bytes, size %d MiB", len(c.Objects), used, bytes, mb)
}

func itoa(n int64) string {
	return fmtInt(n)
}
