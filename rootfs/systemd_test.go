package rootfs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/hook"
)

// Unit files and presets in the shape Photon's systemd ships them.
const unitSetup = `mkdir -p rootfs/usr/lib/systemd/system rootfs/usr/lib/systemd/system-preset rootfs/etc/systemd/system-preset rootfs/etc/systemd/system
ln -s usr/lib rootfs/lib
U=rootfs/usr/lib/systemd/system
printf '[Unit]\nDescription=a\n[Service]\nExecStart=/bin/a\n[Install]\nWantedBy=multi-user.target\n' > $U/a.service
printf '[Service]\nExecStart=/bin/b\n[Install]\nWantedBy=multi-user.target\nAlias=bee.service\n' > $U/b.service
printf '[Socket]\nListenStream=/run/c\n[Install]\nWantedBy=sockets.target\nAlso=c.service\n' > $U/c.socket
printf '[Service]\nExecStart=/bin/c\n[Install]\nWantedBy=multi-user.target\n' > $U/c.service
printf '[Service]\nExecStart=/bin/d\n[Install]\nWantedBy=multi-user.target\n' > $U/d.service
printf '[Service]\nExecStart=/bin/t %%i\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=x\n' > $U/t@.service
printf '[Service]\nExecStart=/bin/static\n' > $U/static.service
printf '[Service]\nExecStart=/bin/net\n[Install]\nRequiredBy=network.target\n' > $U/net.service
printf '[Unit]\nDescription=Multi-User\n' > $U/multi-user.target
printf '[Unit]\nDescription=VIC\n[Install]\nAlias=vic-alias.target\n' > $U/vic.target
printf 'disable d.service\nenable *.service\ndisable *\n' > rootfs/usr/lib/systemd/system-preset/90-default.preset
printf 'enable d.service\n' > rootfs/usr/lib/systemd/system-preset/50-over.preset
printf 'disable b.service\n' > rootfs/etc/systemd/system-preset/50-over.preset
`

// TestSystemdMatchesSystemctl compares preset-all, set-default and
// disable on the tree with Debian's systemctl --root on the same files.
func TestSystemdMatchesSystemctl(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "systemctl", "bash")
	pkg := t.TempDir()
	cmd := exec.Command("bash", "-e", "-c", unitSetup)
	cmd.Dir = pkg
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := filepath.Join(pkg, "rootfs")
	for _, args := range [][]string{
		{"preset-all"},
		{"set-default", "multi-user.target"},
		{"disable", "a.service"},
	} {
		c := exec.Command("systemctl", append([]string{"--root=" + root, "--quiet"}, args...)...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("systemctl %v: %v\n%s", args, err, out)
		}
	}
	os.Remove(filepath.Join(root, "etc/machine-id"))

	tr := newRoot()
	must(t, tr.RunHook(context.Background(), "setup", []byte(unitSetup), hook.Env{}))
	enabled, err := tr.PresetAll()
	must(t, err)
	must(t, tr.SetDefault("multi-user.target"))
	must(t, tr.Disable("a.service"))
	t.Logf("enabled by presets: %s", strings.Join(enabled, " "))
	reportDiffs(t, diffSnapshots(diskSnapshot(t, root), treeSnapshot(t, tr), nil))
}

func TestEmptyMachineIDAndCleanCaches(t *testing.T) {
	tr := newRoot()
	must(t, tr.MkdirAll("var/cache/tdnf/photon/rpms", 0o755))
	must(t, tr.WriteFile("var/cache/tdnf/photon/rpms/x.rpm", []byte("x"), 0o644))
	must(t, tr.MkdirAll("var/cache/yum/x", 0o755))
	must(t, tr.EmptyMachineID())
	must(t, tr.CleanCaches())
	for _, d := range []string{"var/cache/tdnf", "var/cache/yum"} {
		ents, err := tr.ReadDir(d)
		if err != nil || len(ents) != 0 {
			t.Errorf("%s after CleanCaches: %v %v", d, ents, err)
		}
	}
	fi, err := tr.Stat("etc/machine-id")
	if err != nil || fi.Size() != 0 || fi.Mode().Perm() != 0o444 {
		t.Errorf("etc/machine-id: %v %v", fi, err)
	}
}
