package rootfs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/internal/treesnap"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
)

// rpmInstall is the oracle: real rpm installing files one transaction at a
// time into root, without scriptlets or dependency checks.
func rpmInstall(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "rpm", "--root", root, "--dbpath", "/.rpmdb", "-i",
			"--nodeps", "--noscripts", "--notriggers", "--nosignature", "--nodigest", f)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpm -i %s: %v\n%s", f, err, out)
		}
	}
}

// skipRPMDB leaves out rpm's own database, which the tree does not write.
func skipRPMDB(p string) string {
	if p == ".rpmdb" || strings.HasPrefix(p, ".rpmdb/") {
		return "rpm database"
	}
	return ""
}

func installAll(t *testing.T, files ...string) *root {
	t.Helper()
	tr := newRoot()
	var in []rpminstall.RPMFile
	for _, f := range files {
		in = append(in, rpminstall.RPMFile{Path: f})
	}
	if _, err := tr.Install(context.Background(), in, rpminstall.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestInstallFixturesMatchRPM(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "rpm")
	fx := filepath.Join(testrepo.Fixtures(t), "rpm-software-management-rpm", "RPMS")
	cases := []struct {
		name  string
		files []string
	}{
		{"hardlinks, uncompressed", []string{"hlinktest-1.0-1.noarch.rpm"}},
		{"file capabilities, xz", []string{"capstest-1.0-1.noarch.rpm"}},
		{"zstd", []string{"foo-1.0-1.noarch.rpm"}},
		{"gzip", []string{"hello-2.0-1.x86_64.rpm"}},
		{"all together", []string{"hlinktest-1.0-1.noarch.rpm", "capstest-1.0-1.noarch.rpm", "foo-1.0-1.noarch.rpm", "hello-2.0-1.x86_64.rpm"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var paths []string
			for _, f := range c.files {
				paths = append(paths, filepath.Join(fx, f))
			}
			root := t.TempDir()
			rpmInstall(t, root, paths...)
			tr := installAll(t, paths...)
			treesnap.Report(t, treesnap.Diff(treesnap.Disk(t, root), treesnap.FS(t, tr.Tree), skipRPMDB))
		})
	}
}

// specPackage builds a package with the real rpmbuild.
func specPackage(t *testing.T, dir, name, payload, install, files string) string {
	t.Helper()
	spec := fmt.Sprintf(`Name: %s
Version: 1
Release: 1
Summary: test
License: MIT
BuildArch: noarch
%%description
test
%%install
%s
%%files
%s
`, name, install, files)
	top := filepath.Join(dir, "top-"+name)
	specFile := filepath.Join(dir, name+".spec")
	if err := os.WriteFile(specFile, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("rpmbuild", "-bb", "--quiet",
		"--define", "_topdir "+top,
		"--define", "_binary_payload "+payload,
		"--define", "_build_id_links none",
		"--define", "__os_install_post %{nil}",
		"--define", "_rpmdir "+dir,
		"--define", "_build_name_fmt %{NAME}.rpm",
		specFile)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild %s: %v\n%s", name, err, out)
	}
	return filepath.Join(dir, name+".rpm")
}

var (
	builtOnce sync.Once
	built     map[string]string
	pkgDir    string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pkgDir != "" {
		os.RemoveAll(pkgDir)
	}
	os.Exit(code)
}

// testPackages builds the packages the tests below install: a "base" that
// lays out /etc/passwd, /etc/group and Photon-style symlinked directories,
// and one "pay-*" package per payload compressor, all with the same files.
func testPackages(t *testing.T) map[string]string {
	t.Helper()
	testrepo.NeedTools(t, "rpmbuild")
	builtOnce.Do(func() {
		built = map[string]string{}
		dir, err := os.MkdirTemp("", "rootfs-test-pkgs-")
		if err != nil {
			t.Fatal(err)
		}
		pkgDir = dir
		built["base"] = specPackage(t, dir, "base", "w9.gzdio", `
mkdir -p %{buildroot}/etc %{buildroot}/usr/bin %{buildroot}/usr/lib %{buildroot}/var %{buildroot}/run
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65533::/:/bin/false\ndaemon:x:2:2::/:/bin/false\n' > %{buildroot}/etc/passwd
printf 'root:x:0:\nnogroup:x:65533:\ndaemon:x:2:\n' > %{buildroot}/etc/group
ln -s usr/bin %{buildroot}/bin
ln -s usr/bin %{buildroot}/sbin
ln -s usr/lib %{buildroot}/lib64
touch %{buildroot}/var/run
`, `/etc/passwd
/etc/group
%dir /usr
%dir /usr/bin
%attr(0750,root,daemon) %dir /usr/lib
/bin
/sbin
/lib64
%dir /var
%dir /run
%ghost /var/run
`)
		payloadInstall := `
mkdir -p %{buildroot}/bin %{buildroot}/usr/share/p/empty %{buildroot}/etc %{buildroot}/lib64 %{buildroot}/var/log %{buildroot}/dev
printf '#!/bin/sh\necho tool\n' > %{buildroot}/bin/tool
printf 'linked content\n' > %{buildroot}/usr/share/p/h1
ln %{buildroot}/usr/share/p/h1 %{buildroot}/usr/share/p/h2
ln %{buildroot}/usr/share/p/h1 %{buildroot}/usr/share/p/h3
ln -s h1 %{buildroot}/usr/share/p/link
ln -s /etc/p.conf %{buildroot}/usr/share/p/abslink
printf 'conf\n' > %{buildroot}/etc/p.conf
printf 'conf2\n' > %{buildroot}/etc/p2.conf
printf 'suid\n' > %{buildroot}/usr/share/p/suid
printf 'unknown\n' > %{buildroot}/usr/share/p/unknown-owner
printf 'caps\n' > %{buildroot}/usr/share/p/ping
: > %{buildroot}/usr/share/p/emptyfile
head -c 300000 /dev/zero | tr '\0' 'x' > %{buildroot}/usr/share/p/big
printf 'lib\n' > %{buildroot}/lib64/libp.so.1
touch %{buildroot}/var/log/p.log
`
		payloadFiles := `/bin/tool
/usr/share/p/h1
/usr/share/p/h2
/usr/share/p/h3
/usr/share/p/link
/usr/share/p/abslink
%dir /usr/share/p/empty
%config /etc/p.conf
%config(noreplace) /etc/p2.conf
%attr(4755,nobody,nogroup) /usr/share/p/suid
%attr(0640,nosuchuser,nosuchgroup) /usr/share/p/unknown-owner
%caps(cap_net_raw,cap_net_admin=ep) /usr/share/p/ping
/usr/share/p/emptyfile
/usr/share/p/big
/lib64/libp.so.1
%dev(c,1,3) %attr(0666,root,root) /dev/pnull
%ghost /var/log/p.log
`
		for _, c := range []struct{ name, payload string }{
			{"pay-gzip", "w9.gzdio"}, {"pay-bzip2", "w9.bzdio"}, {"pay-xz", "w6.xzdio"},
			{"pay-lzma", "w6.lzdio"}, {"pay-zstd", "w19.zstdio"}, {"pay-none", "w0.ufdio"},
		} {
			built[c.name] = specPackage(t, dir, c.name, c.payload, payloadInstall, payloadFiles)
		}
		// Packages sharing a directory: with the same metadata (dir-a,
		// dir-b), and with a different one (dir-c).
		built["dir-a"] = specPackage(t, dir, "dir-a", "w9.gzdio", "mkdir -p %{buildroot}/opt/shared", "%attr(0700,nobody,nogroup) %dir /opt/shared\n")
		built["dir-b"] = specPackage(t, dir, "dir-b", "w9.gzdio", "mkdir -p %{buildroot}/opt/shared; echo b > %{buildroot}/opt/shared/b", "%attr(0700,nobody,nogroup) %dir /opt/shared\n/opt/shared/b\n")
		built["dir-c"] = specPackage(t, dir, "dir-c", "w9.gzdio", "mkdir -p %{buildroot}/opt/shared", "%attr(0755,daemon,daemon) %dir /opt/shared\n")
		built["conflict"] = specPackage(t, dir, "conflict", "w9.gzdio", `
mkdir -p %{buildroot}/usr/share/p
printf 'other content\n' > %{buildroot}/usr/share/p/h1
`, `/usr/share/p/h1
`)
	})
	if t.Failed() {
		t.FailNow()
	}
	return built
}

func TestInstallPayloadsMatchRPM(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "rpm")
	pk := testPackages(t)
	for _, name := range []string{"pay-gzip", "pay-bzip2", "pay-xz", "pay-lzma", "pay-zstd", "pay-none"} {
		t.Run(name, func(t *testing.T) {
			files := []string{pk["base"], pk[name]}
			root := t.TempDir()
			rpmInstall(t, root, files...)
			tr := installAll(t, files...)
			treesnap.Report(t, treesnap.Diff(treesnap.Disk(t, root), treesnap.FS(t, tr.Tree), skipRPMDB))
			rep := tr.Report()
			var warns []string
			for _, p := range rep.Packages {
				warns = append(warns, p.Warnings...)
			}
			joined := strings.Join(warns, "\n")
			for _, w := range []string{"user nosuchuser does not exist - using root", "group nosuchgroup does not exist - using root"} {
				if !strings.Contains(joined, w) {
					t.Errorf("report lacks warning %q; has:\n%s", w, joined)
				}
			}
		})
	}
	t.Run("all six share identical files", func(t *testing.T) {
		files := []string{pk["base"], pk["pay-gzip"], pk["pay-bzip2"], pk["pay-xz"], pk["pay-lzma"], pk["pay-zstd"], pk["pay-none"]}
		root := t.TempDir()
		rpmInstall(t, root, files...)
		tr := installAll(t, files...)
		treesnap.Report(t, treesnap.Diff(treesnap.Disk(t, root), treesnap.FS(t, tr.Tree), skipRPMDB))
	})
}

func TestInstallConflictNamesBothPackages(t *testing.T) {
	pk := testPackages(t)
	tr := newRoot()
	_, err := tr.Install(context.Background(), []rpminstall.RPMFile{{Path: pk["base"]}, {Path: pk["pay-xz"]}, {Path: pk["conflict"]}}, rpminstall.InstallOptions{})
	if err == nil {
		t.Fatal("installing a package with a different /usr/share/p/h1 succeeded")
	}
	for _, want := range []string{"conflict-1-1.noarch", "pay-xz-1-1.noarch", "/usr/share/p/h1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestEraseKeepsSharedFiles(t *testing.T) {
	pk := testPackages(t)
	tr := installAll(t, pk["base"], pk["pay-xz"], pk["pay-zstd"])
	before := treesnap.FS(t, tr.Tree)
	if err := tr.Erase("pay-zstd"); err != nil {
		t.Fatal(err)
	}
	// pay-xz ships the same files: nothing may change.
	treesnap.Report(t, treesnap.Diff(before, treesnap.FS(t, tr.Tree), nil))
	if err := tr.Erase("pay-xz"); err != nil {
		t.Fatal(err)
	}
	after := treesnap.FS(t, tr.Tree)
	for _, gone := range []string{"usr/bin/tool", "usr/share/p/h1", "usr/share/p/empty", "etc/p.conf", "dev/pnull", "usr/lib/libp.so.1"} {
		if _, ok := after[gone]; ok {
			t.Errorf("%s still there after erasing both owners", gone)
		}
	}
	// rpm leaves directories no package owns, such as usr/share/p.
	for _, kept := range []string{"usr/bin", "usr/lib", "etc/passwd", "bin", "dev", "usr/share/p"} {
		if _, ok := after[kept]; !ok {
			t.Errorf("%s removed, but base owns it (or it holds other files)", kept)
		}
	}
	if err := tr.Erase("pay-xz"); err == nil {
		t.Error("erasing a package twice succeeded")
	}
}

func TestInstallIndependentOfWorkers(t *testing.T) {
	pk := testPackages(t)
	files := []string{pk["base"], pk["pay-gzip"], pk["pay-bzip2"], pk["pay-xz"], pk["pay-lzma"], pk["pay-zstd"], pk["pay-none"]}
	var first map[string]treesnap.Entry
	for _, w := range []int{1, 3, 8} {
		tr := newRoot()
		var in []rpminstall.RPMFile
		for _, f := range files {
			in = append(in, rpminstall.RPMFile{Path: f})
		}
		if _, err := tr.Install(context.Background(), in, rpminstall.InstallOptions{Workers: w}); err != nil {
			t.Fatal(err)
		}
		snap := treesnap.FS(t, tr.Tree)
		if first == nil {
			first = snap
			continue
		}
		treesnap.Report(t, treesnap.Diff(first, snap, nil))
	}
}

// TestInstallIndependentOfArrival: packages handed to the decoding one by
// one as they "arrive" (NewDecoding, Ready), the first last, make the tree
// Install makes with every file there from the start. The others are
// decoded (their payloads reach the cache) while the first is not there,
// and nothing of the first is decoded before it is handed over.
func TestInstallIndependentOfArrival(t *testing.T) {
	pk := testPackages(t)
	names := []string{"base", "pay-gzip", "pay-bzip2", "pay-xz", "pay-lzma", "pay-zstd", "pay-none"}
	var in []rpminstall.RPMFile
	for _, n := range names {
		in = append(in, rpminstall.RPMFile{Path: pk[n], Key: "test:" + n})
	}
	want := newRoot()
	if _, err := want.Install(context.Background(), in, rpminstall.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{1, 3} {
		cache := t.TempDir()
		entry := func(i int) string { return filepath.Join(cache, "test-"+names[i]+".cpio") }
		dec := rpminstall.NewDecoding(context.Background(), len(in), rpminstall.InstallOptions{Workers: w, PayloadCache: cache})
		for i := len(in) - 1; i > 0; i-- {
			dec.Ready(i, in[i])
		}
		for i := 1; i < len(in); i++ {
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(entry(i)); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("workers %d: %s not decoded while %s was not ready", w, names[i], names[0])
				}
			}
		}
		if _, err := os.Stat(entry(0)); err == nil {
			t.Fatalf("workers %d: %s decoded before it was ready", w, names[0])
		}
		dec.Ready(0, in[0])
		got := newRoot()
		if _, err := got.InstallNext(context.Background(), dec, len(in), rpminstall.InstallOptions{}); err != nil {
			t.Fatal(err)
		}
		dec.Stop()
		treesnap.Report(t, treesnap.Diff(treesnap.FS(t, want.Tree), treesnap.FS(t, got.Tree), nil))
	}
}

// A decoding stopped while a package it must install is not ready ends
// InstallNext with the context's error instead of waiting for it.
func TestInstallNextStopped(t *testing.T) {
	pk := testPackages(t)
	ctx, cancel := context.WithCancel(context.Background())
	dec := rpminstall.NewDecoding(ctx, 2, rpminstall.InstallOptions{})
	defer dec.Stop()
	dec.Ready(0, rpminstall.RPMFile{Path: pk["base"]})
	tr := newRoot()
	if _, err := tr.InstallNext(context.Background(), dec, 1, rpminstall.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := tr.InstallNext(context.Background(), dec, 1, rpminstall.InstallOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("InstallNext of a package never ready, decoding cancelled: %v, want context.Canceled", err)
	}
}

// TestSharedDirectoryConflictLikeRPM: a directory shipped by two packages
// with different modes or owners is a conflict for rpm, and for the tree.
func TestSharedDirectoryConflictLikeRPM(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "rpm")
	pk := testPackages(t)
	root := t.TempDir()
	rpmInstall(t, root, pk["base"], pk["dir-a"])
	out, err := exec.Command("rpm", "--root", root, "--dbpath", "/.rpmdb", "-i", "--nodeps", "--noscripts", pk["dir-c"]).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "conflicts with file from package dir-a") {
		t.Fatalf("oracle: rpm -i dir-c over dir-a: %v\n%s", err, out)
	}
	tr := newRoot()
	_, err = tr.Install(context.Background(), []rpminstall.RPMFile{{Path: pk["base"]}, {Path: pk["dir-a"]}, {Path: pk["dir-c"]}}, rpminstall.InstallOptions{})
	if err == nil || !strings.Contains(err.Error(), "dir-a-1-1.noarch") || !strings.Contains(err.Error(), "dir-c-1-1.noarch") {
		t.Fatalf("tree: %v, want a conflict naming dir-a and dir-c", err)
	}
}

// TestEraseMatchesRPM erases packages with rpm -e and with Erase from the
// same installed state.
func TestEraseMatchesRPM(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "rpm")
	pk := testPackages(t)
	files := []string{pk["base"], pk["pay-xz"], pk["pay-zstd"], pk["dir-a"], pk["dir-b"]}
	root := t.TempDir()
	rpmInstall(t, root, files...)
	tr := installAll(t, files...)
	for _, name := range []string{"pay-zstd", "dir-a", "pay-xz"} {
		out, err := exec.Command("rpm", "--root", root, "--dbpath", "/.rpmdb", "-e", "--nodeps", "--noscripts", name).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm -e %s: %v\n%s", name, err, out)
		}
		must(t, tr.Erase(name))
		treesnap.Report(t, treesnap.Diff(treesnap.Disk(t, root), treesnap.FS(t, tr.Tree), skipRPMDB))
	}
}
