// Package testrepo gives tests the real, signed yum test repository that
// testdata/mkrepo builds from Debian binaries with rpmbuild, rpmsign and
// createrepo_c. It is built once per cache key and reused afterwards.
//
// Layout of the directory Dir returns:
//
//	KEY                       the cache key the repository was built for (sha256 of
//	                          testdata/mkrepo, testdata/specs/ and the Debian package versions)
//	manifest.tsv              a header row, then one line per RPM in photon/ and
//	                          photon-updates/: repo, file, name, evr, arch,
//	                          payload compressor (xz, gzip, zstd), size in bytes
//	RPM-GPG-KEY-vicroot-test  the armored public signing key
//	gnupg/                    GNUPGHOME holding the secret signing key
//	other-key.asc             an unrelated public key (signed the "otherkey" negative)
//	photon/                   the main repository: *.rpm and repodata/ (repo id "photon";
//	                          gz metadata, repodata/repomd.xml.asc signed with the key)
//	photon-updates/           the updates repository (repo id "photon-updates"; xz
//	                          metadata, repomd.xml.asc): a newer build of haveged
//	photon-bdb/               the BDB case's repository (repo id "photon-bdb"; gz
//	                          metadata, repomd.xml.asc): rpm 4.14.3 alone (below)
//	negative/                 unsigned.rpm, otherkey.rpm, tampered.rpm, truncated.rpm
//	badrepomd/                a repository whose repomd.xml has a wrong checksum for primary
//	definition/               a repo definition folder for the test repository
//	                          (repo-spec.json, photon.repo with a placeholder
//	                          baseurl, the key file VICROOT-TEST-KEY, init.sh, base.sh)
//	definition-bdb/           the same as testrepo-bdb-2.0, with photon-bdb added to
//	                          photon.repo and "rpm-4.14.3" (dnf's name-version
//	                          spelling) for rpm in packages.appliance
//	kernel.version            the kernel version (uname -r form) inside linux-esx
//
// Packages (all Release N.ph2; manifest.tsv has versions, compressors,
// sizes): filesystem (dirs, /bin -> usr/bin, /sbin -> usr/sbin,
// /lib and /lib64 -> usr/lib, %ghost /var/run, /etc/passwd|group|shadow),
// glibc (Debian libs in /usr/lib/x86_64-linux-gnu, /usr/lib/ld-linux-x86-64.so.2
// -> x86_64-linux-gnu/..., /etc/ld.so.conf + conf.d, getent, ldconfig),
// toybox (busybox-static as /bin/toybox, applets as /bin/<name> links but
// sh, /sbin/switch_root -> ../bin/toybox), bash (gzip payload; /bin/rbash is a
// hardlink of /bin/bash; /bin/sh -> bash and Provides: /bin/sh, as Photon's
// bash: `ln -s bash /bin/sh`), kmod (/usr/bin/kmod, /sbin/modprobe... links,
// libkmod), haveged + libhavege, iptables (/sbin/iptables ->
// xtables-legacy-multi in /usr/sbin, libxtables/libip4tc/libip6tc, the
// dlopen'ed extensions in /usr/lib/x86_64-linux-gnu/xtables, the bash script
// iptables-apply), iproute2 (zstd payload; /sbin/ip), systemd-udev (udevadm,
// /usr/lib/systemd/systemd-udevd, ata_id, scsi_id, 50-udev-default and
// 60-persistent-storage rules), udev (the same at the SysV paths
// /sbin/udevd, /sbin/udevadm, /lib/udev, no /etc/systemd; Conflicts
// systemd-udev), systemd (Debian 12's systemd as Photon's: PID 1 at
// /usr/lib/systemd/systemd, systemd-shutdown, /usr/bin/systemctl, the
// private libsystemd-shared and -core in their RUNPATH directory, every
// target and slice unit and the power-off services, no udev; its %pre
// makes the systemd-journal group and its %post runs `systemctl
// preset-all`, as Photon's do; the gettys below),
// shadow (groupadd, useradd, usermod, chpasswd, passwd, chage, chsh),
// the appliance set (below), linux-esx
// (/boot/vmlinuz-<kver>, System.map (Debian's placeholder), config,
// linux-<kver>.cfg, photon.cfg symlink; /lib/modules/<kver>/kernel/**.ko.xz
// for VIC's drivers, ext4, the netfilter modules the appliance's nat-setup
// rules need (iptable_mangle, xt_addrtype, xt_mark, xt_MASQUERADE, xt_LOG)
// and their dependencies; modules.order, .builtin,
// .builtin.modinfo; no modules.dep), syslinux (/usr/share/syslinux/
// isolinux.bin and ldlinux.c32), photon-repos (noarch; the key at
// /etc/pki/rpm-gpg/VICROOT-TEST-KEY, /etc/yum.repos.d/photon.repo), and one
// package per Debian library package the binaries need (ncurses-libs, zlib,
// openssl-libs, libselinux1, ...).
//
// The appliance set (issue 12), Debian 12 binaries under Photon's package
// names, unit names and paths; each rename from Debian:
//
//	openssh-server  Debian's sshd; Photon's units sshd.service, sshd@.service
//	                and sshd.socket (Debian: ssh.service, ssh.socket, no
//	                per-connection unit), a Photon-like sshd_config with
//	                "#PermitRootLogin", a preset enabling sshd.service and
//	                %post `systemctl preset` (Photon's %systemd_post): the
//	                sshd.service wants link is there for VIC's step to
//	                remove, so sshd would start without it; %pre makes
//	                user and group sshd (50), as Photon's
//	dbus            dbus-daemon + dbus-system-bus-common (system.conf, units
//	                moved to /usr/lib/systemd/system) and libdbus-1-3
//	sudo            sudo, sudoers.so and libsudo_util at /usr/libexec/sudo,
//	                Debian's /etc/sudoers (0440)
//	util-linux      agetty at /usr/bin/agetty (Debian: /sbin/agetty)
//	rpm             Debian's rpm 4.18 (rpm, rpmkeys, rpmdb; sqlite rpmdb),
//	                with rpm-common's macros, rpmrc and x86_64 platform;
//	                %_dbpath is upstream's and Photon's /var/lib/rpm (Debian:
//	                ~/.rpmdb)
//	rpm 4.14.3      (photon-bdb/ only) the same files with %_db_backend bdb
//	                in the macros, as Photon 2.0's rpm 4.14: vicroot picks the
//	                rpmdb format from the installed rpm's macros, so an image
//	                with it gets a BDB /var/lib/rpm (Debian's rpm cannot write
//	                BDB; the image's rpm is not run, only the database read)
//	systemd         (the gettys and presets) getty@.service and
//	                serial-getty@.service with agetty at /usr/bin/agetty
//	                (Debian: /sbin/agetty), the
//	                multi-user.target.wants/getty.target link, Debian's
//	                90-systemd.preset (enable getty@.service, ...) and
//	                upstream's 99-default.preset ("disable *"); no getty
//	                generator (no udev in the set: its serial getty would
//	                wait for the tty's device unit and fail)
//	coreutils       a subset of Debian's coreutils (chmod, ls, cp, ...) at
//	                Photon's /bin, for the appliance's scripts after
//	                toybox's erase (Debian: some in /usr/bin)
//	bash            /bin/sh -> bash (Debian: dash's /bin/sh), so the
//	                appliance keeps a /bin/sh after toybox's erase
//	rpm-libs        librpm9 + librpmio9
//	Linux-PAM, popt, sqlite-libs, audit, expat
//	                libpam0g, libpopt0, libsqlite3-0, libaudit1, libexpat1
//
// and Debian's bash and systemd as above. The %pre and %post scriptlets of
// the set run under /bin/bash (rpm -p). The definition's packages.appliance
// is "bash coreutils shadow systemd dbus openssh-server util-linux sudo rpm
// iproute2" with packages_script_staging.appliance "erase toybox". VIC's daemons are not
// packages: testdata/vicdaemon is their stand-in (`make testbin`).
//
// Resolver traps: photon-repos 2.0-1 and 2.0-2 (two versions, noarch);
// kmod Requires glibc >= 2.36 and haveged Requires libhavege >= V-1.ph2
// (versioned); linux-esx Requires /usr/share/syslinux/isolinux.bin (only
// filelists.xml has it); toybox Obsoletes busybox < 2.0 (busybox-1.0 is in
// the repo); iptables-nft Conflicts iptables; iproute2 Requires
// (iptables-nft or iptables) and iptables Requires (linux-esx or linux)
// (rich); systemd-udev's %pre runs getent/groupadd/useradd and it owns
// /etc/systemd/networkd-vicroot.conf as systemd-network:systemd-network;
// photon-updates has haveged 1.9.14-2 (photon has -1). rpm's automatic
// soname and interpreter dependencies are real (glibc also Provides
// rtld(GNU_HASH)). Details are in comments in testdata/mkrepo.
package testrepo

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Tools the repository build needs.
var buildTools = []string{"rpmbuild", "rpmsign", "createrepo_c", "rpm", "gpg", "gpgconf", "xz", "zstd",
	"dpkg-query", "ldd", "modinfo", "flock", "python3"}

var (
	once    sync.Once
	dir     string
	errOnce error
)

// Required reports whether tests must fail, not skip, when a tool or
// fixture is missing (VICROOT_REQUIRE_TOOLS=1, as CI sets it).
func Required() bool { return os.Getenv("VICROOT_REQUIRE_TOOLS") == "1" }

// NeedTools skips the test when one of the named programs is not on PATH,
// or fails it when Required.
func NeedTools(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing tools: %s", strings.Join(missing, " "))
	if Required() {
		t.Fatal(msg + " (VICROOT_REQUIRE_TOOLS=1)")
	}
	t.Skip(msg)
}

// NeedRoot skips the test unless it runs as root (or fails it when Required).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if Required() {
		t.Fatal("this test needs root (VICROOT_REQUIRE_TOOLS=1)")
	}
	t.Skip("needs root")
}

// ModuleRoot returns the directory that holds go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Fixtures returns ../shared/fixtures beside the checkout, skipping (or
// failing when Required) if it is absent.
func Fixtures(t testing.TB) string {
	t.Helper()
	d := filepath.Join(ModuleRoot(), "..", "shared", "fixtures")
	if _, err := os.Stat(d); err != nil {
		if Required() {
			t.Fatalf("fixtures folder %s missing", d)
		}
		t.Skipf("fixtures folder %s missing", d)
	}
	return d
}

// CacheDir is where built test artefacts live: $VICROOT_TEST_CACHE, or
// testdata/.cache in the checkout.
func CacheDir() string {
	if d := os.Getenv("VICROOT_TEST_CACHE"); d != "" {
		return d
	}
	return filepath.Join(ModuleRoot(), "testdata", ".cache")
}

// Dir returns the built test repository, building it on first use (under a
// file lock, so parallel test binaries build it once).
func Dir(t testing.TB) string {
	t.Helper()
	NeedTools(t, buildTools...)
	once.Do(func() { dir, errOnce = build() })
	if errOnce != nil {
		t.Fatalf("testrepo: %v", errOnce)
	}
	return dir
}

func build() (string, error) {
	cache := CacheDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	script := filepath.Join(ModuleRoot(), "testdata", "mkrepo")
	// mkrepo takes a lock on the cache directory itself, so concurrent test
	// binaries build the repository once and the others reuse it.
	cmd := exec.Command("bash", script, cache)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", script, cache, err, lastLines(errb.String(), 40))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	d := strings.TrimSpace(lines[len(lines)-1])
	if _, err := os.Stat(filepath.Join(d, "KEY")); err != nil {
		return "", fmt.Errorf("%s did not print a built repository as its last line (got %q)", script, d)
	}
	return d, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// PackageFiles lists the .rpm files of the built repository's two
// repositories (photon and photon-updates) as they lie on disk: an oracle
// for package counts that does not go through any of our parsers.
func PackageFiles(t testing.TB, repo string) []string {
	t.Helper()
	var files []string
	for _, r := range []string{"photon", "photon-updates"} {
		err := filepath.WalkDir(filepath.Join(repo, r), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".rpm") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatalf("testrepo: listing %s: %v", r, err)
		}
	}
	if len(files) == 0 {
		t.Fatalf("testrepo: no .rpm files under %s", repo)
	}
	return files
}

// PackageFile is the .rpm file of the package called name in the built
// repository dir (as manifest.tsv lists it: the first row of that name),
// e.g. the kernel, linux-esx, for tests that give it by path.
func PackageFile(t testing.TB, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatalf("testrepo: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		c := strings.Split(line, "\t")
		if len(c) >= 3 && c[2] == name {
			return filepath.Join(dir, c[0], c[1])
		}
	}
	t.Fatalf("testrepo: no package %s in %s/manifest.tsv", name, dir)
	return ""
}
