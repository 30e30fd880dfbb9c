package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// bootResult is what a containerVM printed on its two serial ports.
type bootResult struct {
	TTYS0, TTYS1 string
}

// containerfsDir lays out what VIC's portlayer pre-creates on a container
// disk (/.tether 0777, /lib/modules, /run, /proc, /sys, /etc), plus
// busybox-static as /bin/sh, chroot and ps, as in the seed's
// `docker run busybox`.
func containerfsDir(t *testing.T) string {
	t.Helper()
	testrepo.NeedTools(t, "busybox")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	for _, sub := range []string{"lib/modules", "run", "proc", "sys", "etc", "bin", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(d, ".tether"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(d, ".tether"), 0o777); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "bin/busybox"), src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "chroot", "ps", "ls", "cat"} {
		if err := os.Symlink("busybox", filepath.Join(d, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "etc/hostname"), []byte("containervm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// mkContainerDisk makes an ext4 image labelled containerfs from dir,
// without root (mkfs.ext4 -d).
func mkContainerDisk(t *testing.T, dir string) string {
	t.Helper()
	testrepo.NeedTools(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), "containerfs.img")
	cmd := exec.Command("mkfs.ext4", "-q", "-F", "-L", "containerfs", "-d", dir, img, "64M")
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	return img
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// bootISO boots iso in qemu (TCG) with a containerfs disk on a pvscsi
// controller and returns both serial ports' output once the guest powers
// off or the timeout passes. Results are cached by the ISO's hash (the disk
// contents are fixed by this file), so repeated runs are cheap.
func bootISO(t *testing.T, iso string, timeout time.Duration) bootResult {
	t.Helper()
	testrepo.NeedTools(t, "qemu-system-x86_64", "timeout")
	key := fileSHA256(t, iso)
	cache := filepath.Join(testrepo.CacheDir(), "boots", key)
	if b0, err0 := os.ReadFile(filepath.Join(cache, "ttyS0")); err0 == nil {
		if b1, err1 := os.ReadFile(filepath.Join(cache, "ttyS1")); err1 == nil {
			t.Logf("boot of %s taken from cache %s", iso, cache)
			return bootResult{string(b0), string(b1)}
		}
	}
	res, err := bootQEMU(t, iso, timeout)
	// TCG on a loaded host can miss the kernel's timer check ("IO-APIC +
	// timer doesn't work"): that panic says nothing about the image, so
	// the boot is tried once more.
	if strings.Contains(res.TTYS0+res.TTYS1, "timer doesn't work") {
		t.Logf("the kernel's timer check failed under TCG (host load); booting %s again", iso)
		res, err = bootQEMU(t, iso, timeout)
	}
	// Only a boot that finished (the guest powered off) without a kernel
	// panic is cached.
	if err == nil && !strings.Contains(res.TTYS0+res.TTYS1, "Kernel panic") {
		if err := os.MkdirAll(cache, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(cache, "ttyS0"), []byte(res.TTYS0), 0o644)
			_ = os.WriteFile(filepath.Join(cache, "ttyS1"), []byte(res.TTYS1), 0o644)
		}
	}
	return res
}

// bootQEMU runs one boot of iso; err is timeout's (non-nil when the guest
// did not power off in time).
func bootQEMU(t *testing.T, iso string, timeout time.Duration) (bootResult, error) {
	t.Helper()
	disk := mkContainerDisk(t, containerfsDir(t))
	dir := t.TempDir()
	s0, s1 := filepath.Join(dir, "ttyS0"), filepath.Join(dir, "ttyS1")
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	args := []string{
		"-k", "10", fmt.Sprint(int(timeout.Seconds())),
		"qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "1",
		"-display", "none", "-no-reboot", "-nic", "none", "-monitor", "none",
		"-cdrom", iso, "-boot", "d",
		"-device", "pvscsi,id=pvscsi0",
		"-drive", "file=" + disk + ",if=none,id=cfs,format=raw",
		"-device", "scsi-hd,drive=cfs,bus=pvscsi0.0",
		"-serial", "file:" + s0, "-serial", "file:" + s1,
	}
	cmd := exec.CommandContext(ctx, "timeout", args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("qemu ran %s (err %v) %s", time.Since(start).Round(time.Second), err, out)
	b0, _ := os.ReadFile(s0)
	b1, _ := os.ReadFile(s1)
	return bootResult{string(b0), string(b1)}, err
}

// requireLines fails the test for every wanted substring missing from out.
func requireLines(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
	if t.Failed() {
		t.Logf("%s:\n%s", what, out)
	}
}
