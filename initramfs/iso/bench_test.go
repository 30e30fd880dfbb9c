package iso_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/vic"
)

// helperBench makes the re-executed test binary pack $helperBench (a
// tree) into the bootfs folder $helperOut, as BenchmarkPackVsGNU measures.
const helperBench = "VICROOT_ISO_HELPER_BENCH"

// benchPack is the vicroot side: core.gz from the tree, then the ISO.
func benchPack(tree, bootfs string) error {
	ep := time.Unix(1654850000, 0)
	ctx := context.Background()
	if err := writeInitrd(ctx, filepath.Join(bootfs, iso.InitrdPath), os.DirFS(tree), initramfs.Gzip, initramfs.Options{Epoch: ep}); err != nil {
		return err
	}
	return writeImage(ctx, filepath.Join(bootfs, "..", "ours.iso"), os.DirFS(bootfs), vic.ISOOptions("v1.5.8-0-9489f63", ep))
}

// makeBootfs prepares a bootfs folder without core.gz: kernel, ISOLINUX,
// isolinux.cfg, boot.msg.
func makeBootfs(b *testing.B, dir string) {
	cfg, err := vic.IsolinuxConfig(vic.BootConfig{Init: "/bin/init"})
	if err != nil {
		b.Fatal(err)
	}
	files := map[string][]byte{
		iso.KernelPath:  hostKernel(b),
		iso.IsolinuxBin: needFile(b, hostIsolinux),
		iso.LdlinuxC32:  needFile(b, hostLdlinux),
		iso.IsolinuxCfg: cfg,
		iso.BootMsgPath: vic.BootMsg("v1.5.8"),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// measure runs cmd and returns its wall time and the peak RSS of it and
// the children it waited for (wait4's ru_maxrss), in MiB.
func measure(b *testing.B, cmd *exec.Cmd) (time.Duration, float64) {
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	d := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return d, float64(ru.Maxrss) / 1024
}

// BenchmarkPackVsGNU packs a tree of several hundred MB
// ($VICROOT_BENCH_TREE, default /usr/lib/x86_64-linux-gnu) into core.gz
// and the ISO, once with this package (in a child process, so its peak RSS
// is its own) and once as VIC does it: `find | cpio -o -H newc | gzip
// --fast` and xorriso with VIC's options file.
func BenchmarkPackVsGNU(b *testing.B) {
	testrepo.NeedTools(b, "cpio", "gzip", "xorriso", "find")
	tree := os.Getenv("VICROOT_BENCH_TREE")
	if tree == "" {
		tree = "/usr/lib/x86_64-linux-gnu"
	}
	if _, err := os.Stat(tree); err != nil {
		b.Skip(err)
	}
	for range b.N {
		work := b.TempDir()
		ours, gnu := filepath.Join(work, "ours", "bootfs"), filepath.Join(work, "gnu", "bootfs")
		makeBootfs(b, ours)
		makeBootfs(b, gnu)

		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperBench+"="+tree, helperOut+"="+ours)
		oursTime, oursRSS := measure(b, cmd)

		opts := filepath.Join(work, "gnu", "xorriso-options.cfg")
		os.WriteFile(opts, []byte(fmt.Sprintf("publisher 'VMware Inc. v1.5.8-0-9489f63'\nmap %s /\nboot_image isolinux dir=/boot/isolinux\n", gnu)), 0o644)
		script := fmt.Sprintf("set -e; (cd %q && find | cpio -o -H newc --quiet | gzip --fast) > %q; xorriso -dev %q -options_from_file %q >/dev/null 2>&1",
			tree, filepath.Join(gnu, iso.InitrdPath), filepath.Join(work, "gnu", "gnu.iso"), opts)
		gnuTime, gnuRSS := measure(b, exec.Command("sh", "-c", script))

		oi, _ := os.Stat(filepath.Join(work, "ours", "ours.iso"))
		gi, _ := os.Stat(filepath.Join(work, "gnu", "gnu.iso"))
		b.ReportMetric(oursTime.Seconds(), "vicroot-s")
		b.ReportMetric(gnuTime.Seconds(), "gnu-s")
		b.ReportMetric(oursRSS, "vicroot-maxrss-MiB")
		b.ReportMetric(gnuRSS, "gnu-maxrss-MiB")
		b.ReportMetric(gnuTime.Seconds()/oursTime.Seconds(), "speedup")
		b.ReportMetric(float64(oi.Size())/(1<<20), "vicroot-iso-MiB")
		b.ReportMetric(float64(gi.Size())/(1<<20), "gnu-iso-MiB")
	}
}
