package rootfs_test

import (
	"errors"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

func sampleTree(t *testing.T) *root {
	t.Helper()
	tr := newRoot()
	must(t, tr.MkdirAll("usr/bin", 0o755))
	must(t, tr.MkdirAll("usr/lib", 0o755))
	must(t, tr.Symlink("usr/bin", "bin"))
	must(t, tr.Symlink("/usr/lib", "lib64"))
	must(t, tr.WriteFile("bin/sh", []byte("#!shell"), 0o755))
	must(t, tr.WriteFile("usr/lib/libc.so.6", []byte("ELF"), 0o755))
	must(t, tr.Link("usr/lib/libc.so.6", "usr/lib/libc-2.36.so"))
	must(t, tr.MkdirAll("dev", 0o755))
	must(t, tr.Mknod("dev/null", fs.ModeDevice|fs.ModeCharDevice|0o666, 1, 3))
	must(t, tr.Mknod("dev/sda", fs.ModeDevice|0o660, 8, 0))
	must(t, tr.Mknod("dev/fifo", fs.ModeNamedPipe|0o600, 0, 0))
	must(t, tr.Symlink("../../../../..", "usr/up"))
	return tr
}

func TestTreeIsAnFS(t *testing.T) {
	tr := sampleTree(t)
	if err := fstest.TestFS(tr, "usr/bin/sh", "usr/lib/libc.so.6", "usr/lib/libc-2.36.so", "dev/null", "bin", "usr/up"); err != nil {
		t.Fatal(err)
	}
}

func TestTreeResolution(t *testing.T) {
	tr := sampleTree(t)
	must(t, tr.Symlink("loop2", "loop1"))
	must(t, tr.Symlink("loop1", "loop2"))
	cases := []struct {
		name   string
		follow bool
		want   string // "" = error
		err    error
	}{
		{"bin/sh", true, "file", nil},
		{"lib64/libc.so.6", true, "file", nil},
		{"usr/up/usr/up/lib64/libc.so.6", true, "file", nil},
		{"lib64", false, "symlink", nil},
		{"lib64", true, "dir", nil},
		{"loop1", true, "", nil},
		{"loop1", false, "symlink", nil},
		{"nothing", true, "", fs.ErrNotExist},
		{"/etc/passwd", true, "", fs.ErrInvalid},
		{"../etc", true, "", fs.ErrInvalid},
		{"bin/sh/x", true, "", nil},
	}
	for _, c := range cases {
		var fi fs.FileInfo
		var err error
		if c.follow {
			fi, err = tr.Stat(c.name)
		} else {
			fi, err = tr.Lstat(c.name)
		}
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: resolved, want an error", c.name)
			} else if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := typeOf(fi.Mode()); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	fi, err := tr.Lstat("usr/lib/libc-2.36.so")
	must(t, err)
	m := fsmeta.Of(fi)
	fi2, _ := tr.Lstat("usr/lib/libc.so.6")
	if m.Nlink != 2 || m.Inode != fsmeta.Of(fi2).Inode {
		t.Errorf("hardlink: nlink %d, inodes %d/%d", m.Nlink, m.Inode, fsmeta.Of(fi2).Inode)
	}
	fi, _ = tr.Lstat("dev/sda")
	if m := fsmeta.Of(fi); m.Major != 8 || m.Minor != 0 || typeOf(fi.Mode()) != "blockdev" {
		t.Errorf("dev/sda: %v %d,%d", fi.Mode(), m.Major, m.Minor)
	}
}

func TestTreeMutations(t *testing.T) {
	tr := sampleTree(t)
	must(t, tr.Rename("usr/bin/sh", "usr/bin/bash"))
	if _, err := tr.Stat("bin/bash"); err != nil {
		t.Error(err)
	}
	if err := tr.Rename("usr", "usr/lib/x"); err == nil {
		t.Error("moving a directory into itself succeeded")
	}
	if err := tr.Remove("usr"); err == nil {
		t.Error("removing a non-empty directory succeeded")
	}
	must(t, tr.Chmod("bin/bash", 0o4711|fs.ModeSetuid))
	must(t, tr.Chown("bin/bash", 5, 6))
	must(t, tr.Lchown("bin", 7, 8))
	must(t, tr.Chtimes("bin/bash", time.Unix(1234, 0)))
	fi, _ := tr.Lstat("usr/bin/bash")
	if m := fsmeta.Of(fi); fi.Mode() != fs.ModeSetuid|0o711 || m.UID != 5 || m.GID != 6 || fi.ModTime().Unix() != 1234 {
		t.Errorf("after chmod/chown/chtimes: %v %d:%d %v", fi.Mode(), m.UID, m.GID, fi.ModTime())
	}
	fi, _ = tr.Lstat("bin")
	if m := fsmeta.Of(fi); m.UID != 7 {
		t.Errorf("lchown: uid %d", m.UID)
	}
	// Writing through an absolute symlink lands inside the tree.
	must(t, tr.WriteFile("lib64/new", []byte("x"), 0o644))
	if _, err := tr.Stat("usr/lib/new"); err != nil {
		t.Error(err)
	}
	must(t, tr.RemoveAll("usr"))
	if _, err := tr.Stat("bin/bash"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after RemoveAll: %v", err)
	}
	fi, _ = tr.Lstat("dev/null")
	if m := fsmeta.Of(fi); m.Nlink != 1 {
		t.Errorf("dev/null nlink %d", m.Nlink)
	}
}

// Readers run concurrently with each other and with writers (go test -race).
func TestTreeConcurrentReaders(t *testing.T) {
	tr := sampleTree(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if _, err := fs.ReadFile(tr, "bin/sh"); err != nil {
					t.Error(err)
					return
				}
				if _, err := fs.ReadDir(tr, "usr/lib"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for j := 0; j < 200; j++ {
		must(t, tr.WriteFile("usr/lib/churn", []byte{byte(j)}, 0o644))
	}
	wg.Wait()
}
