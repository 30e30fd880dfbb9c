package vic

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs"
)

// The generated scripts parse as POSIX sh in every shell a VIC image may
// have as /bin/sh: dash, busybox sh, and bash in POSIX mode (bash alone
// for a legacy definition's /bin/init).
func TestBootScriptsParse(t *testing.T) {
	testrepo.NeedTools(t, "dash", "bash", "busybox")
	bootstrap, err := withRuntimeSwitch(BootstrapScript())
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string][]byte{
		"bootstrap":              bootstrap,
		"init-systemd":           initEntry(branchSystemd, "/bin/sh"),
		"init-sysv":              initEntry(branchSysV, "/bin/sh"),
		"init-systemd-legacy":    initEntry(branchSystemd, "/bin/bash"),
		"etc/rc.d/init.d/tether": sysvFiles()[0].Data,
	}
	dir := t.TempDir()
	for name, data := range scripts {
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		shells := [][]string{{"dash", "-n"}, {"busybox", "sh", "-n"}, {"bash", "--posix", "-n"}}
		if strings.HasSuffix(name, "legacy") {
			shells = [][]string{{"bash", "-n"}}
		}
		for _, sh := range shells {
			if out, err := exec.Command(sh[0], append(sh[1:], p)...).CombinedOutput(); err != nil {
				t.Errorf("%s: %s: %v\n%s", name, strings.Join(sh, " "), err, out)
			}
		}
	}
}

// The branches differ where VIC's systemd-init and sysv-init differ.
func TestInitEntryBranches(t *testing.T) {
	sd := string(initEntry(branchSystemd, "/bin/sh"))
	sv := string(initEntry(branchSysV, "/bin/sh"))
	legacy := string(initEntry(branchSystemd, "/bin/bash"))
	for _, c := range []struct {
		what           string
		script, substr string
		want           bool
	}{
		{"systemd shebang", sd, "#!/bin/sh\n", true},
		{"legacy shebang", legacy, "#!/bin/bash\n", true},
		{"systemd brings up lo", sd, "link set lo up", true},
		{"sysv leaves lo down", sv, "link set lo up", false},
		{"sysv makes /dev/fd", sv, "ln -s /proc/self/fd /dev/fd", true},
		{"systemd leaves /dev/fd to udevd", sd, "/dev/fd", false},
		{"both source repoinit", sv, ". /bin/repoinit\n", true},
		{"both source bootstrap", sd, ". /bin/bootstrap\n", true},
		// A tmpfs over systemd's /run would hide its private socket.
		{"run mounted only when absent", sd, "vicroot_mounted /run || mount -t tmpfs tmpfs /run", true},
	} {
		if strings.Contains(c.script, c.substr) != c.want {
			t.Errorf("%s: contains %q = %v", c.what, c.substr, !c.want)
		}
	}
	if !slices.Equal(udevdCandidates(branchSysV)[:1], []string{"/sbin/udevd"}) ||
		!slices.Equal(udevdCandidates(branchSystemd)[:1], []string{"/usr/lib/systemd/systemd-udevd"}) {
		t.Errorf("udevd candidates: %q, %q", udevdCandidates(branchSysV), udevdCandidates(branchSystemd))
	}
	if chooseBranch(true) != branchSystemd || chooseBranch(false) != branchSysV {
		t.Error("chooseBranch")
	}
}

// The SysV files are VIC's: the rc script, the runlevel-1 link to it and
// an inittab whose default runlevel is 1.
func TestSysVFiles(t *testing.T) {
	tree := rootfs.New()
	if err := writeBootFiles(tree, sysvFiles()); err != nil {
		t.Fatal(err)
	}
	if l, err := tree.ReadLink("etc/rc.d/rc1.d/S90tether"); err != nil || l != "/etc/rc.d/init.d/tether" {
		t.Errorf("S90tether -> %q (%v)", l, err)
	}
	fi, err := tree.Stat("etc/rc.d/init.d/tether")
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("init.d/tether: %v %v", fi, err)
	}
	rc, _ := tree.ReadFile("etc/rc.d/init.d/tether")
	if !strings.Contains(string(rc), "/bin/init >/dev/ttyS1 2>&1") {
		t.Errorf("init.d/tether does not start /bin/init on ttyS1:\n%s", rc)
	}
	inittab, _ := tree.ReadFile("etc/inittab")
	var initdefault []string
	for _, l := range strings.Split(string(inittab), "\n") {
		if f := strings.Split(l, ":"); len(f) == 4 && f[2] == "initdefault" {
			initdefault = append(initdefault, f[1])
		}
	}
	if !slices.Equal(initdefault, []string{"1"}) {
		t.Errorf("inittab default runlevels %q:\n%s", initdefault, inittab)
	}
	// Laid down twice (a tree that had them) gives the same files.
	if err := writeBootFiles(tree, sysvFiles()); err != nil {
		t.Fatal(err)
	}
}

// The bootstrap's end lists the modules and filesystems as the kernel has
// them: run under dash on this machine's /proc, checked against a Go
// reading of the same files.
func TestRuntimeSwitchListsModulesAndFilesystems(t *testing.T) {
	testrepo.NeedTools(t, "dash")
	listing := runtimeSwitch[:strings.Index(runtimeSwitch, "echo \"vicroot: switching root")]
	out, err := exec.Command("dash", "-c", listing).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var mods, fss string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "vicroot: modules loaded:"); ok {
			mods = v
		}
		if v, ok := strings.CutPrefix(l, "vicroot: filesystems:"); ok {
			fss = v
		}
	}
	field := func(file string, f func([]string) string) []string {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Skip(err)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if w := strings.Fields(l); len(w) > 0 {
				names = append(names, f(w))
			}
		}
		return names
	}
	wantMods := field("/proc/modules", func(w []string) string { return w[0] })
	wantFS := field("/proc/filesystems", func(w []string) string { return w[len(w)-1] })
	if got := strings.Fields(mods); !slices.Equal(got, wantMods) {
		t.Errorf("modules %q, /proc/modules has %q", got, wantMods)
	}
	if got := strings.Fields(fss); !slices.Equal(got, wantFS) || len(got) == 0 {
		t.Errorf("filesystems %q, /proc/filesystems has %q", got, wantFS)
	}
}

func TestWithRuntimeSwitch(t *testing.T) {
	got, err := withRuntimeSwitch(BootstrapScript())
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	sys := strings.Index(s, "systemctl switch-root \"$root\" /.tether/tether")
	sr := strings.Index(s, "exec switch_root \"$root\" /.tether/tether")
	if sys < 0 || sr < 0 || sys > sr || strings.Count(s, "exec switch_root") != 1 {
		t.Errorf("the switch is not systemctl first, then switch_root:\n%s", s[strings.Index(s, switchMarker):])
	}
	if _, err := withRuntimeSwitch([]byte("#!/bin/sh\nexec switch_root /mnt /sbin/init\n")); err == nil {
		t.Error("a bootstrap without the switch line was accepted")
	}
}

func TestInitBootArgs(t *testing.T) {
	if got := initBootArgs(false, []string{"panic=-1"}); !slices.Equal(got, []string{"panic=-1"}) {
		t.Errorf("not systemd: %q", got)
	}
	if got := initBootArgs(true, []string{"panic=-1"}); !slices.Equal(got, []string{"rd.systemd.unit=vic.target", "panic=-1"}) {
		t.Errorf("systemd: %q", got)
	}
	if got := initBootArgs(true, []string{"rd.systemd.unit=rescue.target"}); !slices.Equal(got, []string{"rd.systemd.unit=rescue.target"}) {
		t.Errorf("the user's unit: %q", got)
	}
}

// checkInit over a real tree laid out as Photon's: bin, sbin and lib are
// links into usr.
func TestCheckInit(t *testing.T) {
	mk := func(files map[string]os.FileMode, links map[string]string) *rootfs.Tree {
		tr := rootfs.New()
		for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib/systemd", "etc"} {
			if err := tr.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for l, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib"} {
			if err := tr.Symlink(target, l); err != nil {
				t.Fatal(err)
			}
		}
		for p, m := range files {
			if err := tr.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tr.WriteFile(p, []byte("x"), m); err != nil {
				t.Fatal(err)
			}
		}
		for p, target := range links {
			if err := tr.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}
		return tr
	}
	systemd := map[string]os.FileMode{"usr/lib/systemd/systemd": 0o755, "usr/bin/systemctl": 0o755, "etc/systemd/system/vic.target": 0o644}
	noSystemctl := map[string]os.FileMode{"usr/lib/systemd/systemd": 0o755, "etc/systemd/system/vic.target": 0o644}
	for _, c := range []struct {
		name     string
		init     string
		files    map[string]os.FileMode
		links    map[string]string
		branch   initBranch
		wantPID1 bool
		wantErr  string // "" for success; else a substring of the error
	}{
		{"bin/init", "/bin/init", map[string]os.FileMode{"usr/bin/init": 0o755}, nil, branchSysV, false, ""},
		{"systemd", "/lib/systemd/systemd", systemd, nil, branchSystemd, true, ""},
		{"sbin/init is systemd", "/sbin/init", systemd, map[string]string{"usr/sbin/init": "../lib/systemd/systemd"}, branchSystemd, true, ""},
		{"missing init", "/sbin/init", systemd, nil, branchSystemd, false, "/sbin/init, which the image does not have"},
		{"dangling init", "/sbin/init", systemd, map[string]string{"usr/sbin/init": "../lib/systemd/nothing"}, branchSystemd, false, "/sbin/init, which the image does not have"},
		{"not executable", "/bin/init", map[string]os.FileMode{"usr/bin/init": 0o644}, nil, branchSystemd, false, "/bin/init (/bin/init in the image), which is not an executable file"},
		// The name the kernel reaches: usr/sbin/init's ../lib is /usr/lib.
		{"symlinked init not executable", "/sbin/init", map[string]os.FileMode{"usr/lib/systemd/systemd": 0o644}, map[string]string{"usr/sbin/init": "../lib/systemd/systemd"}, branchSystemd, false, "/sbin/init (/usr/lib/systemd/systemd in the image), which is not an executable file"},
		{"a directory", "/bin/init", map[string]os.FileMode{"usr/bin/init/x": 0o755}, nil, branchSystemd, false, "not an executable file"},
		{"systemd without systemctl", "/lib/systemd/systemd", noSystemctl, nil, branchSystemd, true, "no executable /usr/bin/systemctl"},
		{"systemctl not executable", "/lib/systemd/systemd", map[string]os.FileMode{"usr/lib/systemd/systemd": 0o755, "usr/bin/systemctl": 0o644}, nil, branchSystemd, true, "no executable /usr/bin/systemctl"},
		{"systemd on a SysV image", "/lib/systemd/systemd", systemd, nil, branchSysV, true, "no /etc/systemd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := mk(c.files, c.links)
			pid1, err := checkInit(c.init, c.branch, treeLookup(tr))
			if pid1 != c.wantPID1 {
				t.Errorf("systemd PID 1 = %v", pid1)
			}
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInit) || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), c.init) {
				t.Fatalf("err = %v, want ErrInit naming %s with %q", err, c.init, c.wantErr)
			}
		})
	}
}
