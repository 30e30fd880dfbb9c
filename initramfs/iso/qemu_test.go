package iso_test

import (
	"bytes"
	"context"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/vic"
)

// The script prints a marker the shell computes from /etc/a, so the
// marker appears on the console only if /init really ran and the kernel
// linked /etc/a to /etc/b, the hardlink that carries the content "21".
const (
	initScript = "#!/bin/sh\nread x < /etc/a\necho \"vicroot-boot-marker:$((x*2))\"\n/bin/busybox poweroff -f\n"
	marker     = "vicroot-boot-marker:42"
)

// hostKernel returns the Debian kernel of this machine (the one the test
// repository packages).
func hostKernel(t testing.TB) []byte {
	t.Helper()
	return needFile(t, hostKernelPath(t))
}

// hostKernelPath is the newest /boot/vmlinuz-*.
func hostKernelPath(t testing.TB) string {
	t.Helper()
	ks, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Strings(ks)
	if len(ks) == 0 {
		if testrepo.Required() {
			t.Fatal("no /boot/vmlinuz-* (install linux-image-amd64)")
		}
		t.Skip("no /boot/vmlinuz-*")
	}
	return ks[len(ks)-1]
}

// TestQEMUBoots boots ISOs made entirely by this package — ISOLINUX
// from Debian, the host kernel and an initramfs whose /init is busybox,
// in each compression — and waits for /init's marker on the serial
// console.
func TestQEMUBoots(t *testing.T) {
	testrepo.NeedTools(t, "qemu-system-x86_64")
	busybox := needFile(t, "/bin/busybox")
	kernel := hostKernelPath(t)
	needFile(t, kernel)
	for _, c := range []initramfs.Compression{initramfs.Gzip, initramfs.Xz, initramfs.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			bootQEMU(t, busybox, kernel, c, nil)
		})
	}
	// The isohybrid image booted as a hard disk.
	t.Run("hybrid-disk", func(t *testing.T) {
		t.Parallel()
		bootQEMU(t, busybox, kernel, initramfs.Gzip, needFile(t, hostIsohdpfx))
	})
}

func bootQEMU(t *testing.T, busybox []byte, kernel string, c initramfs.Compression, mbr []byte) {
	root := &fsmeta.Meta{}
	link := func() *fsmeta.Meta { return &fsmeta.Meta{Inode: 5, Nlink: 2} }
	initrd := fstest.MapFS{
		".":           {Mode: fs.ModeDir | 0o755, Sys: root},
		"init":        {Data: []byte(initScript), Mode: 0o755, Sys: root},
		"bin":         {Mode: fs.ModeDir | 0o755, Sys: root},
		"bin/busybox": {Data: busybox, Mode: 0o755, Sys: root},
		"bin/sh":      {Data: []byte("busybox"), Mode: fs.ModeSymlink | 0o777, Sys: root},
		// The kernel opens /dev/console for /init's output; it must be in
		// the archive as a record (nothing runs mknod).
		"dev":         {Mode: fs.ModeDir | 0o755, Sys: root},
		"dev/console": {Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Sys: &fsmeta.Meta{Major: 5, Minor: 1}},
		"etc":         {Mode: fs.ModeDir | 0o755, Sys: root},
		"etc/a":       {Data: []byte("21\n"), Mode: 0o644, Sys: link()},
		"etc/b":       {Data: []byte("21\n"), Mode: 0o644, Sys: link()},
		"proc":        {Mode: fs.ModeDir | 0o555, Sys: root},
		"sys":         {Mode: fs.ModeDir | 0o555, Sys: root},
	}
	var core bytes.Buffer
	if err := initramfs.Write(context.Background(), &core, initrd, c, initramfs.Options{Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
	// The ISO tree as the build assembles it: the host's kernel with its
	// System.map and config, core.gz and ISOLINUX, every entry root's.
	kver := strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-")
	cfg, err := vic.IsolinuxConfig(vic.BootConfig{Init: "/init", Consoles: []string{"ttyS0"}, Extra: []string{"panic=-1"}})
	if err != nil {
		t.Fatal(err)
	}
	bootfs := fstest.MapFS{
		iso.KernelPath:            file(needFile(t, "/boot/vmlinuz-"+kver), 0o644, 0, 0),
		iso.InitrdPath:            file(core.Bytes(), 0o644, 0, 0),
		"boot/System.map-" + kver: file(needFile(t, "/boot/System.map-"+kver), 0o644, 0, 0),
		"boot/config-" + kver:     file(needFile(t, "/boot/config-"+kver), 0o644, 0, 0),
		iso.IsolinuxBin:           file(needFile(t, hostIsolinux), 0o644, 0, 0),
		iso.LdlinuxC32:            file(needFile(t, hostLdlinux), 0o644, 0, 0),
		iso.IsolinuxCfg:           file(cfg, 0o644, 0, 0),
		iso.BootMsgPath:           file(vic.BootMsg("v1.5.8-0-9489f63"), 0o644, 0, 0),
		".":                       dir(0o755),
		"boot":                    dir(0o755),
		iso.IsolinuxDir:           dir(0o755),
	}
	img := filepath.Join(t.TempDir(), "bootstrap.iso")
	opts := vic.ISOOptions("v1.5.8-0-9489f63", epoch)
	opts.HybridMBR = mbr
	if err := writeImage(context.Background(), img, bootfs, opts); err != nil {
		t.Fatal(err)
	}
	media := []string{"-cdrom", img}
	if mbr != nil {
		media = []string{"-drive", "file=" + img + ",format=raw,if=ide"}
	}
	var names []string
	if err := walk(openImage(t, img), func(p string, e entry) error {
		if e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: owner %d:%d, want root", p, e.UID, e.GID)
		}
		names = append(names, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"boot", "boot/System.map-" + kver, "boot/config-" + kver, "boot/core.gz", "boot/isolinux",
		"boot/isolinux/boot.cat", "boot/isolinux/boot.msg", "boot/isolinux/isolinux.bin", "boot/isolinux/isolinux.cfg",
		"boot/isolinux/ldlinux.c32", "boot/vmlinuz64"}
	sort.Strings(names)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("ISO tree %q, want %q", names, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	args := append([]string{"120", "qemu-system-x86_64", "-accel", "tcg", "-m", "512"}, media...)
	cmd := exec.CommandContext(ctx, "timeout", append(args, "-nographic", "-no-reboot", "-monitor", "none")...)
	out := &markerWriter{found: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-out.found:
		// poweroff -f ends qemu; give it a moment, then stop it anyway.
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	case err := <-done:
		if !out.seen() {
			t.Fatalf("qemu exited (%v) without the marker %q; console:\n%s", err, marker, out.tail())
		}
	}
}

type markerWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan struct{}
	hit   bool
}

func (m *markerWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf.Write(p)
	if !m.hit && strings.Contains(m.buf.String(), marker) {
		m.hit = true
		close(m.found)
	}
	return len(p), nil
}

func (m *markerWriter) seen() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hit
}

func (m *markerWriter) tail() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.buf.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}
