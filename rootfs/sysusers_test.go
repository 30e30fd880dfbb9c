package rootfs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/hook"
)

// sysusers.d files in the shape Photon's systemd and dbus ship, plus an
// /etc override of a file by name.
const sysusersSetup = `mkdir -p rootfs/etc/sysusers.d rootfs/usr/lib/sysusers.d
printf 'root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/dev/null:/bin/false\n' > rootfs/etc/passwd
printf 'root:x:0:\nbin:x:1:\n' > rootfs/etc/group
printf 'root:x:1::::::\n' > rootfs/etc/shadow
printf 'root:::\n' > rootfs/etc/gshadow
cat > rootfs/usr/lib/sysusers.d/systemd.conf <<'EOF'
# comment
g systemd-journal - -
u systemd-network - "systemd Network Management"
u systemd-resolve 193 "systemd Resolver" /run/systemd/resolve
g wheel 10
m systemd-network wheel
u dbus 81:dbus "System message bus" /var/run/dbus /sbin/nologin
g dbus 81
u svc 500:systemd-journal "Svc" - /bin/false
u bin - "already there"
u clash 998 "wants a taken id"
EOF
printf 'u over - "overridden"\n' > rootfs/usr/lib/sysusers.d/zz.conf
printf 'u over2 - "etc wins"\n' > rootfs/etc/sysusers.d/zz.conf
`

// TestSysusersMatchesSystemd compares ApplySysusers with systemd-sysusers
// --root on the same files.
func TestSysusersMatchesSystemd(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "systemd-sysusers", "bash")
	pkg := t.TempDir()
	cmd := exec.Command("bash", "-e", "-c", sysusersSetup)
	cmd.Dir = pkg
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := filepath.Join(pkg, "rootfs")
	c := exec.Command("systemd-sysusers", "--root", root)
	c.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	tr := newRoot()
	tr.SetDefaultTime(time.Unix(sourceDateEpoch, 0))
	must(t, tr.RunHook(context.Background(), "setup", []byte(sysusersSetup), hook.Env{}))
	created, err := tr.ApplySysusers()
	must(t, err)
	t.Logf("created: %q", created)
	for _, f := range accountFiles {
		w, werr := os.ReadFile(filepath.Join(root, "etc", f))
		g, gerr := tr.ReadFile("etc/" + f)
		if (werr == nil) != (gerr == nil) || string(w) != string(g) {
			t.Errorf("etc/%s differs:\nsystemd-sysusers (%v):\n%s\ntree (%v):\n%s", f, werr, w, gerr, g)
		}
	}
}
