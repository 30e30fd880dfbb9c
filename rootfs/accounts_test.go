package rootfs_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/hook"
)

const sourceDateEpoch = 1700000000

// accountFiles are compared with the real tools' output, with the backups
// shadow-utils leaves.
var accountFiles = []string{"passwd", "group", "shadow", "gshadow", "passwd-", "group-", "shadow-", "gshadow-"}

type acctSetup struct {
	name  string
	files map[string]string // under etc/
}

var acctSetups = []acctSetup{
	{"no login.defs", map[string]string{
		"passwd":  "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/dev/null:/bin/false\nmessagebus:x:18:18::/run/dbus:/bin/false\nb:x:500:1::/:/bin/sh\nnobody:x:65534:65533::/:/bin/false\n",
		"group":   "root:x:0:\nbin:x:1:\nmessagebus:x:18:\nusers:x:100:\nnogroup:x:65533:\n",
		"shadow":  "root:x:18000::::::\n",
		"gshadow": "root:::\n",
	}},
	{"photon-like login.defs", map[string]string{
		"passwd":     "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/dev/null:/bin/false\n",
		"group":      "root:x:0:\nbin:x:1:\nusers:x:100:\n",
		"shadow":     "root:x:18000:0:99999:7:::\n",
		"gshadow":    "root:::\n",
		"login.defs": "# test\nMAIL_DIR /var/mail\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 7\nUID_MIN 1000\nUID_MAX 60000\nSYS_UID_MIN 101\nGID_MIN 1000\nSYS_GID_MIN 101\nCREATE_HOME yes\nUMASK 077\nUSERGROUPS_ENAB yes\n",
	}},
	{"no shadow files", map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/bash\n",
		"group":  "root:x:0:\n",
	}},
}

// The commands: what Photon's scriptlets and VIC's appliance.sh run, plus
// failures the tools report with an exit status.
var acctCommands = [][]string{
	{"groupadd", "-r", "systemd-journal"},
	{"groupadd", "-r", "tss"},
	{"useradd", "-r", "-g", "tss", "-d", "/dev/null", "-s", "/sbin/nologin", "-c", "TPM user", "tss"},
	{"useradd", "-r", "-U", "-d", "/run/systemd", "-s", "/bin/false", "systemd-network"},
	{"useradd", "-r", "-N", "-M", "sysn"},
	{"useradd", "-r", "sshd"},
	{"groupadd", "-g", "1000", "vicadmin"},
	{"useradd", "-u", "1000", "-g", "1000", "-G", "systemd-journal", "-M", "-d", "/home/vicadmin", "-s", "/bin/false", "vicadmin"},
	{"groupadd", "-g", "1001", "vic"},
	{"usermod", "-a", "-G", "vic", "vicadmin"},
	{"usermod", "-a", "-G", "tss,vic", "sshd"},
	{"useradd", "-M", "alice"},
	{"useradd", "-m", "bob"},
	{"groupadd", "vic"},               // exists: 9
	{"groupadd", "-f", "vic"},         // exists, forced: 0
	{"groupadd", "-g", "1000", "dup"}, // gid taken: 4
	{"useradd", "alice"},              // exists: 9
	{"useradd", "-g", "nosuch", "carol"},
	{"usermod", "-G", "tss", "sshd"}, // replace supplementary groups
	{"groupadd", "--system", "--gid", "250", "fixed"},
}

func writeSetup(t *testing.T, dir string, s acctSetup) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	for name, content := range s.files {
		mode := os.FileMode(0o644)
		if strings.Contains(name, "shadow") {
			mode = 0o640
		}
		must(t, os.WriteFile(filepath.Join(dir, "etc", name), []byte(content), mode))
		must(t, os.Chmod(filepath.Join(dir, "etc", name), mode))
	}
}

// TestAccountsMatchShadowUtils applies the same commands with Debian's
// real groupadd/useradd/usermod --prefix DIR and with the tree, and
// compares exit statuses, the account files and the backups.
func TestAccountsMatchShadowUtils(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "useradd", "groupadd", "usermod")
	for _, s := range acctSetups {
		t.Run(s.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSetup(t, dir, s)
			tr := newRoot()
			tr.SetDefaultTime(time.Unix(sourceDateEpoch, 0))
			must(t, tr.RunHook(context.Background(), "setup", []byte("mkdir -p rootfs/etc"), hook.Env{}))
			for name, content := range s.files {
				mode := os.FileMode(0o644)
				if strings.Contains(name, "shadow") {
					mode = 0o640
				}
				must(t, tr.WriteFile("etc/"+name, []byte(content), mode))
			}
			for _, c := range acctCommands {
				cmd := exec.Command(c[0], append([]string{"--prefix", dir}, c[1:]...)...)
				cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
				out, err := cmd.CombinedOutput()
				want := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					want = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				var got int
				switch c[0] {
				case "groupadd":
					got, err = tr.Groupadd(c[1:]...)
				case "useradd":
					got, err = tr.Useradd(c[1:]...)
				case "usermod":
					got, err = tr.Usermod(c[1:]...)
				}
				if got != want {
					t.Errorf("%s: exit status %d, real tool %d (%s; ours: %v)", strings.Join(c, " "), got, want, strings.TrimSpace(string(out)), err)
				}
			}
			for _, f := range accountFiles {
				w, werr := os.ReadFile(filepath.Join(dir, "etc", f))
				g, gerr := tr.ReadFile("etc/" + f)
				if (werr == nil) != (gerr == nil) {
					t.Errorf("etc/%s: real tool: %v, tree: %v", f, werr, gerr)
					continue
				}
				if string(w) != string(g) {
					t.Errorf("etc/%s differs:\nshadow-utils:\n%s\ntree:\n%s", f, w, g)
				}
			}
			// Home directories: existence, mode and owner. Their content is
			// not compared: useradd --prefix copies the HOST's /etc/skel,
			// while the tree copies its own, as useradd inside the image would.
			want := diskSnapshot(t, dir)
			got := treeSnapshot(t, tr)
			for p, w := range want {
				if !strings.HasPrefix(p, "home") || strings.Count(p, "/") > 1 {
					continue
				}
				if g, ok := got[p]; !ok || g != w {
					t.Errorf("%s: shadow-utils %v, tree %v", p, w, g)
				}
			}
			for p := range got {
				if strings.HasPrefix(p, "home") && strings.Count(p, "/") <= 1 {
					if _, ok := want[p]; !ok {
						t.Errorf("%s created by the tree only", p)
					}
				}
			}
		})
	}
}
