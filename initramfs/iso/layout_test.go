package iso_test

import (
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/initramfs/iso"
)

// TestTreeIsAnFS runs the standard library's fs.FS conformance checks on
// a Tree that mixes bytes and files of another fs.FS.
func TestTreeIsAnFS(t *testing.T) {
	src := fstest.MapFS{"k/vmlinuz-6.1": {Data: []byte("kernel"), Mode: 0o644, ModTime: epoch}}
	tr := iso.NewTree(epoch)
	if err := tr.AddFile(iso.KernelPath, src, "k/vmlinuz-6.1"); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddBytes(iso.IsolinuxCfg, []byte("default x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(tr, iso.KernelPath, iso.IsolinuxCfg, "boot", "boot/isolinux"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"/abs", "../up", iso.KernelPath, iso.KernelPath + "/under"} {
		if err := tr.AddBytes(bad, nil, 0o644); err == nil {
			t.Errorf("AddBytes(%q) accepted", bad)
		}
	}
	if err := tr.AddFile("boot/x", src, "k"); err == nil {
		t.Error("a directory added as a file")
	}
}

func TestVICLayoutNeedsIsolinux(t *testing.T) {
	src := fstest.MapFS{"vmlinuz": {Data: []byte("k")}, "core.gz": {Data: []byte("c")}, "isolinux/ldlinux.c32": {Data: []byte("l")}}
	_, err := iso.VICLayout{
		Kernel:   iso.FileRef{FS: src, Path: "vmlinuz"},
		Initrd:   iso.FileRef{FS: src, Path: "core.gz"},
		Isolinux: iso.FileRef{FS: src, Path: "isolinux"},
	}.Tree()
	if err == nil {
		t.Fatal("a layout without isolinux.bin was accepted")
	}
}
