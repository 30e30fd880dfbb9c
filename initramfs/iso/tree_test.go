package iso_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/vic"
)

var epoch = time.Date(2022, 6, 10, 8, 30, 0, 0, time.UTC)

const (
	hostIsolinux = "/usr/lib/ISOLINUX/isolinux.bin"
	hostLdlinux  = "/usr/lib/syslinux/modules/bios/ldlinux.c32"
	hostIsohdpfx = "/usr/lib/ISOLINUX/isohdpfx.bin"
)

// needFile reads a host file the test needs, skipping (or failing when
// tools are required) without it.
func needFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		if testrepo.Required() {
			t.Fatalf("%v (VICROOT_REQUIRE_TOOLS=1)", err)
		}
		t.Skip(err)
	}
	return b
}

func pseudo(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func dir(mode fs.FileMode) *fstest.MapFile {
	return &fstest.MapFile{Mode: fs.ModeDir | mode, ModTime: epoch.Add(-time.Hour), Sys: &fsmeta.Meta{}}
}

func file(data []byte, mode fs.FileMode, uid, gid uint32) *fstest.MapFile {
	return &fstest.MapFile{Data: data, Mode: mode, ModTime: epoch.Add(-48 * time.Hour), Sys: &fsmeta.Meta{UID: uid, GID: gid}}
}

var longName = strings.Repeat("n", 200) + ".txt"
var longTarget = strings.Repeat("../abcdefghij/", 40) + "end"

// bootTree is VIC's ISO layout (isolinux.go) plus entries that exercise
// Rock Ridge: long names and links (continuation areas), hardlinks,
// devices, owners.
func bootTree(t testing.TB) fstest.MapFS {
	core := new(bytes.Buffer)
	err := initramfs.Write(context.Background(), core, fstest.MapFS{
		"init": {Data: []byte("#!/bin/sh\necho hi\n"), Mode: 0o755},
	}, initramfs.Gzip, initramfs.Options{Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := vic.IsolinuxConfig(vic.BootConfig{Init: "/bin/init"})
	if err != nil {
		t.Fatal(err)
	}
	hl := func() *fsmeta.Meta { return &fsmeta.Meta{UID: 3, GID: 4, Inode: 9, Nlink: 2} }
	m := fstest.MapFS{
		".":                              dir(0o755),
		"boot":                           dir(0o755),
		"boot/vmlinuz64":                 file(pseudo(150000, 1), 0o644, 0, 0),
		"boot/core.gz":                   file(core.Bytes(), 0o644, 0, 0),
		"boot/System.map-6.1.0-test":     file(pseudo(3000, 2), 0o644, 0, 0),
		"boot/config-6.1.0-test":         file([]byte("CONFIG_X=y\n"), 0o644, 0, 0),
		"boot/isolinux":                  dir(0o755),
		"boot/isolinux/isolinux.bin":     file(needFile(t, hostIsolinux), 0o644, 0, 0),
		"boot/isolinux/ldlinux.c32":      file(needFile(t, hostLdlinux), 0o644, 0, 0),
		"boot/isolinux/isolinux.cfg":     file(cfg, 0o644, 0, 0),
		"boot/isolinux/boot.msg":         file(vic.BootMsg("v1.5.8"), 0o644, 0, 0),
		"extra":                          dir(0o750),
		"extra/" + longName:              file([]byte("long\n"), 0o600, 1000, 1000),
		"extra/link":                     {Data: []byte(longTarget), Mode: fs.ModeSymlink | 0o777, ModTime: epoch, Sys: &fsmeta.Meta{}},
		"extra/abs":                      {Data: []byte("/boot/./vmlinuz64"), Mode: fs.ModeSymlink | 0o777, ModTime: epoch, Sys: &fsmeta.Meta{}},
		"extra/hl1":                      {Data: []byte("shared"), Mode: 0o755, ModTime: epoch, Sys: hl()},
		"extra/hl2":                      {Data: []byte("shared"), Mode: 0o755, ModTime: epoch, Sys: hl()},
		"extra/null":                     {Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, ModTime: epoch, Sys: &fsmeta.Meta{Major: 1, Minor: 3}},
		"extra/sda":                      {Mode: fs.ModeDevice | 0o660, ModTime: epoch, Sys: &fsmeta.Meta{GID: 6, Major: 8, Minor: 0}},
		"extra/fifo":                     {Mode: fs.ModeNamedPipe | 0o600, ModTime: epoch, Sys: &fsmeta.Meta{}},
		"extra/empty":                    file(nil, 0o644, 0, 0),
		"extra/ünïcode name":             file([]byte("u\n"), 0o644, 0, 0),
		"extra/late":                     {Data: []byte("clamped"), Mode: 0o644, ModTime: epoch.Add(1000 * time.Hour), Sys: &fsmeta.Meta{}},
		"extra/a/b/c/d/e/f/g/h/i/j":      dir(0o755),
		"extra/a/b/c/d/e/f/g/h/i/j/deep": file([]byte("deep\n"), 0o644, 0, 0),
	}
	for _, p := range []string{"extra/a", "extra/a/b", "extra/a/b/c", "extra/a/b/c/d", "extra/a/b/c/d/e", "extra/a/b/c/d/e/f", "extra/a/b/c/d/e/f/g", "extra/a/b/c/d/e/f/g/h", "extra/a/b/c/d/e/f/g/h/i"} {
		m[p] = dir(0o755)
	}
	for i := range 120 { // a directory over one sector
		m[filepath.Join("extra/many", strings.Repeat("x", 40)+string(rune('a'+i%26))+strings.Repeat("y", i/26))] = file([]byte{byte(i)}, 0o644, 0, 0)
	}
	m["extra/many"] = dir(0o755)
	return m
}

func writeISO(t testing.TB, fsys fs.FS) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap.iso")
	if err := writeImage(context.Background(), out, fsys, vic.ISOOptions("v1.5.8-0-9489f63", epoch)); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeImage writes the image of fsys to the file name.
func writeImage(ctx context.Context, name string, fsys fs.FS, opts iso.Options) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := iso.WriteTo(ctx, f, fsys, opts); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	return f.Close()
}

// writeInitrd packs fsys compressed with c into the file name.
func writeInitrd(ctx context.Context, name string, fsys fs.FS, c initramfs.Compression, opts initramfs.Options) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := initramfs.Write(ctx, f, fsys, c, opts); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
