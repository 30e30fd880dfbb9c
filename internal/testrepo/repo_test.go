package testrepo_test

// These tests prove that the repository testdata/mkrepo builds is real: the
// oracles are dnf, rpm, gpg, depmod and createrepo_c, never our own code.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// run runs a command and returns its combined output and error.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// repoFile writes a .repo file for the given repo ids and directories and
// returns the directory holding it (for --setopt=reposdir).
func repoFile(t *testing.T, key string, repos ...[2]string) string {
	t.Helper()
	d := t.TempDir()
	var b strings.Builder
	for _, r := range repos {
		fmt.Fprintf(&b, "[%s]\nname=%s\nbaseurl=file://%s\nenabled=1\ngpgcheck=1\ngpgkey=file://%s\nmetadata_expire=0\n\n",
			r[0], r[0], r[1], key)
	}
	if err := os.WriteFile(filepath.Join(d, "test.repo"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// dnf runs dnf against an installroot with only the given repositories.
func dnf(t *testing.T, root, reposdir string, args ...string) (string, error) {
	t.Helper()
	base := []string{
		"--installroot=" + root, "--setopt=reposdir=" + reposdir,
		"--setopt=cachedir=" + filepath.Join(root, "..", "dnfcache"),
		"--setopt=install_weak_deps=False", "--setopt=tsflags=nodocs",
		"--releasever=2.0", "--disableplugin=*", "-y",
	}
	return run(t, "dnf", append(base, args...)...)
}

func mainRepos(t *testing.T, dir string) string {
	return repoFile(t, filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"),
		[2]string{"photon", filepath.Join(dir, "photon")},
		[2]string{"photon-updates", filepath.Join(dir, "photon-updates")})
}

func rpmQ(t *testing.T, root string, names ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, n := range names {
		out, err := run(t, "rpm", "--root="+root, "-q", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}", n)
		if err == nil {
			got[n] = strings.TrimSpace(out)
		}
	}
	return got
}

// TestDNFInstallsBaseAndBootstrap is the oracle that the repository is
// real: dnf with gpgcheck=1 installs the definition's base set plus the
// kernel, then the bootstrap set, as VIC's pipeline does; the resolver traps
// resolve the way they are designed to; the installed binaries run.
func TestDNFInstallsBaseAndBootstrap(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "dnf", "rpm", "chroot")
	dir := testrepo.Dir(t)
	root := filepath.Join(t.TempDir(), "root")
	repos := mainRepos(t, dir)

	if out, err := dnf(t, root, repos, "install", "filesystem", "toybox", "kmod", "haveged", "iptables", "linux-esx"); err != nil {
		t.Fatalf("dnf install base: %v\n%s", err, out)
	}
	got := rpmQ(t, root, "haveged", "photon-repos", "syslinux", "libhavege", "bash", "iptables-nft", "busybox", "linux-esx", "glibc")
	for name, want := range map[string]string{
		"haveged":      "haveged-1.9.14-2.ph2.x86_64", // the newer build from photon-updates
		"photon-repos": "photon-repos-2.0-2.ph2.noarch",
		"iptables-nft": "", // conflicts with iptables
		"busybox":      "", // obsoleted by toybox
	} {
		if want == "" {
			if v, ok := got[name]; ok {
				t.Errorf("%s is installed (%s), want not installed", name, v)
			}
			continue
		}
		if !strings.HasPrefix(want, name) || got[name] != want {
			t.Errorf("installed %s = %q, want %q", name, got[name], want)
		}
	}
	for _, name := range []string{"syslinux", "libhavege", "bash", "glibc", "linux-esx"} {
		if got[name] == "" {
			t.Errorf("%s was not pulled in", name) // file dep, versioned dep, script dep, sonames
		}
	}

	// The binaries are real and their libraries are all there: run them in
	// the tree through /lib64/ld-linux-x86-64.so.2 -> usr/lib.
	for _, argv := range [][]string{
		{"/sbin/iptables", "-V"},
		{"/lib64/ld-linux-x86-64.so.2", "/sbin/iptables", "-V"},
		{"/usr/sbin/haveged", "--help"},
		{"/sbin/modinfo", "-V"},
		{"/bin/bash", "-c", "echo ok"},
		{"/bin/sh", "-c", "echo ok"},
	} {
		out, err := run(t, "chroot", append([]string{root}, argv...)...)
		if err != nil && !strings.Contains(out, "Usage") {
			t.Errorf("chroot %s %v: %v\n%s", root, argv, err, out)
		}
	}

	if out, err := dnf(t, root, repos, "install", "iproute2", "systemd-udev"); err != nil {
		t.Fatalf("dnf install bootstrap: %v\n%s", err, out)
	}
	// %pre ran groupadd/useradd through getent; the %attr owner was applied.
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	uid := idOf(t, string(passwd), "systemd-network")
	gid := idOf(t, string(group), "systemd-network")
	if idOf(t, string(group), "input") < 0 || uid < 0 || gid < 0 {
		t.Fatalf("%%pre did not create input/systemd-network:\n%s\n%s", passwd, group)
	}
	fi, err := os.Stat(filepath.Join(root, "etc/systemd/networkd-vicroot.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || int(st.Gid) != gid || fi.Mode().Perm() != 0o640 {
		t.Errorf("networkd-vicroot.conf: %d:%d %v, want %d:%d -rw-r-----", st.Uid, st.Gid, fi.Mode(), uid, gid)
	}
	// The hardlink survived.
	a, errA := os.Stat(filepath.Join(root, "bin/bash"))
	b, errB := os.Stat(filepath.Join(root, "bin/rbash"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("/bin/bash and /bin/rbash are not one inode (%v, %v)", errA, errB)
	}
	// The rich dependency (iptables-nft or iptables) was met by iptables.
	if v := rpmQ(t, root, "iptables-nft")["iptables-nft"]; v != "" {
		t.Errorf("iptables-nft installed (%s)", v)
	}
	for _, argv := range [][]string{{"/sbin/ip", "-V"}, {"/bin/udevadm", "--version"}} {
		if out, err := run(t, "chroot", append([]string{root}, argv...)...); err != nil {
			t.Errorf("chroot %v: %v\n%s", argv, err, out)
		}
	}
	// /var/run is %ghost: rpm records it and never creates it.
	if _, err := os.Lstat(filepath.Join(root, "var/run")); err == nil {
		t.Errorf("/var/run exists, but filesystem lists it as %%ghost")
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

func idOf(t *testing.T, db, name string) int {
	t.Helper()
	for _, l := range strings.Split(db, "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 && f[0] == name {
			n, err := strconv.Atoi(f[2])
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// TestDNFRefusesNegatives: with gpgcheck=1 dnf refuses an unsigned package,
// one signed by an unknown key, and one whose payload was changed after
// signing, while the same package correctly signed installs (the control).
func TestDNFRefusesNegatives(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "dnf", "rpm", "createrepo_c")
	dir := testrepo.Dir(t)
	key := filepath.Join(dir, "RPM-GPG-KEY-vicroot-test")
	signed, err := filepath.Glob(filepath.Join(dir, "photon", "photon-repos-2.0-2.*.rpm"))
	if err != nil || len(signed) != 1 {
		t.Fatalf("signed photon-repos 2.0-2: %v %v", signed, err)
	}
	tests := []struct {
		name, file string
		ok         bool
	}{
		{"signed", signed[0], true},
		{"unsigned", filepath.Join(dir, "negative/unsigned.rpm"), false},
		{"otherkey", filepath.Join(dir, "negative/otherkey.rpm"), false},
		{"tampered", filepath.Join(dir, "negative/tampered.rpm"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			repo := filepath.Join(tmp, "repo")
			if err := os.MkdirAll(repo, 0o755); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(repo, "photon-repos-2.0-2.ph2.noarch.rpm"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			mustRun(t, "createrepo_c", "--quiet", "--no-database", repo)
			root := filepath.Join(tmp, "root")
			// filesystem comes from the real repository so the dependency is met.
			repos := repoFile(t, key, [2]string{"neg", repo}, [2]string{"photon", filepath.Join(dir, "photon")})
			out, err := dnf(t, root, repos, "install", "--repo=neg", "--repo=photon", "photon-repos-2.0-2.ph2")
			installed := rpmQ(t, root, "photon-repos")["photon-repos"] != ""
			t.Logf("dnf (err=%v):\n%s", err, lastLines(out, 6))
			if tt.ok && (err != nil || !installed) {
				t.Fatalf("dnf refused the signed package: %v\n%s", err, out)
			}
			if !tt.ok && (err == nil || installed) {
				t.Fatalf("dnf accepted %s with gpgcheck=1 (installed=%v):\n%s", tt.name, installed, out)
			}
		})
	}
}

// TestRPMVerify: `rpm -K` with _pkgverify_level all passes on every signed
// RPM and fails on every negative copy. Plain `rpm -K` accepts the unsigned
// one, which is why the level matters.
func TestRPMVerify(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	dir := testrepo.Dir(t)
	db := t.TempDir()
	mustRun(t, "rpm", "--dbpath", db, "--import", filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	check := func(dbpath, f string) (string, error) {
		return run(t, "rpm", "--dbpath", dbpath, "-K", "--define", "_pkgverify_level all", f)
	}
	signed, _ := filepath.Glob(filepath.Join(dir, "photon*", "*.rpm"))
	if len(signed) < 20 {
		t.Fatalf("only %d signed RPMs", len(signed))
	}
	for _, f := range signed {
		if out, err := check(db, f); err != nil {
			t.Errorf("rpm -K %s: %v\n%s", f, err, out)
		}
	}
	for _, n := range []string{"unsigned", "otherkey", "tampered", "truncated"} {
		f := filepath.Join(dir, "negative", n+".rpm")
		if out, err := check(db, f); err == nil {
			t.Errorf("rpm -K accepted negative/%s.rpm:\n%s", n, out)
		}
	}
	// Plain rpm -K does not require a signature.
	if out, err := run(t, "rpm", "--dbpath", db, "-K", filepath.Join(dir, "negative/unsigned.rpm")); err != nil {
		t.Errorf("unsigned.rpm is not intact apart from the signature: %v\n%s", err, out)
	}
	// otherkey.rpm is validly signed, just by the other key.
	other := t.TempDir()
	mustRun(t, "rpm", "--dbpath", other, "--import", filepath.Join(dir, "other-key.asc"))
	if out, err := check(other, filepath.Join(dir, "negative/otherkey.rpm")); err != nil {
		t.Errorf("otherkey.rpm does not verify with other-key.asc: %v\n%s", err, out)
	}
}

type manifestRow struct {
	repo, file, name, evr, arch, comp string
	size                              int64
}

func readManifest(t *testing.T, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 7 {
			t.Fatalf("manifest.tsv line %d: %d columns, want 7", i+1, len(c))
		}
		if i == 0 {
			if sc.Text() != "repo\tfile\tname\tevr\tarch\tcompressor\tsize" {
				t.Fatalf("manifest.tsv header = %q", sc.Text())
			}
			continue
		}
		n, err := strconv.ParseInt(c[6], 10, 64)
		if err != nil {
			t.Fatalf("manifest.tsv line %d: size: %v", i+1, err)
		}
		rows = append(rows, manifestRow{c[0], c[1], c[2], c[3], c[4], c[5], n})
	}
	return rows
}

// TestManifest checks manifest.tsv against rpm's own reading of every
// package, and the properties other tests rely on: all three payload
// compressors and real soname dependencies.
func TestManifest(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	dir := testrepo.Dir(t)
	rows := readManifest(t, dir)
	listed := map[string]bool{}
	comps := map[string]bool{}
	for _, r := range rows {
		p := filepath.Join(dir, r.repo, r.file)
		listed[p] = true
		comps[r.comp] = true
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("manifest names %s: %v", p, err)
			continue
		}
		if fi.Size() != r.size {
			t.Errorf("%s: size %d, manifest says %d", p, fi.Size(), r.size)
		}
		out := mustRun(t, "rpm", "-qp", "--nosignature", "--qf",
			"%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{PAYLOADCOMPRESSOR}", p)
		if want := strings.Join([]string{r.name, r.evr, r.arch, r.comp}, "\t"); strings.TrimSpace(out) != want {
			t.Errorf("%s: rpm says %q, manifest says %q", p, out, want)
		}
	}
	// photon-bdb/ (rpm 4.14 for the BDB case) is not in the manifest.
	main, _ := filepath.Glob(filepath.Join(dir, "photon", "*.rpm"))
	updates, _ := filepath.Glob(filepath.Join(dir, "photon-updates", "*.rpm"))
	for _, p := range append(main, updates...) {
		if !listed[p] {
			t.Errorf("%s is not in manifest.tsv", p)
		}
	}
	for _, c := range []string{"xz", "gzip", "zstd"} {
		if !comps[c] {
			t.Errorf("no package with a %s payload (have %v)", c, comps)
		}
	}

	// Soname dependencies are real and met: haveged needs libc.so.6 and
	// libhavege; glibc and libhavege provide them.
	reqs := mustRun(t, "rpm", "-qp", "--nosignature", "--requires", filepath.Join(dir, "photon/haveged-1.9.14-1.ph2.x86_64.rpm"))
	for _, want := range []string{"libc.so.6()(64bit)", "libhavege.so.2()(64bit)", "libhavege >= 1.9.14-1.ph2"} {
		if !strings.Contains(reqs, want+"\n") {
			t.Errorf("haveged does not require %s:\n%s", want, reqs)
		}
	}
	glibc, _ := filepath.Glob(filepath.Join(dir, "photon/glibc-*.rpm"))
	if len(glibc) != 1 {
		t.Fatalf("glibc RPMs: %v", glibc)
	}
	if prov := mustRun(t, "rpm", "-qp", "--nosignature", "--provides", glibc[0]); !strings.Contains(prov, "libc.so.6()(64bit)\n") {
		t.Errorf("glibc does not provide libc.so.6()(64bit):\n%s", prov)
	}
}

// TestTraps checks, with rpm reading the headers, that each resolver trap
// the other packages' tests rely on is in the repository.
func TestTraps(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	dir := testrepo.Dir(t)
	q := func(file, format string) string {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(dir, file))
		if len(m) != 1 {
			t.Fatalf("%s: %d matches", file, len(m))
		}
		return mustRun(t, "rpm", "-qp", "--nosignature", "--qf", format, m[0])
	}
	tests := []struct {
		trap, file, format, want string
	}{
		{"noarch", "photon/photon-repos-2.0-2.*.rpm", "%{ARCH}", "noarch"},
		{"two versions", "photon/photon-repos-2.0-1.*.rpm", "%{VERSION}-%{RELEASE}", "2.0-1.ph2"},
		{"versioned requires", "photon/kmod-*.rpm", "[%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\n]", "glibc >= 2.36\n"},
		{"file requires outside primary", "photon/linux-esx-*.rpm", "[%{REQUIRENAME}\n]", "/usr/share/syslinux/isolinux.bin\n"},
		{"obsoletes", "photon/toybox-*.rpm", "[%{OBSOLETENAME} %{OBSOLETEFLAGS:depflags} %{OBSOLETEVERSION}\n]", "busybox < 2.0\n"},
		{"conflicts", "photon/iptables-nft-*.rpm", "[%{CONFLICTNAME}\n]", "iptables\n"},
		{"rich or", "photon/iproute2-*.rpm", "[%{REQUIRENAME}\n]", "(iptables-nft or iptables)\n"},
		{"rich or kernel", "photon/iptables-1*.rpm", "[%{REQUIRENAME}\n]", "(linux-esx or linux)\n"},
		{"%pre groupadd", "photon/systemd-udev-*.rpm", "%{PREIN}", "groupadd -r input"},
		{"%pre useradd", "photon/systemd-udev-*.rpm", "%{PREIN}", "useradd -r"},
		{"non-root owner", "photon/systemd-udev-*.rpm", "[%{FILEUSERNAME} %{FILENAMES}\n]", "systemd-network /etc/systemd/networkd-vicroot.conf\n"},
		{"ghost", "photon/filesystem-*.rpm", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", "g /var/run\n"},
		{"usrmerge link", "photon/filesystem-*.rpm", "[%{FILENAMES} -> %{FILELINKTOS}\n]", "/lib64 -> usr/lib\n"},
		{"payload through /bin symlink", "photon/toybox-*.rpm", "[%{FILENAMES}\n]", "/bin/toybox\n"},
		{"switch_root applet", "photon/toybox-*.rpm", "[%{FILENAMES} -> %{FILELINKTOS}\n]", "/sbin/switch_root -> ../bin/toybox\n"},
		{"iptables is legacy multi", "photon/iptables-1*.rpm", "[%{FILENAMES} -> %{FILELINKTOS}\n]", "/sbin/iptables -> xtables-legacy-multi\n"},
		{"loader", "photon/glibc-*.rpm", "[%{FILENAMES}\n]", "/usr/lib/ld-linux-x86-64.so.2\n"},
		{"updates", "photon-updates/haveged-*.rpm", "%{VERSION}-%{RELEASE}", "1.9.14-2.ph2"},
	}
	for _, tt := range tests {
		if got := q(tt.file, tt.format); !strings.Contains(got, tt.want) {
			t.Errorf("trap %q: %s has no %q in:\n%s", tt.trap, tt.file, tt.want, got)
		}
	}
	// The hardlink: two names, one inode number in the header.
	got := q("photon/bash-*.rpm", "[%{FILEINODES} %{FILENAMES}\n]")
	inode := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		f := strings.Fields(l)
		inode[f[1]] = f[0]
	}
	if inode["/bin/bash"] == "" || inode["/bin/bash"] != inode["/bin/rbash"] {
		t.Errorf("bash: /bin/bash and /bin/rbash are not hardlinked:\n%s", got)
	}
}

// TestKernelModules: linux-esx carries exactly the modules VIC needs plus
// their dependencies as crc32 .ko.xz, the host's modules.order/builtin
// files, and no generated modules.dep; kmod's modinfo, depmod and modprobe
// (the oracles) find every declared dependency and resolve each driver.
func TestKernelModules(t *testing.T) {
	testrepo.NeedTools(t, "rpm2cpio", "cpio", "depmod", "modprobe", "modinfo", "xz")
	dir := testrepo.Dir(t)
	kver := readTrim(t, filepath.Join(dir, "kernel.version"))
	m, _ := filepath.Glob(filepath.Join(dir, "photon/linux-esx-*.rpm"))
	if len(m) != 1 {
		t.Fatalf("linux-esx: %v", m)
	}
	root := t.TempDir()
	cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", m[0])
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm2cpio: %v\n%s", err, out)
	}
	mdir := filepath.Join(root, "lib/modules", kver)
	for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		if _, err := os.Stat(filepath.Join(mdir, f)); err != nil {
			t.Error(err)
		}
	}
	if g, _ := filepath.Glob(filepath.Join(mdir, "modules.dep*")); len(g) != 0 {
		t.Errorf("generated files shipped: %v", g)
	}
	for _, f := range []string{"vmlinuz-", "System.map-", "config-"} {
		if _, err := os.Stat(filepath.Join(root, "boot", f+kver)); err != nil {
			t.Error(err)
		}
	}
	var kos []string
	_ = filepath.Walk(mdir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko.xz") {
			kos = append(kos, p)
		} else if err == nil && strings.HasSuffix(p, ".ko") {
			t.Errorf("uncompressed module %s", p)
		}
		return nil
	})
	if len(kos) < 17 || len(kos) > 60 {
		t.Errorf("%d modules: not the small set", len(kos))
	}
	// crc32 integrity check, as Photon's and the kernel's xz decoder want.
	out := mustRun(t, "xz", append([]string{"--robot", "--list"}, kos...)...)
	if strings.Count(out, "\tCRC32\t") < len(kos) {
		t.Errorf("not every module uses xz --check=crc32:\n%s", out)
	}
	// Debian's System.map is a placeholder, so depmod cannot check kernel
	// symbols; instead every dependency each module declares (read by kmod's
	// modinfo) must be in the tree, and modprobe must resolve each driver.
	present := map[string]bool{}
	for _, ko := range kos {
		present[strings.ReplaceAll(strings.TrimSuffix(filepath.Base(ko), ".ko.xz"), "-", "_")] = true
	}
	for _, ko := range kos {
		deps := strings.TrimSpace(mustRun(t, "modinfo", "-F", "depends", ko))
		for _, d := range strings.Split(deps, ",") {
			if d != "" && !present[strings.ReplaceAll(d, "-", "_")] {
				t.Errorf("%s depends on %s, which is not shipped", filepath.Base(ko), d)
			}
		}
	}
	mustRun(t, "depmod", "-b", root, kver)
	for _, mod := range []string{"vmxnet3", "vmw_pvscsi", "sd_mod", "nfnetlink", "iptable_filter", "iptable_nat",
		"xt_conntrack", "xt_state", "xt_tcpudp", "nf_conntrack", "nf_nat", "nf_defrag_ipv4", "ipt_REJECT",
		"nf_reject_ipv4", "xt_REDIRECT", "nfsv3", "lockd", "ext4"} {
		if out, err := run(t, "modprobe", "-d", root, "-S", kver, "--show-depends", mod); err != nil {
			t.Errorf("modprobe --show-depends %s: %v\n%s", mod, err, out)
		}
	}
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestRepodata: createrepo_c's metadata is signed, and the badrepomd copy
// is rejected by dnf while the real one loads (the control).
func TestRepodata(t *testing.T) {
	testrepo.NeedTools(t, "gpg", "dnf")
	dir := testrepo.Dir(t)
	gh := t.TempDir()
	mustRun(t, "gpg", "--homedir", gh, "--batch", "--import", filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	for _, r := range []string{"photon", "photon-updates"} {
		md := filepath.Join(dir, r, "repodata", "repomd.xml")
		if out, err := run(t, "gpg", "--homedir", gh, "--batch", "--verify", md+".asc", md); err != nil {
			t.Errorf("%s.asc does not verify: %v\n%s", md, err, out)
		}
	}
	key := filepath.Join(dir, "RPM-GPG-KEY-vicroot-test")
	for _, tt := range []struct {
		repo string
		ok   bool
	}{{"photon", true}, {"badrepomd", false}} {
		reposdir := repoFile(t, key, [2]string{tt.repo, filepath.Join(dir, tt.repo)})
		cache := t.TempDir()
		out, err := run(t, "dnf", "--setopt=reposdir="+reposdir, "--setopt=cachedir="+cache, "--releasever=2.0",
			"--disableplugin=*", "--installroot="+filepath.Join(cache, "root"), "-q", "repoquery", "--all")
		if tt.ok && (err != nil || !strings.Contains(out, "photon-repos")) {
			t.Errorf("dnf repoquery on %s failed: %v\n%s", tt.repo, err, out)
		}
		if !tt.ok && err == nil && strings.Contains(out, "photon-repos") {
			t.Errorf("dnf accepted %s with a wrong primary checksum:\n%s", tt.repo, out)
		}
	}
}

// TestDefinition: the definition folder has the seed's files, its key is
// the repository key, its .repo file holds only placeholder URLs, init.sh
// names drivers that exist in linux-esx, and base.sh works.
func TestDefinition(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "bash")
	dir := testrepo.Dir(t)
	def := filepath.Join(dir, "definition")

	var spec struct {
		Name           string            `json:"name"`
		PackageManager string            `json:"packagemanager"`
		Kernel         string            `json:"kernel"`
		Init           string            `json:"init"`
		Packages       map[string]string `json:"packages"`
		Staging        map[string]string `json:"packages_script_staging"`
	}
	b, err := os.ReadFile(filepath.Join(def, "repo-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		t.Fatalf("repo-spec.json: %v", err)
	}
	if spec.Name != "testrepo-2.0" || spec.PackageManager != "tdnf" || spec.Kernel != "linux-esx" || spec.Init != "/bin/init" ||
		spec.Packages["base"] != "filesystem toybox kmod haveged iptables" || spec.Packages["bootstrap"] != "iproute2 systemd-udev" {
		t.Errorf("repo-spec.json = %+v", spec)
	}
	if _, ok := spec.Packages["appliance"]; !ok {
		t.Error("repo-spec.json lacks packages.appliance")
	}

	k1, _ := os.ReadFile(filepath.Join(def, "VICROOT-TEST-KEY"))
	k2, _ := os.ReadFile(filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	if len(k1) == 0 || !bytes.Equal(k1, k2) {
		t.Error("definition/VICROOT-TEST-KEY is not the repository key")
	}

	repo := readTrim(t, filepath.Join(def, "photon.repo"))
	for _, want := range []string{"[photon]", "[photon-updates]", "gpgcheck=1", "enabled=1",
		"gpgkey=file:///etc/pki/rpm-gpg/VICROOT-TEST-KEY",
		"baseurl=https://packages.invalid/photon/$releasever/photon_release/",
		"baseurl=https://packages.invalid/photon/$releasever/photon_updates/"} {
		if !strings.Contains(repo, want) {
			t.Errorf("photon.repo lacks %q", want)
		}
	}
	if strings.Contains(repo, dir) || strings.Contains(repo, "file:///work") || strings.Contains(repo, "/tmp") {
		t.Errorf("photon.repo contains a machine path:\n%s", repo)
	}

	// The drivers init.sh names are modules in linux-esx (rpm lists them).
	initsh, err := os.ReadFile(filepath.Join(def, "init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "bash", "-n", filepath.Join(def, "init.sh"))
	drv := regexp.MustCompile(`(?m)^drivers=\(([^)]*)\)`).FindSubmatch(initsh)
	if drv == nil {
		t.Fatal("init.sh has no drivers=(...)")
	}
	m, _ := filepath.Glob(filepath.Join(dir, "photon/linux-esx-*.rpm"))
	files := mustRun(t, "rpm", "-qlp", "--nosignature", m[0])
	for _, d := range strings.Fields(string(drv[1])) {
		if !strings.Contains(files, "/"+d+".ko.xz\n") {
			t.Errorf("init.sh driver %s is not a module in linux-esx", d)
		}
	}
	for _, fn := range []string{"install-entropy()", "install-iptables()"} {
		if !bytes.Contains(initsh, []byte(fn)) {
			t.Errorf("init.sh lacks %s", fn)
		}
	}

	// base.sh, run as VIC does (sourced with the bundle dir as cwd).
	work := t.TempDir()
	cmd := exec.Command("bash", "-e", "-c", "source \"$1\"", "bash", filepath.Join(def, "base.sh"))
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("base.sh: %v\n%s", err, out)
	}
	if l, err := os.Readlink(filepath.Join(work, "rootfs/var/run")); err != nil || l != "/run" {
		t.Errorf("base.sh: rootfs/var/run -> %q, %v; want /run", l, err)
	}
	if fi, err := os.Stat(filepath.Join(work, "rootfs/run")); err != nil || !fi.IsDir() {
		t.Errorf("base.sh did not make rootfs/run: %v", err)
	}
}

// TestKeyStable: the cache key file matches the directory name, and a
// second run of mkrepo reuses the repository instead of rebuilding it.
func TestKeyStable(t *testing.T) {
	testrepo.NeedTools(t, "bash")
	dir := testrepo.Dir(t)
	key := readTrim(t, filepath.Join(dir, "KEY"))
	if filepath.Base(dir) != "testrepo-"+key || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(key) {
		t.Errorf("dir %s, KEY %q", dir, key)
	}
	out := mustRun(t, "bash", filepath.Join(testrepo.ModuleRoot(), "testdata", "mkrepo"), filepath.Dir(dir))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[len(lines)-1] != dir {
		t.Errorf("second run printed %q, want %q", lines[len(lines)-1], dir)
	}
}
