package vic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/fspath"
	"github.com/vicroot/vicroot/repos"
)

// ApplianceFS is the tree the appliance layout writes into: FS plus the
// owner and mode changes, the account tools and the systemctl verbs VIC's
// appliance steps run in a chroot (rootfs.Tree has them all).
type ApplianceFS interface {
	FS
	Chmod(name string, mode fs.FileMode) error
	Lchown(name string, uid, gid uint32) error
	Groupadd(args ...string) (int, error)
	Useradd(args ...string) (int, error)
	Usermod(args ...string) (int, error)
	SetDefault(target string) error
	Disable(units ...string) error
}

// ApplianceDaemons are VIC's binaries the appliance carries, by their
// name in VIC's bin/ folder, and where the appliance puts each.
var ApplianceDaemons = []struct{ Name, Path string }{
	{"vic-init", "sbin/vic-init"},
	{"docker-engine-server", "sbin/docker-engine-server"},
	{"port-layer-server", "sbin/port-layer-server"},
	{"vicadmin", "sbin/vicadmin"},
	{"unpack", "bin/unpack"},
}

// VicadminHomeDir is the folder of --bin whose content becomes
// /home/vicadmin (VIC ships its vicadmin web assets there; they are not
// vicroot's to ship).
const VicadminHomeDir = "vicadmin-home"

// ApplianceInit is the appliance's rdinit=: systemd is PID 1.
const ApplianceInit = "/lib/systemd/systemd"

// RootPasswordHash is the root password VIC's appliance sets:
// `openssl passwd -1 -salt vic password`.
const RootPasswordHash = "$1$vic$4NkZR1dFBeLOOEhCZrLPR."

// sudoersLine lets vicadmin list the firewall.
const sudoersLine = "vicadmin ALL=NOPASSWD: /sbin/iptables --list\n"

// journalTmpfiles makes the journal readable by the systemd-journal group
// (vicadmin reads it with journalctl).
const journalTmpfiles = "m  /var/log/journal/%m/system.journal 2755 root systemd-journal - -\n"

// ApplianceInput is what the appliance layout needs besides the tree.
type ApplianceInput struct {
	Definition *repos.Definition
	// Keys are the repository keys the image carries, sorted by path.
	Keys []ImageKey
	// Daemons are the files of ApplianceDaemons, by name; each is
	// required. A tree that takes content as it is (a *rootfs.Tree)
	// keeps these slices, which must not change after.
	Daemons map[string][]byte
	// Home is the content of /home/vicadmin (--bin's vicadmin-home/).
	Home fs.FS
}

// ApplianceReport is what the report says of the appliance layout.
type ApplianceReport struct {
	// Disabled are the units `systemctl disable` found and disabled;
	// Absent those the image does not have (VIC's chroot call would fail
	// on them; see ApplianceLayout).
	Disabled []string `json:"disabled,omitempty"`
	Absent   []string `json:"absent_units,omitempty"`
	// MingettyLink is set when /usr/bin/agetty was made a link to
	// /sbin/mingetty.
	MingettyLink bool `json:"mingetty_link,omitempty"`
	// Home lists the files copied into /home/vicadmin.
	Home []string `json:"vicadmin_home,omitempty"`
}

// ApplianceLayout turns a tree holding the appliance's packages into VIC's
// endpointVM, doing natively what VIC's appliance staging and appliance
// scripts do as root in a chroot, in their order:
//
//   - the package manager's files as for the bootstrap (repositories, keys,
//     tdnf.conf);
//   - the sudoers line for vicadmin; getty@tty1's override (agetty
//     autologin as root) and, when /sbin/mingetty exists, /usr/bin/agetty
//     linked to it; sshd@.service and the sshd.service wants link removed
//     (an image without sshd@.service is an error, as VIC's rm fails);
//     `PermitRootLogin yes`; login shells /bin/bash → /bin/false; root's
//     password hash; the pam files of chpasswd and chage;
//   - sysctl.conf; vic.target, vic-init, nat and permissions services and
//     their setup scripts; the vic.target.wants links; default.target →
//     vic.target; an empty /etc/machine-id; networkd, resolved and
//     timesyncd disabled; /etc/systemd/network reduced to no-dhcp.network;
//   - groups vicadmin (1000) and vic (1001), user vicadmin (1000, in
//     systemd-journal and vic) with useradd's allocation and files, an
//     empty /etc/resolv.conf, /home/vicadmin from in.Home owned by
//     1000:1000, the journal tmpfiles line, /run/lock 1777 with
//     logrotate_run.lock root:vic 0660;
//   - VIC's daemons (ApplianceDaemons).
//
// Where it deviates from VIC's scripts it says so at the step: units VIC
// disables that the image does not have are skipped (systemctl would fail
// the build), and /etc/initrd-release, which VIC's base step leaves, is
// removed (systemd as PID 1 in an initramfs with that file takes the initrd
// path: it starts initrd.target and tries to switch root, and never reaches
// vic.target).
func ApplianceLayout(ctx context.Context, t ApplianceFS, in ApplianceInput) (*ApplianceReport, error) {
	rep := &ApplianceReport{}
	for _, d := range ApplianceDaemons {
		if in.Daemons[d.Name] == nil {
			return nil, fmt.Errorf("VIC's %s is missing: the appliance needs %s", d.Name, daemonList())
		}
	}
	if in.Home == nil {
		return nil, fmt.Errorf("no %s folder: its content becomes /home/vicadmin", VicadminHomeDir)
	}
	if err := packageManagerFiles(t, in.Definition, in.Keys); err != nil {
		return nil, err
	}
	if err := applianceStaging(t, rep); err != nil {
		return nil, err
	}
	if err := applianceSystemd(t, rep); err != nil {
		return nil, err
	}
	if err := applianceAccounts(t, in.Home, rep); err != nil {
		return nil, err
	}
	for _, d := range ApplianceDaemons {
		if err := t.MkdirAll(path.Dir(d.Path), 0o755); err != nil {
			return nil, err
		}
		if err := putOwned(t, d.Path, in.Daemons[d.Name], 0o755); err != nil {
			return nil, err
		}
	}
	// Deviation: VIC's base step touches /etc/initrd-release for both
	// images. The appliance's systemd is its final init (rdinit=), and
	// with that file in an initramfs systemd runs as in an initrd: it
	// starts initrd.target, fails to switch root and enters emergency
	// mode instead of reaching vic.target.
	if err := t.Remove("etc/initrd-release"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return rep, nil
}

func daemonList() string {
	var n []string
	for _, d := range ApplianceDaemons {
		n = append(n, d.Name)
	}
	return strings.Join(n, ", ")
}

// applianceStaging is the end of VIC's appliance staging script, after its
// package-manager calls.
func applianceStaging(t ApplianceFS, rep *ApplianceReport) error {
	// echo LINE >> /etc/sudoers
	if err := appendFile(t, "etc/sudoers", []byte(sudoersLine), 0o440); err != nil {
		return err
	}
	// Autologin of root on tty1.
	if err := t.MkdirAll("usr/lib/systemd/system/getty@tty1.service.d", 0o755); err != nil {
		return err
	}
	if err := putFile(t, "usr/lib/systemd/system/getty@tty1.service.d/override.conf", asset("appliance/override.conf"), 0o644); err != nil {
		return err
	}
	// [ -f /sbin/mingetty ] && ln -sf /sbin/mingetty /usr/bin/agetty
	if fi, err := t.Stat("sbin/mingetty"); err == nil && fi.Mode().IsRegular() {
		if err := t.MkdirAll("usr/bin", 0o755); err != nil {
			return err
		}
		_ = t.Remove("usr/bin/agetty")
		if err := t.Symlink("/sbin/mingetty", "usr/bin/agetty"); err != nil {
			return err
		}
		rep.MingettyLink = true
	}
	// SSH is off by default (vic-init starts sshd on request).
	const sshdAt = "usr/lib/systemd/system/sshd@.service"
	if _, err := t.Lstat(sshdAt); err != nil {
		return fmt.Errorf("the image has no /%s, which VIC's appliance removes to keep SSH off (is the openssh server in packages.appliance?)", sshdAt)
	}
	if err := t.Remove(sshdAt); err != nil {
		return err
	}
	if err := t.Remove("etc/systemd/system/multi-user.target.wants/sshd.service"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// sed -i -e "s/\#*PermitRootLogin\s.*/PermitRootLogin yes/" /etc/ssh/sshd_config
	if err := sedFile(t, "etc/ssh/sshd_config", regexp.MustCompile(`#*PermitRootLogin\s.*`), "PermitRootLogin yes"); err != nil {
		return err
	}
	// sed -i -e 's@:/bin/bash$@:/bin/false@' /etc/passwd
	if err := sedFile(t, "etc/passwd", regexp.MustCompile(`:/bin/bash$`), ":/bin/false"); err != nil {
		return err
	}
	// sed -i -e "s/^root:[^:]*:/root:HASH:/" /etc/shadow
	if err := sedFile(t, "etc/shadow", regexp.MustCompile(`^root:[^:]*:`), "root:"+RootPasswordHash+":"); err != nil {
		return err
	}
	// cp -f chpasswd.pam /etc/pam.d/chpasswd; cp -f chage.pam /etc/pam.d/chage
	if err := t.MkdirAll("etc/pam.d", 0o755); err != nil {
		return err
	}
	for _, n := range []string{"chpasswd", "chage"} {
		if err := putFile(t, "etc/pam.d/"+n, asset("appliance/"+n+".pam"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// applianceSystemd is the systemd part of VIC's appliance script.
func applianceSystemd(t ApplianceFS, rep *ApplianceReport) error {
	if err := putFile(t, "etc/sysctl.conf", asset("appliance/sysctl.conf"), 0o644); err != nil {
		return err
	}
	// Deviation: VIC copies into /etc/systemd/scripts, which Photon's
	// iptables package makes; vicroot makes it when it is missing.
	for _, d := range []string{"etc/systemd/system/vic.target.wants", "etc/systemd/scripts", "etc/systemd/network"} {
		if err := t.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		p, asset string
		mode     fs.FileMode
	}{
		{"etc/systemd/system/vic.target", "vic.target", 0o644},
		{"etc/systemd/system/nat.service", "nat.service", 0o644},
		{"etc/systemd/system/permissions.service", "permissions.service", 0o644},
		{"etc/systemd/system/vic-init.service", "vic-init.service", 0o644},
		{"etc/systemd/scripts/nat-setup", "nat-setup", 0o755},
		{"etc/systemd/scripts/permissions-setup", "permissions-setup", 0o755},
	} {
		if err := putFile(t, f.p, asset("appliance/"+f.asset), f.mode); err != nil {
			return err
		}
	}
	for _, l := range []struct{ target, p string }{
		{"/etc/systemd/system/vic-init.service", "etc/systemd/system/vic.target.wants/vic-init.service"},
		{"/etc/systemd/system/nat.service", "etc/systemd/system/vic.target.wants/nat.service"},
		{"/etc/systemd/system/permissions.service", "etc/systemd/system/vic.target.wants/permissions.service"},
		{"/lib/systemd/system/multi-user.target", "etc/systemd/system/vic.target.wants/multi-user.target"},
	} {
		_ = t.Remove(l.p)
		if err := t.Symlink(l.target, l.p); err != nil {
			return err
		}
	}
	// systemctl set-default vic.target
	if err := t.SetDefault("vic.target"); err != nil {
		return err
	}
	// systemd-machine-id-setup, then > /etc/machine-id: an empty file
	// with machine-id-setup's mode.
	if err := putFile(t, "etc/machine-id", nil, 0o444); err != nil {
		return err
	}
	// systemctl disable …: deviation: a unit the image does not have is
	// skipped (systemctl would fail VIC's build on it; the test
	// repository's systemd ships no networkd).
	for _, u := range []string{"systemd-networkd.service", "systemd-networkd.socket", "systemd-resolved.service", "systemd-timesyncd.service"} {
		if !unitExists(t, u) {
			rep.Absent = append(rep.Absent, u)
			continue
		}
		if err := t.Disable(u); err != nil {
			return err
		}
		rep.Disabled = append(rep.Disabled, u)
	}
	// rm -f /etc/systemd/network/*; cp no-dhcp.network
	if ents, err := fs.ReadDir(t, "etc/systemd/network"); err == nil {
		for _, e := range ents {
			if err := t.RemoveAll("etc/systemd/network/" + e.Name()); err != nil {
				return err
			}
		}
	}
	return putFile(t, "etc/systemd/network/no-dhcp.network", NoDHCPNetwork(), 0o644)
}

// unitDirs are where systemctl looks for unit files.
var unitDirs = []string{"etc/systemd/system", "run/systemd/system", "usr/local/lib/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"}

func unitExists(t FS, unit string) bool {
	for _, d := range unitDirs {
		if _, err := t.Lstat(d + "/" + unit); err == nil {
			return true
		}
	}
	return false
}

// applianceAccounts is the users-and-files part of VIC's appliance script.
func applianceAccounts(t ApplianceFS, home fs.FS, rep *ApplianceReport) error {
	run := func(tool string, f func(...string) (int, error), args ...string) error {
		st, err := f(args...)
		if err == nil && st != 0 {
			err = fmt.Errorf("exit status %d", st)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", tool, strings.Join(args, " "), err)
		}
		return nil
	}
	if err := run("groupadd", t.Groupadd, "-g", "1000", "vicadmin"); err != nil {
		return err
	}
	if err := run("useradd", t.Useradd, "-u", "1000", "-g", "1000", "-G", "systemd-journal", "-m", "-d", "/home/vicadmin", "-s", "/bin/false", "vicadmin"); err != nil {
		return err
	}
	if _, err := t.Lstat("etc/resolv.conf"); errors.Is(err, fs.ErrNotExist) {
		if err := t.WriteFile("etc/resolv.conf", nil, 0o644); err != nil {
			return err
		}
	}
	if err := run("groupadd", t.Groupadd, "-g", "1001", "vic"); err != nil {
		return err
	}
	if err := run("usermod", t.Usermod, "-a", "-G", "vic", "vicadmin"); err != nil {
		return err
	}
	// cp -R vicadmin/* /home/vicadmin; chown -R 1000:1000 /home/vicadmin
	err := fs.WalkDir(home, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		dst := "home/vicadmin/" + p
		switch {
		case d.IsDir():
			return t.MkdirAll(dst, 0o755)
		case d.Type().IsRegular():
			data, err := fs.ReadFile(home, p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rep.Home = append(rep.Home, p)
			return putFile(t, dst, data, fi.Mode().Perm())
		}
		return fmt.Errorf("%s/%s: only files and folders are copied", VicadminHomeDir, p)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", VicadminHomeDir, err)
	}
	err = fs.WalkDir(t, "home/vicadmin", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return t.Lchown(p, 1000, 1000)
	})
	if err != nil {
		return err
	}
	// install -m 755 -d /etc/tmpfiles.d; the journal line
	if err := t.MkdirAll("etc/tmpfiles.d", 0o755); err != nil {
		return err
	}
	if err := t.Chmod("etc/tmpfiles.d", fs.ModeDir|0o755); err != nil {
		return err
	}
	if err := putFile(t, "etc/tmpfiles.d/systemd.conf", []byte(journalTmpfiles), 0o644); err != nil {
		return err
	}
	// mkdir -p /var/run/lock; chmod 1777; the logrotate lock root:vic 0660
	lock := "var/run/lock"
	if r, err := fspath.Resolve(t, "var/run", true); err == nil {
		lock = r.Name() + "/lock"
	}
	if err := t.MkdirAll(lock, 0o755); err != nil {
		return err
	}
	if err := t.Chmod(lock, fs.ModeDir|fs.ModeSticky|0o777); err != nil {
		return err
	}
	gid, err := groupID(t, "vic")
	if err != nil {
		return err
	}
	if err := putFile(t, lock+"/logrotate_run.lock", nil, 0o660); err != nil {
		return err
	}
	return t.Lchown(lock+"/logrotate_run.lock", 0, gid)
}

// groupID looks a group up in the tree's /etc/group.
func groupID(t FS, name string) (uint32, error) {
	data, err := fs.ReadFile(t, "etc/group")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			n, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				return 0, fmt.Errorf("/etc/group: group %s has gid %q", name, f[2])
			}
			return uint32(n), nil
		}
	}
	return 0, fmt.Errorf("/etc/group has no group %s", name)
}

// appendFile appends data to p (`>>`), creating it with perm; an existing
// file keeps its mode.
func appendFile(t ApplianceFS, p string, data []byte, perm fs.FileMode) error {
	old, err := fs.ReadFile(t, p)
	if err == nil {
		if fi, err := t.Stat(p); err == nil {
			perm = fi.Mode().Perm()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return writeKeepingOwner(t, p, append(old, data...), perm)
}

// sedFile is `sed -i -e s/RE/REPL/ FILE`: the first match on each line is
// replaced; the file keeps its mode. A missing file is an error, as sed's.
func sedFile(t ApplianceFS, p string, re *regexp.Regexp, repl string) error {
	data, err := fs.ReadFile(t, p)
	if err != nil {
		return fmt.Errorf("sed /%s: %w", p, err)
	}
	fi, err := t.Stat(p)
	if err != nil {
		return err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	var out bytes.Buffer
	for _, l := range lines {
		nl := bytes.HasSuffix(l, []byte("\n"))
		body := bytes.TrimSuffix(l, []byte("\n"))
		if loc := re.FindIndex(body); loc != nil {
			body = append(append(append([]byte(nil), body[:loc[0]]...), repl...), body[loc[1]:]...)
		}
		out.Write(body)
		if nl {
			out.WriteByte('\n')
		}
	}
	return writeKeepingOwner(t, p, out.Bytes(), fi.Mode().Perm())
}

// writeKeepingOwner replaces p's content, keeping the mode and owner the
// file had (sed -i and >> keep them).
func writeKeepingOwner(t ApplianceFS, p string, data []byte, perm fs.FileMode) error {
	var meta *fsmeta.Meta
	if fi, err := t.Lstat(p); err == nil {
		meta = fsmeta.Of(fi)
	}
	if err := putFile(t, p, data, perm); err != nil {
		return err
	}
	if err := t.Chmod(p, perm); err != nil {
		return err
	}
	if meta != nil {
		return t.Lchown(p, meta.UID, meta.GID)
	}
	return nil
}
