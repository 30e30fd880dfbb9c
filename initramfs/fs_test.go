package initramfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// gnuTree is a tree on disk with every kind of entry GNU cpio archives
// without root: directories, files, a hardlink set, relative and absolute
// symlinks, a FIFO.
func gnuTree(t *testing.T) string {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "usr/lib/x"), 0o750))
	must(t, os.WriteFile(filepath.Join(dir, "usr/lib/x/f"), []byte("hello\n"), 0o640))
	must(t, os.WriteFile(filepath.Join(dir, "usr/lib/big"), bigData(), 0o600))
	must(t, os.Link(filepath.Join(dir, "usr/lib/big"), filepath.Join(dir, "usr/lib/big2")))
	must(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644))
	must(t, os.Symlink("usr/lib", filepath.Join(dir, "lib")))
	must(t, os.Symlink("/usr/lib/x/f", filepath.Join(dir, "abs")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	return dir
}

func gnuArchive(t *testing.T, dir, filter string) []byte {
	testrepo.NeedTools(t, "cpio", "find", "sh", "gzip")
	cmd := exec.Command("sh", "-c", "find . | cpio -o -H newc --quiet"+filter)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// OpenFS of an archive GNU cpio made (plain and gzip'd) is the tree on
// disk it was made from: the host's lstat, readlink and file contents are
// the oracle, and testing/fstest checks the fs.FS contract.
func TestOpenFSMatchesTheTreeGNUCpioArchived(t *testing.T) {
	dir := gnuTree(t)
	for _, filter := range []string{"", " | gzip --fast"} {
		archive := gnuArchive(t, dir, filter)
		fsys, err := initramfs.OpenFS(context.Background(), bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			t.Fatalf("%q: %v", filter, err)
		}
		var paths []string
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			paths = append(paths, rel)
			want, _ := os.Lstat(p)
			got, err := fsys.Lstat(rel)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			if got.Mode() != want.Mode() || got.Name() != want.Name() && rel != "." {
				t.Errorf("%s: %s %v, disk has %s %v", rel, got.Name(), got.Mode(), want.Name(), want.Mode())
			}
			st := want.Sys().(*syscall.Stat_t)
			m := fsmeta.Of(got)
			if m == nil || m.UID != st.Uid || m.GID != st.Gid {
				t.Errorf("%s: owner %+v, disk has %d:%d", rel, m, st.Uid, st.Gid)
			}
			if got.ModTime().Unix() != want.ModTime().Unix() {
				t.Errorf("%s: mtime %v, disk has %v", rel, got.ModTime(), want.ModTime())
			}
			switch {
			case want.Mode().IsRegular():
				wb, _ := os.ReadFile(p)
				gb, err := fs.ReadFile(fsys, rel)
				if err != nil || !bytes.Equal(gb, wb) {
					t.Errorf("%s: content %d bytes (%v), disk has %d", rel, len(gb), err, len(wb))
				}
				if st.Nlink > 1 && (m.Nlink != uint32(st.Nlink) || m.Inode == 0) {
					t.Errorf("%s: hardlink set %d/%d, disk has %d links", rel, m.Inode, m.Nlink, st.Nlink)
				}
			case want.Mode()&fs.ModeSymlink != 0:
				wl, _ := os.Readlink(p)
				if gl, err := fs.ReadLink(fsys, rel); gl != wl || err != nil {
					t.Errorf("%s: target %q (%v), disk has %q", rel, gl, err, wl)
				}
			}
			return nil
		})
		must(t, err)
		// Symlinks resolve inside the tree, absolute ones too.
		if b, err := fs.ReadFile(fsys, "abs"); string(b) != "hello\n" || err != nil {
			t.Errorf("abs: %q %v", b, err)
		}
		if b, err := fs.ReadFile(fsys, "lib/x/f"); string(b) != "hello\n" || err != nil {
			t.Errorf("lib/x/f: %q %v", b, err)
		}
		if err := fstest.TestFS(fsys, paths[1:]...); err != nil {
			t.Errorf("%q: %v", filter, err)
		}
		must(t, fsys.Close())
	}
}

// A tree read back packs again into the same bytes: the reader gives the
// writer everything it stores (owners, devices, hardlinks, times).
func TestOpenFSRoundTrip(t *testing.T) {
	tree := testTree()
	first := packBytes(t, tree)
	fsys, err := initramfs.OpenFS(context.Background(), bytes.NewReader(first), int64(len(first)))
	must(t, err)
	defer fsys.Close()
	if again := packBytes(t, fsys); !bytes.Equal(first, again) {
		t.Errorf("repacked archive differs (%d vs %d bytes)", len(first), len(again))
	}
}

// A truncated archive — compressed or not, cut anywhere — is an error
// that says it is cut short, never a smaller tree.
func TestOpenFSRejectsTruncated(t *testing.T) {
	dir := gnuTree(t)
	plain := gnuArchive(t, dir, "")
	gz := gnuArchive(t, dir, " | gzip --fast")
	trailerAt := bytes.LastIndex(plain, []byte("070701"))
	bigAt := bytes.Index(plain, []byte("usr/lib/big\x00"))
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"inside a header", plain[:bigAt-50], "cut short"},
		{"inside a name", plain[:bigAt+4], "cut short"},
		{"inside content", plain[:bigAt+1000], "cut short"},
		{"before the trailer", plain[:trailerAt], "TRAILER!!!"},
		{"gzip inside the stream", gz[:len(gz)/2], "cut short"},
		{"gzip before its footer", gz[:len(gz)-4], "cut short"},
		{"empty", nil, "too short"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys, err := initramfs.OpenFS(context.Background(), bytes.NewReader(c.data), int64(len(c.data)))
			if err == nil {
				fsys.Close()
				t.Fatal("truncated archive accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestOpenFSRejects(t *testing.T) {
	rec := func(name string, mode uint32, data string) string {
		var b bytes.Buffer
		b.WriteString("070701")
		for _, v := range []int{1, int(mode), 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0} {
			fmt.Fprintf(&b, "%08X", v)
		}
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		return b.String()
	}
	end := rec("TRAILER!!!", 0, "")
	for name, archive := range map[string]string{
		"climbs out":     rec("../etc/passwd", fsmeta.S_IFREG|0o644, "x") + end,
		"unknown type":   rec("x", 0o644, "") + end,
		"long target":    rec("l", fsmeta.S_IFLNK|0o777, strings.Repeat("a", 5000)) + end,
		"file under one": rec("f", fsmeta.S_IFREG|0o644, "x") + rec("f/g", fsmeta.S_IFREG|0o644, "y") + end,
		"device content": rec("d", fsmeta.S_IFCHR|0o644, "x") + end,
	} {
		fsys, err := initramfs.OpenFS(context.Background(), strings.NewReader(archive), int64(len(archive)))
		if err == nil {
			fsys.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	// A later record replaces an earlier one, as the kernel's unpacker does.
	archive := rec("a", fsmeta.S_IFREG|0o644, "one") + rec("a", fsmeta.S_IFREG|0o600, "two") + end
	fsys, err := initramfs.OpenFS(context.Background(), strings.NewReader(archive), int64(len(archive)))
	must(t, err)
	if b, _ := fs.ReadFile(fsys, "a"); string(b) != "two" {
		t.Errorf("a = %q, want the later record's", b)
	}
	if _, err := fs.ReadFile(fsys, "nothere"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nothere: %v", err)
	}
}

// FuzzOpenFS feeds arbitrary bytes (plain or compressed) to OpenFS: it
// returns a tree or an error, never panics, and every path of a tree it
// returns can be stat'ed and read.
func FuzzOpenFS(f *testing.F) {
	small := testTree()
	delete(small, "usr/share/big")
	f.Add(packBytes(f, small))
	var gz bytes.Buffer
	must(f, initramfs.Write(context.Background(), &gz, small, initramfs.Gzip, initramfs.Options{}))
	f.Add(gz.Bytes())
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys, err := initramfs.OpenFS(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer fsys.Close()
		n := 0
		fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if n++; n > 10000 {
				return fs.SkipAll
			}
			if d.Type().IsRegular() {
				f, err := fsys.Open(p)
				if err == nil {
					io.Copy(io.Discard, io.LimitReader(f, 1<<20))
					f.Close()
				}
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if _, err := fs.ReadLink(fsys, p); err != nil {
					t.Errorf("%s: listed as a symlink but: %v", p, err)
				}
			}
			return nil
		})
	})
}

// rpm's stripped records ("07070X", a file index, padding to 4 bytes
// before and after the 14-byte header as rpm's cpio writer puts it) are
// read by NewPayloadReader with the sizes from the RPM header, and refused
// by NewReader.
func TestPayloadReaderStripped(t *testing.T) {
	var b bytes.Buffer
	stripped := func(idx int, data string) {
		fmt.Fprintf(&b, "07070X%08x", idx)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	stripped(1, "second")
	stripped(0, "first!!")
	fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0)
	b.WriteString("TRAILER!!!\x00")
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	archive := b.Bytes()
	r := initramfs.NewPayloadReader(bytes.NewReader(archive), []int64{7, 6})
	var got []string
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", h.Index, data))
	}
	if strings.Join(got, " ") != "1:second 0:first!!" {
		t.Errorf("read %q", got)
	}
	if _, err := initramfs.NewReader(bytes.NewReader(archive)).Next(); err == nil {
		t.Error("NewReader read a stripped record")
	}
	if _, err := initramfs.NewPayloadReader(bytes.NewReader(archive), []int64{7}).Next(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("index past the header's files: %v", err)
	}
}
