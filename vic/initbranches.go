package vic

// The boot branches of VIC's bootstrap image (VIC.md §2.4–2.5): what
// /bin/init is, which files start it, and how /bin/bootstrap leaves the
// initramfs. The branch is chosen from the image's tree as VIC's
// bootstrap.sh chooses it (`if [ -d rootfs/etc/systemd ]`), the way out at
// run time as VIC's bootstrap does (`if systemctl; then systemctl
// switch-root …; elif switch_root is toybox's …; else exec switch_root …`).
//
// Everything here but writeBootFiles is a pure function of plain inputs
// that returns file contents; BootstrapLayout calls them. Every script is
// POSIX sh, so an image whose only shell is toybox or busybox boots.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vicroot/vicroot/internal/fspath"
)

// initBranch is which of VIC's two layouts an image gets.
type initBranch int

const (
	// branchSystemd: the image has /etc/systemd (Photon, centos-7). /bin/init
	// is VIC's systemd-init; tether.service and vic.target start it when
	// systemd is PID 1.
	branchSystemd initBranch = iota
	// branchSysV: no /etc/systemd (centos-6.9). /bin/init is VIC's
	// sysv-init; /etc/rc.d/init.d/tether, its rc1.d link and /etc/inittab
	// start it when a SysV init is PID 1.
	branchSysV
)

func (b initBranch) String() string {
	if b == branchSysV {
		return "sysv"
	}
	return "systemd"
}

// chooseBranch is VIC's choice: the systemd branch exactly when the image
// has a directory /etc/systemd.
func chooseBranch(etcSystemdIsDir bool) initBranch {
	if etcSystemdIsDir {
		return branchSystemd
	}
	return branchSysV
}

// udevdCandidates are the paths of the udev daemon each branch starts, in
// the order they are tried: systemd-udevd on a systemd image, udevd at its
// SysV paths otherwise (VIC's sysv-init runs a bare `udevd`).
func udevdCandidates(b initBranch) []string {
	systemd := []string{"/usr/lib/systemd/systemd-udevd", "/lib/systemd/systemd-udevd"}
	sysv := []string{"/sbin/udevd", "/usr/sbin/udevd", "/lib/udev/udevd", "/usr/lib/udev/udevd"}
	if b == branchSysV {
		return append(sysv, systemd...)
	}
	return append(systemd, sysv...)
}

// initEntry renders /bin/init for the branch. It runs as PID 1 from the
// initramfs (rdinit=/bin/init), from tether.service when systemd is PID 1,
// or from /etc/rc.d/init.d/tether under a SysV init, so it mounts only what
// is not mounted yet: a tmpfs over systemd's /run would hide the socket
// that `systemctl switch-root` talks to. shell is the interpreter: /bin/sh,
// or /bin/bash for a legacy definition whose init.sh uses bash syntax.
func initEntry(b initBranch, shell string) []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "#!%s\n", shell)
	fmt.Fprintf(&s, `# /bin/init of a VIC containerVM (the %s branch), written by vicroot.
# It prepares devices, modules and the /.tether tmpfs, then leaves the
# initramfs for the container's filesystem with the tether as its init.
# PID 1 (rdinit=/bin/init) or started by the image's init. POSIX sh.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# What the image's init mounted already stays as it is.
vicroot_mounted() { grep -q "^[^ ]* $1 " /proc/mounts 2>/dev/null; }
[ -e /proc/self ] || mount -t proc proc /proc
vicroot_mounted /sys || mount -t sysfs sysfs /sys
vicroot_mounted /dev || mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The tether's debug log is the second serial port.
[ -c /dev/ttyS1 ] || mknod /dev/ttyS1 c 4 65
exec >/dev/ttyS1 2>&1 </dev/null
echo "vicroot: /bin/init starting (%s branch, PID $$)"

mkdir -p /dev/pts /dev/shm /run
vicroot_mounted /dev/pts || mount -t devpts devpts /dev/pts
vicroot_mounted /dev/shm || mount -t tmpfs tmpfs /dev/shm
vicroot_mounted /run || mount -t tmpfs tmpfs /run
[ -c /dev/null ] || mknod -m 666 /dev/null c 1 3
[ -c /dev/console ] || mknod -m 600 /dev/console c 5 1
`, b, b)
	if b == branchSysV {
		s.WriteString("# Not every udevd makes /dev/fd.\n")
		s.WriteString("[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd\n")
	}
	s.WriteString(`
. /bin/repoinit

# udev: a plain "udevadm trigger" sends change events, so the drivers of
# devices present at boot would never load: replay them as add events.
# /bin/bootstrap triggers again once the modules are loaded.
if [ -n "$vicroot_udevd" ] && [ -x "$vicroot_udevd" ]; then
	echo "vicroot: starting $vicroot_udevd"
	"$vicroot_udevd" --daemon
	"$vicroot_udevadm" trigger --action=add --type=subsystems
	"$vicroot_udevadm" trigger --action=add --type=devices
fi
`)
	if b == branchSystemd {
		s.WriteString("\nip link set lo up 2>/dev/null || \"$vicroot_ip\" link set lo up\n")
	}
	s.WriteString("\n. /bin/bootstrap\n")
	return []byte(s.String())
}

// tetherService is /etc/systemd/system/tether.service: when systemd is
// PID 1 (rdinit=/lib/systemd/systemd), vic.target starts /bin/init with its
// output on ttyS1, after basic.target, as VIC's does.
func tetherService() []byte {
	return []byte(`[Unit]
Description=VIC tether: /bin/init prepares /.tether and switches root to the container
After=basic.target

[Service]
Type=idle
ExecStart=/bin/sh -c '/bin/init >/dev/ttyS1 2>&1'

[Install]
WantedBy=vic.target
`)
}

// vicTargetUnit is the boot argument that makes systemd start vic.target
// when it is PID 1. The image is an initramfs (/etc/initrd-release), where
// systemd ≥ 249 starts initrd.target rather than default.target, so the
// default.target link alone, which older systemd (Photon 1.0's) follows,
// does not reach vic.target; and in an initramfs systemd reads only the
// rd. form of systemd.unit=.
const vicTargetUnit = "rd.systemd.unit=vic.target"

// InitBootArgs are the kernel arguments of an image whose init is init
// (t is its tree): rd.systemd.unit=vic.target when that is systemd, then
// the user's extra.
func InitBootArgs(t FS, init string, extra []string) []string {
	return initBootArgs(systemdInit(init, treeLookup(t)), extra)
}

// initBootArgs are the kernel arguments the boot loader adds for init:
// rd.systemd.unit=vic.target when systemd is PID 1, then the user's extra.
func initBootArgs(systemdPID1 bool, extra []string) []string {
	if !systemdPID1 {
		return extra
	}
	for _, a := range extra {
		if strings.HasPrefix(a, "rd.systemd.unit=") {
			return extra // the user's choice stands
		}
	}
	return append([]string{vicTargetUnit}, extra...)
}

// bootFile is one file a branch lays down: data with mode, or a symlink
// to Link.
type bootFile struct {
	Path string // relative to the image root
	Data []byte
	Mode fs.FileMode
	Link string
}

// sysvFiles are the SysV branch's files: the rc script that starts
// /bin/init with its output on ttyS1, its runlevel-1 link, and the inittab
// that makes runlevel 1 the default (no networking there).
func sysvFiles() []bootFile {
	rc := `#!/bin/sh
#
# tether	Starts VIC's containerVM bootstrap (/bin/init), output on ttyS1.
#
# chkconfig: 12345 26 75
# description: Starts the containerVM bootstrap with its output on the \
#              second serial port.
#
### BEGIN INIT INFO
# Provides: tether
# Default-Start: 1 2 3 4 5
# Default-Stop: 0 6
# Short-Description: Starts VIC's containerVM bootstrap
### END INIT INFO

case "$1" in
start)
	echo "Starting the VIC bootstrap"
	/bin/sh -c '/bin/init >/dev/ttyS1 2>&1' 2>&1 &
	;;
*)
	echo "Usage: $0 {start}"
	;;
esac
exit 0
`
	inittab := `# inittab of a VIC containerVM, written by vicroot: only the default
# runlevel. Runlevel 1 (single user, no networking) runs
# /etc/rc.d/rc1.d/S90tether, which starts /bin/init.
id:1:initdefault:
`
	return []bootFile{
		{Path: "etc/rc.d/init.d/tether", Data: []byte(rc), Mode: 0o755},
		{Path: "etc/rc.d/rc1.d/S90tether", Link: "/etc/rc.d/init.d/tether"},
		{Path: "etc/inittab", Data: []byte(inittab), Mode: 0o644},
	}
}

// writeBootFiles writes files into the tree, replacing what is there.
func writeBootFiles(t FS, files []bootFile) error {
	for _, f := range files {
		if err := t.MkdirAll(path.Dir(f.Path), 0o755); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if f.Link == "" {
			if err := putFile(t, f.Path, f.Data, f.Mode); err != nil {
				return err
			}
			continue
		}
		if _, err := t.Lstat(f.Path); err == nil {
			if err := t.RemoveAll(f.Path); err != nil {
				return fmt.Errorf("replace %s: %w", f.Path, err)
			}
		}
		if err := t.Symlink(f.Link, f.Path); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}

// switchMarker starts the part of /bin/bootstrap that runtimeSwitch
// replaces.
const switchMarker = "echo \"vicroot: switching root to $root\"\n"

// runtimeSwitch is the end of /bin/bootstrap: it logs the modules and
// filesystems the containerVM takes along (NFS among them), then leaves
// the initramfs as VIC's bootstrap does, decided at run time: through
// systemd when `systemctl` works (systemd is PID 1 and only it may switch
// root; it moves /dev, /proc, /sys and /run itself), else through
// switch_root, after moving /sys, /proc and /dev for a toybox or busybox
// switch_root, which do not move them.
const runtimeSwitch = `# What the container gets: every loaded module and filesystem type.
vicroot_list=
while read -r vicroot_a vicroot_b; do vicroot_list="$vicroot_list $vicroot_a"; done </proc/modules
echo "vicroot: modules loaded:$vicroot_list"
vicroot_list=
while read -r vicroot_a vicroot_b; do
	[ "$vicroot_a" = nodev ] && vicroot_a=$vicroot_b
	vicroot_list="$vicroot_list $vicroot_a"
done </proc/filesystems
echo "vicroot: filesystems:$vicroot_list"

echo "vicroot: switching root to $root"
if command -v systemctl >/dev/null 2>&1 && systemctl --no-pager >/dev/null 2>&1; then
	echo "vicroot: systemd is PID 1: systemctl switch-root"
	systemctl switch-root "$root" /.tether/tether || vicroot_fail "systemctl switch-root $root /.tether/tether"
	# systemd now ends every process of the initramfs, this one included.
	sleep 120
	vicroot_fail "systemd did not switch root"
fi
vicroot_sr=
for vicroot_p in /usr/sbin/switch_root /sbin/switch_root /usr/bin/switch_root /bin/switch_root; do
	if [ -e "$vicroot_p" ]; then vicroot_sr=$vicroot_p; break; fi
done
case $(readlink "$vicroot_sr" 2>/dev/null) in
*toybox* | *busybox*)
	for d in sys proc dev; do
		[ -d "$root/$d" ] && mount --move "/$d" "$root/$d"
	done
	;;
esac
# busybox's switch_root refuses to run unless /init is a regular file.
[ -f /init ] || : >/init
exec switch_root "$root" /.tether/tether
vicroot_fail "switch_root failed"
`

// withRuntimeSwitch returns bootstrap with everything from its switch
// (the line that announces it) replaced by runtimeSwitch.
func withRuntimeSwitch(bootstrap []byte) ([]byte, error) {
	i := bytes.Index(bootstrap, []byte(switchMarker))
	if i < 0 {
		return nil, fmt.Errorf("vic: /bin/bootstrap has no line %q to put the run-time switch at", strings.TrimSpace(switchMarker))
	}
	out := append([]byte(nil), bootstrap[:i]...)
	return append(out, runtimeSwitch...), nil
}

// ErrInit is returned when the definition's init cannot boot the image.
var ErrInit = errors.New("init cannot boot the image")

// systemctlPaths are where the bootstrap's `systemctl` is found.
var systemctlPaths = []string{"/usr/bin/systemctl", "/bin/systemctl", "/usr/sbin/systemctl", "/sbin/systemctl"}

// imageLookup answers, for an absolute path in the image, the path it
// resolves to through symlinks and that file's mode; ok is false when
// nothing is there.
type imageLookup func(p string) (final string, mode fs.FileMode, ok bool)

// checkInit checks the definition's init against the image (what VIC's
// generate_iso checks, `rootfs/$INIT` executable, and more): it must be an
// executable file, and when it is systemd, the image must have systemctl
// (the bootstrap leaves with `systemctl switch-root`) and /etc/systemd
// (vic.target starts the bootstrap). It reports whether systemd is PID 1.
func checkInit(init string, branch initBranch, lookup imageLookup) (systemdPID1 bool, err error) {
	final, mode, ok := lookup(init)
	if !ok {
		return false, fmt.Errorf("%w: repo-spec.json \"init\" is %s, which the image does not have", ErrInit, init)
	}
	if !mode.IsRegular() || mode.Perm()&0o111 == 0 {
		return false, fmt.Errorf("%w: repo-spec.json \"init\" is %s (%s in the image), which is not an executable file (%v)", ErrInit, init, final, mode)
	}
	if !systemdInit(init, lookup) {
		return false, nil
	}
	for _, p := range systemctlPaths {
		if _, m, ok := lookup(p); ok && m.IsRegular() && m.Perm()&0o111 != 0 {
			if branch != branchSystemd {
				return true, fmt.Errorf("%w: init %s is systemd, but the image has no /etc/systemd for vic.target and tether.service", ErrInit, init)
			}
			return true, nil
		}
	}
	return true, fmt.Errorf("%w: init %s is systemd, but the image has no executable %s: /bin/bootstrap leaves systemd's initramfs with `systemctl switch-root`", ErrInit, init, strings.Join(systemctlPaths, " or "))
}

// systemdInit reports whether init is systemd: the file it leads to
// through symlinks is named systemd (/lib/systemd/systemd, /sbin/init ->
// ../lib/systemd/systemd).
func systemdInit(init string, lookup imageLookup) bool {
	final, _, ok := lookup(init)
	return ok && path.Base(final) == "systemd"
}

// treeLookup is an imageLookup over the tree: the mode as stat(2) sees
// it; the final name is p itself when p is not a symlink (links among its
// directories, such as Photon's /bin -> usr/bin, are not named), else the
// canonical path the symlinks lead to.
func treeLookup(t FS) imageLookup {
	return func(p string) (string, fs.FileMode, bool) {
		fi, err := t.Stat(relInTree(p))
		if err != nil {
			return "", 0, false
		}
		final := absInTree(p)
		if r, err := fspath.Resolve(t, p, true); err == nil && len(r.Links) > 0 {
			final = r.Path
		}
		return final, fi.Mode(), true
	}
}
