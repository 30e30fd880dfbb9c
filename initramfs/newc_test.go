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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/internal/testrepo"
)

func packBytes(t testing.TB, fsys fs.FS) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := initramfs.WriteCPIO(context.Background(), &buf, fsys, initramfs.Options{Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// expected is what `cpio -itv` must print for testTree, written from the
// tree's definition: mode string, link count, owners, size or device.
var expected = map[string]struct {
	mode        string
	nlink       int
	uid, gid    int
	dev, target string
}{
	".":                 {"drwxr-xr-x", 8, 0, 0, "", ""},
	"bin":               {"drwxr-xr-x", 2, 0, 0, "", ""},
	"bin/busybox":       {"-rwxr-xr-x", 1, 0, 0, "", ""},
	"bin/sh":            {"lrwxrwxrwx", 1, 0, 0, "", "busybox"},
	"bin/su":            {"-rwsr-xr-x", 1, 0, 0, "", ""},
	"dev":               {"drwxr-xr-x", 2, 0, 0, "", ""},
	"dev/null":          {"crw-rw-rw-", 1, 0, 0, "1, 3", ""},
	"dev/sda":           {"brw-rw----", 1, 0, 6, "8, 0", ""},
	"dev/ttyS1":         {"crw--w----", 1, 0, 5, "4, 65", ""},
	"dev/initctl":       {"prw-------", 1, 0, 0, "", ""},
	"etc":               {"drwxr-xr-x", 2, 0, 0, "", ""},
	"etc/empty":         {"-rw-r--r--", 1, 0, 0, "", ""},
	"etc/shadow":        {"-rw-r-----", 1, 0, 42, "", ""},
	"home":              {"drwxr-xr-x", 3, 0, 0, "", ""},
	"home/vicadmin":     {"drwx------", 2, 1000, 1000, "", ""},
	"home/vicadmin/x.c": {"-rw-------", 1, 1000, 1000, "", ""},
	"lib64":             {"lrwxrwxrwx", 1, 0, 0, "", "/lib"},
	"tmp":               {"drwxrwxrwt", 2, 0, 0, "", ""},
	"usr":               {"drwxr-xr-x", 5, 0, 0, "", ""},
	"usr/bin":           {"drwxr-xr-x", 2, 0, 0, "", ""},
	"usr/bin/a":         {"-rwxr-xr-x", 3, 1000, 100, "", ""},
	"usr/bin/b":         {"-rwxr-xr-x", 3, 1000, 100, "", ""},
	"usr/sbin":          {"drwxr-x---", 2, 0, 0, "", ""},
	"usr/sbin/c":        {"-rwxr-xr-x", 3, 1000, 100, "", ""},
	"usr/share":         {"drwxr-xr-x", 2, 0, 0, "", ""},
	"usr/share/big":     {"-rw-r--r--", 1, 0, 0, "", ""},
	"usr/share/odd":     {"-r--r--r--", 1, 2, 3, "", ""},
}

func TestGNUCpioLists(t *testing.T) {
	testrepo.NeedTools(t, "cpio")
	tree := testTree()
	archive := packBytes(t, tree)
	cmd := exec.Command("cpio", "-itv", "--numeric-uid-gid", "--quiet")
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.Stdin = bytes.NewReader(archive)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -itv: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("cpio -itv warned: %s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	seen := map[string]bool{}
	var order []string
	for _, line := range lines {
		f := strings.Fields(line)
		// mode nlink uid gid size|maj, min  Mon DD YYYY|HH:MM name [-> target]
		dev := ""
		if strings.HasSuffix(f[4], ",") {
			dev = f[4] + " " + f[5]
			f = append(f[:4], f[5:]...)
		}
		name := f[8]
		target := ""
		if len(f) > 10 && f[9] == "->" {
			target = f[10]
		}
		order = append(order, name)
		want, ok := expected[name]
		if !ok {
			t.Errorf("cpio lists %q, not in the tree: %s", name, line)
			continue
		}
		seen[name] = true
		nlink, _ := strconv.Atoi(f[1])
		uid, _ := strconv.Atoi(f[2])
		gid, _ := strconv.Atoi(f[3])
		if f[0] != want.mode || nlink != want.nlink || uid != want.uid || gid != want.gid || dev != want.dev || target != want.target {
			t.Errorf("%s: cpio says %s %d %d:%d dev %q -> %q; want %s %d %d:%d dev %q -> %q",
				name, f[0], nlink, uid, gid, dev, target, want.mode, want.nlink, want.uid, want.gid, want.dev, want.target)
		}
		if want.mode[0] == '-' && nlink == 1 {
			if size, _ := strconv.Atoi(f[4]); size != len(tree[name].Data) {
				t.Errorf("%s: size %d, want %d", name, size, len(tree[name].Data))
			}
		}
	}
	for name := range expected {
		if !seen[name] {
			t.Errorf("cpio does not list %q", name)
		}
	}
	if order[0] != "." {
		t.Errorf("first entry %q, want \".\" as GNU cpio after find", order[0])
	}
	// Every directory comes before its contents (the kernel needs it).
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	for _, n := range order {
		if d := filepath.Dir(n); d != "." && pos[d] > pos[n] {
			t.Errorf("%s listed before its directory %s", n, d)
		}
	}
}

// TestGNUCpioExtracts extracts the archive with GNU cpio as root (it makes
// the device nodes) and compares what lands on disk with the tree.
func TestGNUCpioExtracts(t *testing.T) {
	testrepo.NeedTools(t, "cpio")
	testrepo.NeedRoot(t)
	tree := testTree()
	archive := packBytes(t, tree)
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--quiet", "--no-absolute-filenames")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -idm: %v\n%s", err, out)
	}
	var inodes = map[uint64][]string{}
	for name, mf := range tree {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("extracted tree lacks %s: %v", name, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := expected[name]
		if got := fi.Mode().String(); !modeStringsMatch(got, want.mode) {
			t.Errorf("%s: extracted mode %s, want %s", name, got, want.mode)
		}
		if int(st.Uid) != want.uid || int(st.Gid) != want.gid {
			t.Errorf("%s: extracted owner %d:%d, want %d:%d", name, st.Uid, st.Gid, want.uid, want.gid)
		}
		switch {
		case mf.Mode.IsRegular():
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, mf.Data) {
				t.Errorf("%s: extracted content differs (%d bytes, want %d; %v)", name, len(got), len(mf.Data), err)
			}
			wantTime := mf.ModTime
			if wantTime.After(epoch) {
				wantTime = epoch
			}
			if !fi.ModTime().Equal(wantTime) {
				t.Errorf("%s: mtime %v, want %v", name, fi.ModTime().UTC(), wantTime)
			}
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], name)
			}
		case mf.Mode&os.ModeSymlink != 0:
			if got, _ := os.Readlink(p); got != string(mf.Data) {
				t.Errorf("%s: symlink to %q, want %q", name, got, mf.Data)
			}
		case mf.Mode&os.ModeDevice != 0:
			got := fmt.Sprintf("%d, %d", (st.Rdev>>8)&0xfff, st.Rdev&0xff|(st.Rdev>>12)&^0xff)
			if got != want.dev {
				t.Errorf("%s: device %s, want %s", name, got, want.dev)
			}
		}
	}
	if len(inodes) != 1 {
		t.Fatalf("hardlink sets on disk: %v, want one set of three", inodes)
	}
	for _, names := range inodes {
		sort.Strings(names)
		if strings.Join(names, " ") != "usr/bin/a usr/bin/b usr/sbin/c" {
			t.Errorf("hardlink set %v, want usr/bin/a usr/bin/b usr/sbin/c", names)
		}
	}
}

// modeStringsMatch compares Go's FileMode.String with an ls-style mode
// string for the kinds in the test tree.
func modeStringsMatch(goMode, ls string) bool {
	var m os.FileMode
	switch ls[0] {
	case 'd':
		m |= os.ModeDir
	case 'l':
		m |= os.ModeSymlink
	case 'c':
		m |= os.ModeDevice | os.ModeCharDevice
	case 'b':
		m |= os.ModeDevice
	case 'p':
		m |= os.ModeNamedPipe
	}
	for i, c := range ls[1:] {
		if c != '-' && c != 'S' && c != 'T' {
			m |= 1 << (8 - i)
		}
	}
	if ls[3] == 's' || ls[3] == 'S' {
		m |= os.ModeSetuid
	}
	if ls[9] == 't' || ls[9] == 'T' {
		m |= os.ModeSticky
	}
	return goMode == m.String()
}

func TestRoundTrip(t *testing.T) {
	tree := testTree()
	archive := packBytes(t, tree)
	r := initramfs.NewReader(bytes.NewReader(archive))
	got := map[string]bool{}
	inos := map[uint32]bool{}
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
		mf, ok := tree[h.Name]
		if !ok {
			t.Fatalf("unexpected record %q", h.Name)
		}
		got[h.Name] = true
		if h.NLink == 1 || mf.Mode.IsDir() {
			if inos[h.Ino] {
				t.Errorf("%s: inode %d reused", h.Name, h.Ino)
			}
			inos[h.Ino] = true
		}
		switch {
		case mf.Mode.IsRegular() && h.NLink > 1:
			// Only the last link of the set carries the content.
			if h.Name == "usr/sbin/c" {
				if !bytes.Equal(data, mf.Data) {
					t.Errorf("%s: content differs", h.Name)
				}
			} else if len(data) != 0 {
				t.Errorf("%s: %d bytes on a link before the last", h.Name, len(data))
			}
		case mf.Mode.IsRegular(), mf.Mode&os.ModeSymlink != 0:
			if !bytes.Equal(data, mf.Data) {
				t.Errorf("%s: content %q, want %q", h.Name, data, mf.Data)
			}
		}
		wantTime := mf.ModTime
		if wantTime.After(epoch) {
			wantTime = epoch
		}
		if !h.ModTime().Equal(wantTime) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime(), wantTime)
		}
	}
	if len(got) != len(tree) {
		t.Errorf("read %d records, tree has %d entries", len(got), len(tree))
	}
	if len(archive)%512 != 0 {
		t.Errorf("archive is %d bytes, not padded to 512 as GNU cpio pads", len(archive))
	}
}

// TestReadsGNUCpio reads an archive made by GNU cpio from a tree on disk.
func TestReadsGNUCpio(t *testing.T) {
	testrepo.NeedTools(t, "cpio", "find")
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "a/b/f"), []byte("hello\n"), 0o640))
	must(t, os.WriteFile(filepath.Join(dir, "a/g"), bigData(), 0o600))
	must(t, os.Symlink("b/f", filepath.Join(dir, "a/l")))
	must(t, os.Link(filepath.Join(dir, "a/g"), filepath.Join(dir, "a/h")))
	cmd := exec.Command("sh", "-c", "find . | cpio -o -H newc --quiet")
	cmd.Dir = dir
	archive, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r := initramfs.NewReader(bytes.NewReader(archive))
	n := 0
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(filepath.Join(dir, h.Name))
		if err != nil {
			t.Fatalf("reader returned %q: %v", h.Name, err)
		}
		if fi.Mode().IsRegular() && len(data) > 0 {
			want, _ := os.ReadFile(filepath.Join(dir, h.Name))
			if !bytes.Equal(data, want) {
				t.Errorf("%s: content differs", h.Name)
			}
		}
		if fi.Mode()&os.ModeSymlink != 0 && string(data) != "b/f" {
			t.Errorf("%s: target %q", h.Name, data)
		}
		if uint32(h.Mode)&0o777 != uint32(fi.Mode().Perm()) {
			t.Errorf("%s: mode %o, disk %v", h.Name, h.Mode, fi.Mode())
		}
	}
	if n != 7 {
		t.Errorf("read %d records, want 7 (., a, a/b, a/b/f, a/g, a/h, a/l)", n)
	}
}

func TestReaderRejects(t *testing.T) {
	good := packBytes(t, fstest.MapFS{"f": {Data: []byte("data"), Mode: 0o644}})
	hdr := func(field int, val string) []byte {
		b := bytes.Clone(good)
		copy(b[6+8*field:], val)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "TRAILER"},
		{"bad magic", append([]byte("070707"), good[6:]...), "magic"},
		{"bad hex", hdr(1, "0000zz00"), "field mode"},
		{"huge name", hdr(11, "7fffffff"), "namesize"},
		{"zero name", hdr(11, "00000000"), "namesize"},
		{"truncated", good[:200], ""},
		{"no trailer", good[:len(good)-512+112], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := initramfs.NewReader(bytes.NewReader(tt.in))
			var err error
			for err == nil {
				_, err = r.Next()
				if err == nil {
					_, err = io.Copy(io.Discard, r)
				}
			}
			if err == io.EOF {
				t.Fatalf("malformed archive read without error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	a := packBytes(t, testTree())
	b := packBytes(t, testTree())
	if !bytes.Equal(a, b) {
		t.Fatal("two runs on the same tree differ")
	}
	// A later epoch moves clamped times only.
	var c bytes.Buffer
	must(t, initramfs.WriteCPIO(context.Background(), &c, testTree(), initramfs.Options{Epoch: epoch.Add(time.Hour)}))
	if bytes.Equal(a, c.Bytes()) {
		t.Error("epoch does not reach the archive")
	}
}

func TestWriteCPIOErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := initramfs.WriteCPIO(ctx, io.Discard, testTree(), initramfs.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	bad := fstest.MapFS{"sock": {Mode: os.ModeIrregular}}
	if err := initramfs.WriteCPIO(context.Background(), io.Discard, bad, initramfs.Options{}); err == nil || !strings.Contains(err.Error(), "sock") {
		t.Errorf("irregular file: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDiskTreeHardlinks packs a tree on disk (os.DirFS: owners and link
// identity from the host's stat data) and checks the hardlink set with
// GNU cpio's listing.
func TestDiskTreeHardlinks(t *testing.T) {
	testrepo.NeedTools(t, "cpio")
	d := t.TempDir()
	must(t, os.WriteFile(filepath.Join(d, "a"), []byte("same\n"), 0o644))
	must(t, os.Link(filepath.Join(d, "a"), filepath.Join(d, "b")))
	must(t, os.Mkdir(filepath.Join(d, "sub"), 0o755))
	must(t, os.Link(filepath.Join(d, "a"), filepath.Join(d, "sub", "c")))
	var buf bytes.Buffer
	must(t, initramfs.WriteCPIO(context.Background(), &buf, os.DirFS(d), initramfs.Options{Epoch: epoch}))
	cmd := exec.Command("cpio", "-itv", "--numeric-uid-gid", "--quiet")
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.Output()
	must(t, err)
	uid := strconv.Itoa(os.Getuid())
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if name := f[len(f)-1]; name == "a" || name == "b" || name == "sub/c" {
			n++
			if f[1] != "3" || f[2] != uid {
				t.Errorf("cpio lists %q, want 3 links owned by %s", line, uid)
			}
		}
	}
	if n != 3 {
		t.Errorf("cpio listed %d of the 3 links:\n%s", n, out)
	}
	// Extracting (to a non-root place; owners are not the point) gives
	// one file with three names and the content.
	x := t.TempDir()
	ex := exec.Command("cpio", "-id", "--quiet")
	ex.Dir = x
	ex.Stdin = bytes.NewReader(buf.Bytes())
	if b, err := ex.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v\n%s", err, b)
	}
	var ino uint64
	for _, name := range []string{"a", "b", "sub/c"} {
		fi, err := os.Stat(filepath.Join(x, name))
		must(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		if ino != 0 && st.Ino != ino {
			t.Errorf("%s is not linked to a", name)
		}
		ino = st.Ino
		if b, _ := os.ReadFile(filepath.Join(x, name)); string(b) != "same\n" {
			t.Errorf("%s: content %q", name, b)
		}
	}
}
