package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// Memory must not grow with the size of the files an image holds: the tree
// references big files in the cache's expanded payloads and the writers
// stream them. The package that proves it is a validly signed RPM holding
// one file of zeros (a few hundred KB compressed), built with rpmbuild and
// signed with rpmsign and the test repository's key, added to the
// bootstrap set of a copy of the test repository; the peak RSS is the
// child `vicroot build` process's (wait4's ru_maxrss).

// bfRepo returns a copy of the test repository whose bootstrap set also
// installs a package "bigfile" holding /usr/share/bigfile/zeros of size
// bytes (size 0: the copy without that package, for comparison).
func bfRepo(tb testing.TB, size int64) (repo, def string) {
	tb.Helper()
	testrepo.NeedTools(tb, "rpmbuild", "rpmsign", "createrepo_c", "gpg", "gpgconf")
	c := testrepo.NewCopy(tb)
	def = c.Path("definition")
	if size == 0 {
		return c.Dir, def
	}
	work := tb.TempDir()
	spec := filepath.Join(work, "bigfile.spec")
	err := os.WriteFile(spec, []byte(fmt.Sprintf(`%%define _binary_payload w1.gzdio
%%define _buildhost vicroot-test
%%define debug_package %%{nil}
%%define __spec_install_post %%{nil}
%%define _build_id_links none
Name: bigfile
Version: 1.0
Release: 1.ph2
Summary: one big file of zeros
License: MIT
BuildArch: noarch
%%description
One file of %d zero bytes, for vicroot's memory tests.
%%install
mkdir -p %%{buildroot}/usr/share/bigfile
truncate -s %d %%{buildroot}/usr/share/bigfile/zeros
%%files
%%defattr(-,root,root,-)
/usr/share/bigfile
`, size, size)), 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	rpms := filepath.Join(work, "rpms")
	if out, err := exec.Command("rpmbuild", "-bb", "--quiet", "--define", "_topdir "+filepath.Join(work, "top"),
		"--define", "_rpmdir "+rpms, "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
		spec).CombinedOutput(); err != nil {
		tb.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	rpm := filepath.Join(c.Path("photon"), "bigfile-1.0-1.ph2.noarch.rpm")
	if err := os.Rename(filepath.Join(rpms, "bigfile-1.0-1.ph2.noarch.rpm"), rpm); err != nil {
		tb.Fatal(err)
	}
	gnupg := filepath.Join(work, "gnupg")
	if err := os.CopyFS(gnupg, os.DirFS(filepath.Join(c.Src, "gnupg"))); err != nil {
		tb.Fatal(err)
	}
	os.Chmod(gnupg, 0o700)
	tb.Cleanup(func() { exec.Command("gpgconf", "--homedir", gnupg, "--kill", "all").Run() })
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("rpmsign", "--define", "__gpg "+gpg, "--define", "_gpg_name test@vicroot.invalid",
		"--define", "_gpg_path "+gnupg, "--addsign", rpm).CombinedOutput(); err != nil {
		tb.Fatalf("rpmsign: %v\n%s", err, out)
	}
	c.Regen("photon")
	specPath := filepath.Join(def, "repo-spec.json")
	data, err := os.ReadFile(specPath)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		tb.Fatal(err)
	}
	pk := m["packages"].(map[string]any)
	pk["bootstrap"] = strings.TrimSpace(pk["bootstrap"].(string) + " bigfile")
	if data, err = json.MarshalIndent(m, "", "  "); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return c.Dir, def
}

// bfBuild runs a cold `vicroot build` and returns its peak RSS in MiB.
func bfBuild(tb testing.TB, repo, def string) float64 {
	tb.Helper()
	tmp := tb.TempDir()
	args := append([]string{"build", "--repo", def, "--out", filepath.Join(tmp, "out"), "--bin", binDir,
		"--cache", filepath.Join(tmp, "cache"), "--version", "v1.5.8-0-9489f63"}, mirrors(repo)...)
	cmd := exec.Command(vicrootBin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("vicroot build: %v\n%s", err, out)
	}
	return float64(rusageMaxRSS(cmd)) / 1024
}

// TestBigFileMemory builds the test repository with and without a package
// holding a 64 MiB file: the peak RSS may differ by much less than the
// file (before content by reference it grew by about 4.7 times the file).
func TestBigFileMemory(t *testing.T) {
	const size = 64 << 20
	repo0, def0 := bfRepo(t, 0)
	repo1, def1 := bfRepo(t, size)
	base := bfBuild(t, repo0, def0)
	big := bfBuild(t, repo1, def1)
	t.Logf("peak RSS: %.0f MiB without the file, %.0f MiB with a %d MiB file", base, big, size>>20)
	if grow := big - base; grow > size/2>>20 {
		t.Errorf("peak RSS grew by %.0f MiB with a %d MiB file (%.0f → %.0f MiB): file content is held in memory", grow, size>>20, base, big)
	}
}

// BenchmarkBigFile1GiB reports the peak RSS of a cold build whose
// bootstrap set holds a 1 GiB file (target: under 300 MiB), beside the
// same build without it (target: under 200 MiB).
//
//	go test -run '^$' -bench BigFile -benchtime 1x ./e2e/
func BenchmarkBigFile1GiB(b *testing.B) {
	repo0, def0 := bfRepo(b, 0)
	repo1, def1 := bfRepo(b, 1<<30)
	var base, big float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base = max(base, bfBuild(b, repo0, def0))
		big = max(big, bfBuild(b, repo1, def1))
	}
	b.StopTimer()
	b.ReportMetric(base, "testrepo-peak-RSS-MiB")
	b.ReportMetric(big, "1GiB-file-peak-RSS-MiB")
}

// rusageMaxRSS is the peak resident set of a finished command's process
// tree, in KiB.
func rusageMaxRSS(cmd *exec.Cmd) int64 {
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}
