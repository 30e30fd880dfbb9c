package sysconf_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// Real inputs: testdata/seed holds sysusers.d, unit and preset files as
// Debian 12's systemd, dbus and openssh ship them; the account files and
// commands are those Photon's scriptlets and VIC's appliance.sh run.

func seed(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

const (
	seedPasswd  = "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/dev/null:/bin/false\nmessagebus:x:18:18::/run/dbus:/bin/false\nnobody:x:65534:65533::/:/bin/false\n"
	seedGroup   = "root:x:0:\nbin:x:1:\nmessagebus:x:18:\nusers:x:100:\nnogroup:x:65533:\n"
	seedShadow  = "root:x:18000:0:99999:7:::\n"
	seedGshadow = "root:::\n"
	seedDefs    = "MAIL_DIR /var/mail\nPASS_MAX_DAYS 99999\nUID_MIN 1000\nUID_MAX 60000\nSYS_UID_MIN 101\nGID_MIN 1000\nSYS_GID_MIN 101\nCREATE_HOME yes\nUMASK 077\nUSERGROUPS_ENAB yes\n"
)

// accountTree is a tree holding the four account files and login.defs.
func accountTree(tb testing.TB, passwd, group, shadow, gshadow, defs string) *rootfs.Tree {
	tb.Helper()
	t := rootfs.New()
	if err := t.MkdirAll("etc", 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, data := range map[string]string{"passwd": passwd, "group": group, "shadow": shadow, "gshadow": gshadow, "login.defs": defs} {
		if err := t.WriteFile("etc/"+name, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return t
}

// FuzzAccounts runs groupadd, useradd and usermod (arguments separated by
// NUL bytes, the first naming the command) on fuzzed account files: they
// must never panic, and the account files they leave have one record per
// line.
func FuzzAccounts(f *testing.F) {
	for _, cmd := range [][]string{
		{"groupadd", "-r", "systemd-journal"},
		{"useradd", "-r", "-g", "tss", "-d", "/dev/null", "-s", "/sbin/nologin", "-c", "TPM user", "tss"},
		{"useradd", "-r", "-U", "-d", "/run/systemd", "-s", "/bin/false", "systemd-network"},
		{"useradd", "-r", "-N", "-M", "sysn"},
		{"groupadd", "-g", "1000", "vicadmin"},
		{"useradd", "-u", "1000", "-g", "1000", "-G", "systemd-journal", "-M", "-d", "/home/vicadmin", "-s", "/bin/false", "vicadmin"},
		{"usermod", "-a", "-G", "vic", "vicadmin"},
		{"useradd", "--system", "--home-dir=/var/lib/x", "--shell", "/bin/false", "x"},
		{"useradd", "-D"},
	} {
		f.Add(seedPasswd, seedGroup, seedShadow, seedGshadow, seedDefs, strings.Join(cmd, "\x00"))
	}
	f.Add("root:x:0:0", "root", "", "", "UID_MIN x\nSYS_UID_MAX -5", "useradd\x00-u\x0099999999999999999999\x00a")
	f.Fuzz(func(t *testing.T, passwd, group, shadow, gshadow, defs, cmdline string) {
		tr := accountTree(t, passwd, group, shadow, gshadow, defs)
		args := strings.Split(cmdline, "\x00")
		sys := sysconf.New(tr)
		if _, err := sys.Command(args[0], args[1:]); err != nil {
			return
		}
		sys.Query("getent", []string{"passwd", "root"})
		sys.Query("id", []string{"-u", "root"})
	})
}

// FuzzSysusers applies a fuzzed sysusers.d file: no panic, and every error
// names the file.
func FuzzSysusers(f *testing.F) {
	for _, s := range []string{"basic.conf", "systemd-journal.conf", "dbus.conf"} {
		f.Add(seed(f, s), seedPasswd, seedGroup)
	}
	f.Add("u dbus 81:dbus \"System message bus\" /var/run/dbus /sbin/nologin\ng dbus 81\nm systemd-network wheel\nu svc 500:systemd-journal \"Svc\" - /bin/false\n", seedPasswd, seedGroup)
	f.Add("u \"unterminated\n", "", "")
	const conf = "usr/lib/sysusers.d/fuzz.conf"
	f.Fuzz(func(t *testing.T, data, passwd, group string) {
		tr := accountTree(t, passwd, group, seedShadow, seedGshadow, seedDefs)
		if err := tr.MkdirAll("usr/lib/sysusers.d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := tr.WriteFile(conf, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := sysconf.New(tr).ApplySysusers(); err != nil && !strings.Contains(err.Error(), conf) {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// FuzzSystemdUnits parses a fuzzed unit file and preset file through
// preset-all and enable: no panic, every error names a file or unit, and
// every link made stays in /etc/systemd/system.
func FuzzSystemdUnits(f *testing.F) {
	preset := seed(f, "90-systemd.preset")
	for _, s := range []string{"getty@.service", "systemd-networkd.service", "ssh.socket"} {
		f.Add(seed(f, s), preset, s == "getty@.service")
	}
	f.Add("[Service]\nExecStart=/bin/t %i\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=x\nAlias=bee.service\nAlso=c.service\n", "disable d.service\nenable *.service\ndisable *\n", true)
	f.Add("[Install]\nWantedBy=../../../../etc\nAlias=../../passwd\n", "enable [\n", false)
	f.Fuzz(func(t *testing.T, data, presets string, template bool) {
		unit := "fuzz.service"
		if template {
			unit = "fuzz@.service"
		}
		tr := rootfs.New()
		for _, d := range []string{"usr/lib/systemd/system", "usr/lib/systemd/system-preset", "etc/systemd/system"} {
			if err := tr.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.WriteFile("usr/lib/systemd/system/"+unit, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := tr.WriteFile("usr/lib/systemd/system-preset/90-fuzz.preset", []byte(presets), 0o644); err != nil {
			t.Fatal(err)
		}
		sys := sysconf.New(tr)
		if _, err := sys.PresetAll(); err != nil && !strings.Contains(err.Error(), unit) {
			t.Fatalf("preset-all: error does not name the unit: %v", err)
		}
		if err := sys.Enable(unit); err != nil && !strings.Contains(err.Error(), unit) {
			t.Fatalf("enable: error does not name the unit: %v", err)
		}
		err := fs.WalkDir(tr, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 && !strings.HasPrefix(p, "etc/systemd/system/") {
				t.Errorf("link %s outside etc/systemd/system", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestInstallSectionMatchesSystemctl enables units with malformed or
// unusual [Install] values on the tree and with Debian's systemctl --root:
// where systemctl refuses, the tree's error names the file and line (or
// the unit); where it goes on, the same links are made.
func TestInstallSectionMatchesSystemctl(t *testing.T) {
	testrepo.NeedTools(t, "systemctl")
	for _, c := range []struct{ unit, body, want string }{
		{"x.service", "[Install]\nWantedBy=../x.target\n", "usr/lib/systemd/system/x.service line 2: WantedBy=../x.target: not a unit name"},
		{"x.service", "[Unit]\n[Install]\nAlias=sub/x.service\n", "usr/lib/systemd/system/x.service line 3: Alias=sub/x.service: not a unit name"},
		{"x.service", "[Install]\nAlso=nosuffix\n", "usr/lib/systemd/system/x.service line 2: Also=nosuffix: not a unit name"},
		{"x@.service", "[Install]\nWantedBy=a.target\nDefaultInstance=a/b\n", "usr/lib/systemd/system/x@.service line 3: DefaultInstance=a/b: not an instance name"},
		{"x.service", "[Install]\nWantedBy=a.target\nDefaultInstance=a/b\n", ""},
		{"x.service", "[Install]\nWantedBy=a.target\nAlso=missing.service\n", ""},
		{"../x.service", "", `"../x.service" is not a unit name`},
	} {
		dir := t.TempDir()
		tr := rootfs.New()
		for _, d := range []string{"usr/lib/systemd/system", "etc/systemd/system"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tr.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if !strings.Contains(c.unit, "/") {
			if err := os.WriteFile(filepath.Join(dir, "usr/lib/systemd/system", c.unit), []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tr.WriteFile("usr/lib/systemd/system/"+c.unit, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, serr := exec.Command("systemctl", "--root="+dir, "enable", c.unit).CombinedOutput()
		err := sysconf.New(tr).Enable(c.unit)
		switch {
		case (serr != nil) != (err != nil):
			t.Errorf("%s %q: tree: %v; systemctl: %v\n%s", c.unit, c.body, err, serr, out)
		case err != nil && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s %q: error %q, want it to say %q", c.unit, c.body, err, c.want)
		case err == nil:
			var want, got []string
			filepath.WalkDir(filepath.Join(dir, "etc"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type()&fs.ModeSymlink != 0 {
					want = append(want, strings.TrimPrefix(p, dir+"/"))
				}
				return err
			})
			fs.WalkDir(tr, "etc", func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type()&fs.ModeSymlink != 0 {
					got = append(got, p)
				}
				return err
			})
			if strings.Join(want, " ") != strings.Join(got, " ") {
				t.Errorf("%s %q: links %q, systemctl made %q", c.unit, c.body, got, want)
			}
		}
	}
}
