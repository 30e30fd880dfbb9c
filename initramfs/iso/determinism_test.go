package iso_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/vic"
)

// The re-executed test binary packs the tree named by helperTree into
// helperOut.{iso,cpio.gz} with the umask in helperUmask.
const (
	helperTree  = "VICROOT_ISO_HELPER_TREE"
	helperOut   = "VICROOT_ISO_HELPER_OUT"
	helperUmask = "VICROOT_ISO_HELPER_UMASK"
)

func packDisk(tree, out string) error {
	fsys := os.DirFS(tree)
	ep := time.Unix(1654850000, 0)
	if err := writeImage(context.Background(), out+".iso", fsys, vic.ISOOptions("v1.5.8-0-9489f63", ep)); err != nil {
		return err
	}
	return writeInitrd(context.Background(), out+".cpio.gz", fsys, initramfs.Gzip, initramfs.Options{Epoch: ep})
}

// TestMain doubles as the re-executed packer of
// TestSameBytesAcrossProcesses.
func TestMain(m *testing.M) {
	if tree := os.Getenv(helperBench); tree != "" {
		if err := benchPack(tree, os.Getenv(helperOut)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if tree := os.Getenv(helperTree); tree != "" {
		if u, err := strconv.ParseUint(os.Getenv(helperUmask), 8, 32); err == nil {
			syscall.Umask(int(u))
		}
		if err := packDisk(tree, os.Getenv(helperOut)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// makeDiskTree writes a tree on disk whose modes do not depend on the
// umask, with a hardlink and a symlink, and times after the epoch.
func makeDiskTree(t *testing.T) string {
	d := t.TempDir()
	files := map[string]string{
		"boot/vmlinuz64": string(pseudo(70000, 5)), "boot/core.gz": "core",
		"boot/isolinux/isolinux.bin": string(pseudo(4096, 7)), "boot/isolinux/isolinux.cfg": "default x\n",
		"etc/passwd": "root:x:0:0::/root:/bin/sh\n",
	}
	for name, data := range files {
		p := filepath.Join(d, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"boot", "boot/isolinux", "etc"} {
		os.Chmod(filepath.Join(d, dir), 0o755)
	}
	os.Chmod(d, 0o755)
	if err := os.Link(filepath.Join(d, "etc/passwd"), filepath.Join(d, "etc/passwd-")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../boot/core.gz", filepath.Join(d, "etc/core")); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSameBytesAcrossProcesses packs one tree on disk twice here and once
// in a re-executed test binary with another umask, TZ and TMPDIR: all
// three must be byte-identical.
func TestSameBytesAcrossProcesses(t *testing.T) {
	tree := makeDiskTree(t)
	out := t.TempDir()
	for _, n := range []string{"a", "b"} {
		if err := packDisk(tree, filepath.Join(out, n)); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(os.Args[0])
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(),
		helperTree+"="+tree, helperOut+"="+filepath.Join(out, "c"), helperUmask+"=077",
		"TZ=Pacific/Chatham", "TMPDIR="+tmp, "LC_ALL=C")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("re-executed packer: %v\n%s", err, b)
	}
	for _, ext := range []string{".iso", ".cpio.gz"} {
		a, _ := os.ReadFile(filepath.Join(out, "a"+ext))
		b, _ := os.ReadFile(filepath.Join(out, "b"+ext))
		c, err := os.ReadFile(filepath.Join(out, "c"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: two packs in one process differ", ext)
		}
		if !bytes.Equal(a, c) {
			t.Errorf("%s: the pack of the other process (umask 077, TZ, TMPDIR) differs", ext)
		}
	}
}
