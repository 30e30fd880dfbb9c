package main

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// describe lists a tree as sorted lines: path, type, mode, size or link
// target, mtime, and a hardlink group id, so two extractions can be compared.
func describe(t *testing.T, dir string) string {
	t.Helper()
	inodes := map[uint64]string{}
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		l := rel + " " + fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			l += " -> " + target
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			l += " " + string(b) + " " + fi.ModTime().UTC().Format(time.RFC3339)
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					l += " link-of " + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case fi.IsDir() && rel != ".":
			l += " " + fi.ModTime().UTC().Format(time.RFC3339)
		}
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// GNU tar is the oracle: a tree archived by GNU tar and extracted by unpack
// must look exactly like the same archive extracted by GNU tar.
func TestMatchesGNUTar(t *testing.T) {
	testrepo.NeedTools(t, "tar")
	src := t.TempDir()
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, f := range []struct {
		name, content string
		mode          os.FileMode
	}{
		{"bin/tool", "#!/bin/sh\necho hi\n", 0o755},
		{"etc/conf", "x=1\n", 0o640},
		{"etc/setuid", "s", 0o4755},
		{"deep/a/b/c/file", "deep", 0o600},
		{"empty", "", 0o644},
	} {
		p := filepath.Join(src, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Symlink("../bin/tool", filepath.Join(src, "etc/tool-link")))
	must(t, os.Symlink("/nonexistent/abs", filepath.Join(src, "dangling")))
	must(t, os.Link(filepath.Join(src, "bin/tool"), filepath.Join(src, "bin/tool-hard")))
	must(t, os.MkdirAll(filepath.Join(src, "tmp"), 0o755))
	must(t, os.Chmod(filepath.Join(src, "tmp"), 0o1777))
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	}))

	archive, err := exec.Command("tar", "-C", src, "-cf", "-", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := t.TempDir()
	cmd := exec.Command("tar", "-C", want, "-xpf", "-")
	cmd.Stdin = bytes.NewReader(archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GNU tar -x: %v\n%s", err, out)
	}
	got := filepath.Join(t.TempDir(), "new", "dir") // created by unpack
	var warn bytes.Buffer
	if err := unpack(bytes.NewReader(archive), got, os.Geteuid() == 0, &warn); err != nil {
		t.Fatal(err)
	}
	if d, w := describe(t, got), describe(t, want); d != w {
		t.Errorf("unpack and GNU tar differ:\nunpack:\n%s\n\nGNU tar:\n%s", d, w)
	}
	if warn.Len() != 0 {
		t.Errorf("unexpected warnings: %s", warn.String())
	}
}

type entry struct {
	name, link string
	typ        byte
	body       string
}

func mkTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		must(t, tw.WriteHeader(h))
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	must(t, tw.Close())
	return b.Bytes()
}

// Entries that would write outside the target are refused and leave
// nothing outside it.
func TestRefusesEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
	}{
		{"dotdot", []entry{{name: "../escaped", typ: tar.TypeReg, body: "x"}}},
		{"nested dotdot", []entry{{name: "a/../../escaped", typ: tar.TypeReg, body: "x"}}},
		{"absolute", []entry{{name: "/escaped", typ: tar.TypeReg, body: "x"}}},
		{"through symlink", []entry{
			{name: "link", link: "..", typ: tar.TypeSymlink},
			{name: "link/escaped", typ: tar.TypeReg, body: "x"},
		}},
		{"through absolute symlink dir", []entry{
			{name: "abs", link: "/", typ: tar.TypeSymlink},
			{name: "abs/escaped", typ: tar.TypeReg, body: "x"},
		}},
		{"hardlink out", []entry{{name: "h", link: "../outside-target", typ: tar.TypeLink}}},
		{"empty name", []entry{{name: "", typ: tar.TypeReg}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			must(t, os.WriteFile(filepath.Join(parent, "outside-target"), []byte("keep"), 0o644))
			dir := filepath.Join(parent, "root")
			err := unpack(bytes.NewReader(mkTar(t, tt.entries)), dir, false, io.Discard)
			if err == nil {
				t.Fatal("unpack succeeded, want an error")
			}
			for _, p := range []string{filepath.Join(parent, "escaped"), "/escaped"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was created", p)
				}
			}
		})
	}
}

// A symlink inside the archive that points within the tree is fine, and a
// later regular file replaces (does not write through) an existing symlink.
func TestReplacesSymlinkWithFile(t *testing.T) {
	parent := t.TempDir()
	must(t, os.WriteFile(filepath.Join(parent, "victim"), []byte("keep"), 0o644))
	dir := filepath.Join(parent, "root")
	tarball := mkTar(t, []entry{
		{name: "f", link: "../victim", typ: tar.TypeSymlink},
		{name: "f", typ: tar.TypeReg, body: "new"},
	})
	if err := unpack(bytes.NewReader(tarball), dir, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "victim")); string(b) != "keep" {
		t.Errorf("victim outside the root was overwritten: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "new" {
		t.Errorf("f = %q, want %q", b, "new")
	}
}

func TestSkipsDevices(t *testing.T) {
	dir := t.TempDir()
	var warn bytes.Buffer
	err := unpack(bytes.NewReader(mkTar(t, []entry{{name: "null", typ: tar.TypeChar}, {name: "ok", typ: tar.TypeReg, body: "1"}})), dir, false, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), `skipping "null"`) {
		t.Errorf("no warning for the device: %q", warn.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "ok")); err != nil {
		t.Error(err)
	}
}

func TestTruncatedArchive(t *testing.T) {
	b := mkTar(t, []entry{{name: "f", typ: tar.TypeReg, body: strings.Repeat("x", 2000)}})
	if err := unpack(bytes.NewReader(b[:1000]), t.TempDir(), false, io.Discard); err == nil {
		t.Fatal("unpack of a truncated archive succeeded")
	}
}

// FuzzUnpack: any input either extracts or errors, never panics, and never
// creates anything beside the target directory.
func FuzzUnpack(f *testing.F) {
	f.Add(mkTarF(f, []entry{{name: "a/b", typ: tar.TypeReg, body: "x"}, {name: "l", link: "a/b", typ: tar.TypeLink}}))
	f.Add(mkTarF(f, []entry{{name: "s", link: "..", typ: tar.TypeSymlink}, {name: "s/x", typ: tar.TypeReg}}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		_ = unpack(bytes.NewReader(b), filepath.Join(parent, "root"), false, io.Discard)
		ents, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "root" {
				t.Fatalf("created %q outside the target", e.Name())
			}
		}
	})
}

func mkTarF(f *testing.F, entries []entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			_, _ = io.WriteString(tw, e.body)
		}
	}
	_ = tw.Close()
	return b.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
