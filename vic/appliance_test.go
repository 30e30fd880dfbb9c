package vic_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/sysconf"
	"github.com/vicroot/vicroot/vic"
)

// sysTree is a tree with sysconf's accounts and systemctl verbs, as the
// pipeline passes it.
type sysTree struct {
	*rootfs.Tree
	*sysconf.System
}

// applianceTree is a small tree with what VIC's appliance steps edit.
func applianceTree(t *testing.T, files map[string]string) sysTree {
	t.Helper()
	tr := rootfs.New()
	for p, data := range files {
		if err := tr.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := tr.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sysTree{tr, sysconf.New(tr)}
}

func applianceFiles() map[string]string {
	return map[string]string{
		"etc/passwd":                           "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/dev/null:/bin/false\nx:x:2:2::/:/bin/bash/not\n",
		"etc/group":                            "root:x:0:\nsystemd-journal:x:190:\n",
		"etc/shadow":                           "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n",
		"etc/gshadow":                          "root:*::\nsystemd-journal:!::\n",
		"etc/sudoers":                          "root ALL=(ALL) ALL\n",
		"etc/ssh/sshd_config":                  "#Port 22\n#PermitRootLogin prohibit-password\n##PermitRootLogin\tno # again\nX PermitRootLogin no\n",
		"usr/lib/systemd/system/sshd@.service": "[Service]\n",
		"usr/lib/systemd/system/multi-user.target": "[Unit]\n",
		"etc/initrd-release":                       "",
	}
}

func applianceInput(daemons ...string) vic.ApplianceInput {
	in := vic.ApplianceInput{
		Definition: &repos.Definition{Name: "t", Releasever: "2.0", Spec: &repos.Spec{PackageManager: "tdnf"}},
		Daemons:    map[string][]byte{},
		Home:       fstest.MapFS{"index.html": {Data: []byte("x"), Mode: 0o644}},
	}
	for _, d := range daemons {
		in.Daemons[d] = []byte("#!/bin/true\n")
	}
	return in
}

func allDaemons() []string {
	var n []string
	for _, d := range vic.ApplianceDaemons {
		n = append(n, d.Name)
	}
	return n
}

// The edits VIC makes with sed are what GNU sed makes of the same files.
func TestApplianceSedAsGNUSed(t *testing.T) {
	testrepo.NeedTools(t, "sed")
	files := applianceFiles()
	tr := applianceTree(t, files)
	if _, err := vic.ApplianceLayout(context.Background(), tr, applianceInput(allDaemons()...)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct{ file, expr string }{
		{"etc/ssh/sshd_config", `s/\#*PermitRootLogin\s.*/PermitRootLogin yes/`},
		{"etc/shadow", `s/^root:[^:]*:/root:` + strings.ReplaceAll(vic.RootPasswordHash, "/", `\/`) + `:/`},
	} {
		f := filepath.Join(dir, filepath.Base(c.file))
		if err := os.WriteFile(f, []byte(files[c.file]), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sed", "-i", "-e", c.expr, f).CombinedOutput(); err != nil {
			t.Fatalf("sed: %v\n%s", err, out)
		}
		want, _ := os.ReadFile(f)
		got, err := tr.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		// useradd appends vicadmin afterwards: the lines sed saw.
		got = got[:min(len(got), len(want))]
		if string(got) != string(want) {
			t.Errorf("%s:\nours\n%s\nGNU sed\n%s", c.file, got, want)
		}
	}
	// passwd: sed, then the accounts VIC adds (compared in the pipeline
	// test against shadow-utils); here only the shells.
	pw, _ := tr.ReadFile("etc/passwd")
	if !strings.HasPrefix(string(pw), "root:x:0:0:root:/root:/bin/false\n") || !strings.Contains(string(pw), ":/bin/bash/not\n") {
		t.Errorf("etc/passwd:\n%s", pw)
	}
	if _, err := tr.Lstat("etc/initrd-release"); err == nil {
		t.Errorf("etc/initrd-release is still there")
	}
}

// Missing inputs are errors that name them.
func TestApplianceLayoutErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(map[string]string, *vic.ApplianceInput)
		wants string
	}{
		{"no sshd@.service", func(f map[string]string, in *vic.ApplianceInput) { delete(f, "usr/lib/systemd/system/sshd@.service") }, "sshd@.service"},
		{"no vic-init", func(f map[string]string, in *vic.ApplianceInput) { delete(in.Daemons, "vic-init") }, "vic-init"},
		{"no unpack", func(f map[string]string, in *vic.ApplianceInput) { delete(in.Daemons, "unpack") }, "unpack"},
		{"no home", func(f map[string]string, in *vic.ApplianceInput) { in.Home = nil }, "vicadmin-home"},
		{"no sshd_config", func(f map[string]string, in *vic.ApplianceInput) { delete(f, "etc/ssh/sshd_config") }, "sshd_config"},
		{"no systemd-journal group", func(f map[string]string, in *vic.ApplianceInput) {
			f["etc/group"] = "root:x:0:\n"
		}, "systemd-journal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := applianceFiles()
			in := applianceInput(allDaemons()...)
			c.edit(files, &in)
			_, err := vic.ApplianceLayout(context.Background(), applianceTree(t, files), in)
			if err == nil || !strings.Contains(err.Error(), c.wants) {
				t.Errorf("error %v, want one naming %s", err, c.wants)
			}
		})
	}
}

// Whatever the account files and sshd_config hold, the layout returns an
// error or a tree, never panics.
func FuzzApplianceLayout(f *testing.F) {
	base := applianceFiles()
	f.Add(base["etc/passwd"], base["etc/group"], base["etc/shadow"], base["etc/ssh/sshd_config"])
	f.Add("root:x:0:0::/:/bin/bash", "systemd-journal:x:notanumber:", "root", "PermitRootLogin")
	f.Add("", "vic:x:1001:\nsystemd-journal:x:190:", ":::", "#PermitRootLogin\t")
	f.Fuzz(func(t *testing.T, passwd, group, shadow, sshd string) {
		files := applianceFiles()
		files["etc/passwd"], files["etc/group"], files["etc/shadow"], files["etc/ssh/sshd_config"] = passwd, group, shadow, sshd
		_, _ = vic.ApplianceLayout(context.Background(), applianceTree(t, files), applianceInput(allDaemons()...))
	})
}
