package rootfs_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
)

// baseSetFiles asks dnf (once, untimed) which RPM files make up the base
// set, in install order.
func baseSetFiles(b *testing.B) (files []string, o *dnfOracle, pkgs []string) {
	b.Helper()
	testrepo.NeedRoot(b)
	testrepo.NeedTools(b, "dnf", "rpm")
	repo := testrepo.Dir(b)
	spec := readSpec(b, repo)
	byNEVRA := repoFiles(b, repo)
	o = newDNFOracle(b, repo)
	pkgs = strings.Fields(spec.Packages.Base)
	o.install(b, pkgs...)
	for _, n := range o.installed(b) {
		files = append(files, byNEVRA[n])
	}
	return files, o, pkgs
}

// peakRSS is the process's high-water resident set (VmHWM), in MB.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkInstallBaseSet installs the test repository's base set from
// local files into a fresh tree. Run it alone for a meaningful peak RSS:
//
//	go test -run XXX -bench InstallBaseSet -benchtime 3x ./rootfs
func BenchmarkInstallBaseSet(b *testing.B) {
	files, _, _ := baseSetFiles(b)
	var in []rpminstall.RPMFile
	var size int64
	for _, f := range files {
		in = append(in, rpminstall.RPMFile{Path: f})
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	b.SetBytes(size)
	before := cpuSeconds(syscall.RUSAGE_SELF)
	n := 0
	for b.Loop() {
		n++
		tr := newRoot()
		if _, err := tr.Install(context.Background(), in, rpminstall.InstallOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time is the fair comparison on a shared, loaded machine.
	b.ReportMetric((cpuSeconds(syscall.RUSAGE_SELF)-before)/float64(n), "cpu-s/op")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
	b.ReportMetric(float64(len(files)), "packages")
}

// BenchmarkDNFInstallBaseSet is the comparison: dnf --installroot with
// noscripts installing the same set from the same local repository (dnf
// keeps its cachedir inside the install root, so each run reads the
// local metadata again).
func BenchmarkDNFInstallBaseSet(b *testing.B) {
	_, o, pkgs := baseSetFiles(b)
	before := cpuSeconds(syscall.RUSAGE_CHILDREN)
	n := 0
	for b.Loop() {
		n++
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "root")
		must(b, os.MkdirAll(root, 0o755))
		o.root = root
		b.StartTimer()
		o.install(b, pkgs...)
	}
	b.ReportMetric((cpuSeconds(syscall.RUSAGE_CHILDREN)-before)/float64(n), "cpu-s/op")
	// The largest child's peak RSS: every child here is a dnf (or rpm -qa)
	// run on this same set.
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
}

func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
