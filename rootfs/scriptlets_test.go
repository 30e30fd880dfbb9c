package rootfs_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
)

// A %pre in the style of Photon's systemd, dbus and openssh packages.
const preScript = `getent group svc >/dev/null || groupadd -r svc
getent passwd svc >/dev/null || useradd -r -g svc -d /var/lib/svc -s /sbin/nologin -c "svc daemon" svc
if ! getent group svcadm >/dev/null; then
    groupadd -r svcadm
fi
getent group root >/dev/null || groupadd -r shouldnotexist
id -u svc >/dev/null 2>&1 && usermod -a -G svcadm svc
exit 0
`

const postScript = `/sbin/ldconfig
systemctl preset svc.service >/dev/null 2>&1 || :
some-unknown-tool --flag
`

// TestScriptletAccountsMatchBash installs a package whose %pre creates
// accounts behind getent guards. The oracle runs the same %pre with real
// bash, real shadow-utils (--prefix) and getent answered from the prefix's
// files; the account files must match. The package's file owned by the
// new user must get its uid, as rpm runs %pre before unpacking.
func TestScriptletAccountsMatchBash(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "bash", "useradd", "groupadd", "usermod", "rpmbuild")
	pk := testPackages(t)
	dir := filepath.Dir(pk["base"])
	svc := specPackage(t, dir, "svc", "w9.gzdio", `
mkdir -p %{buildroot}/var/lib/svc
printf 'state\n' > %{buildroot}/var/lib/svc/state
`, `%attr(0750,svc,svc) %dir /var/lib/svc
%attr(0640,svc,svcadm) /var/lib/svc/state

%pre
`+preScript+`
%post
`+postScript+`
%preun
userdel svc
%triggerin -- base
groupadd -r trig
`)

	tr := newRoot()
	tr.SetDefaultTime(time.Unix(sourceDateEpoch, 0))
	_, err := tr.Install(context.Background(), []rpminstall.RPMFile{{Path: pk["base"]}, {Path: svc}}, rpminstall.InstallOptions{Scriptlets: true})
	must(t, err)

	prefix := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(prefix, "etc"), 0o755))
	// The oracle starts from base's files, as installed (before %pre).
	base := newRoot()
	_, err = base.Install(context.Background(), []rpminstall.RPMFile{{Path: pk["base"]}}, rpminstall.InstallOptions{})
	must(t, err)
	for _, f := range []string{"passwd", "group"} {
		data, err := base.ReadFile("etc/" + f)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(prefix, "etc", f), data, 0o644))
	}
	wrap := `P=` + prefix + `
groupadd() { command groupadd --prefix "$P" "$@"; }
useradd() { command useradd --prefix "$P" "$@"; }
usermod() { command usermod --prefix "$P" "$@"; }
getent() { grep -q "^$2:" "$P/etc/$1"; }
id() { grep -q "^$2:" "$P/etc/passwd"; }
`
	cmd := exec.Command("bash", "-c", wrap+preScript)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oracle %%pre: %v\n%s", err, out)
	}
	for _, f := range []string{"passwd", "group", "passwd-", "group-"} {
		w, werr := os.ReadFile(filepath.Join(prefix, "etc", f))
		g, gerr := tr.ReadFile("etc/" + f)
		if werr != nil || gerr != nil || string(w) != string(g) {
			t.Errorf("etc/%s: bash+shadow-utils (%v):\n%s\ntree (%v):\n%s", f, werr, w, gerr, g)
		}
	}
	if strings.Contains(mustRead(t, tr, "etc/group"), "shouldnotexist") {
		t.Error("a guarded groupadd ran although its getent guard succeeded")
	}

	// Owners: svc's uid and svcadm's gid from the tree's new entries.
	fi, err := tr.Lstat("var/lib/svc/state")
	must(t, err)
	m := fsmeta.Of(fi)
	uid, gid := idOf(t, mustRead(t, tr, "etc/passwd"), "svc"), idOf(t, mustRead(t, tr, "etc/group"), "svcadm")
	if m.UID != uid || m.GID != gid || m.Package != "svc-1-1.noarch" {
		t.Errorf("var/lib/svc/state owner %d:%d package %q, want %d:%d svc-1-1.noarch", m.UID, m.GID, m.Package, uid, gid)
	}

	// The report: %pre emulated by accounts; %post not (unknown command),
	// naming the command; plain data that encodes as JSON.
	rep := tr.Report()
	b, err := json.Marshal(rep)
	must(t, err)
	var back rpminstall.Report
	must(t, json.Unmarshal(b, &back))
	var pre, post, preun, trig *rpminstall.ScriptletReport
	for i := range back.Packages {
		if back.Packages[i].NEVRA != "svc-1-1.noarch" {
			continue
		}
		for j := range back.Packages[i].Scriptlets {
			s := &back.Packages[i].Scriptlets[j]
			switch s.Kind {
			case "pre":
				pre = s
			case "post":
				post = s
			case "preun":
				preun = s
			case "trigger":
				trig = s
			}
		}
	}
	if pre == nil || !pre.Emulated || strings.Join(pre.By, ",") != "accounts" {
		t.Errorf("%%pre report = %+v, want emulated by accounts", pre)
	}
	if post == nil || post.Emulated || !strings.Contains(post.Note, "some-unknown-tool") {
		t.Errorf("%%post report = %+v, want not emulated, naming some-unknown-tool", post)
	}
	if d := back.Deferred(); strings.Join(d, ",") != "" {
		// %post is not emulated (unknown command), so nothing is deferred.
		t.Errorf("Deferred() = %q, want none", d)
	}
	if preun == nil || preun.Emulated || !strings.Contains(preun.Note, "erased") {
		t.Errorf("%%preun report = %+v, want not run on install", preun)
	}
	if trig == nil || trig.Emulated || !strings.Contains(trig.Note, "groupadd in a trigger") {
		t.Errorf("trigger report = %+v, want not emulated, naming its groupadd", trig)
	}
	if strings.Contains(mustRead(t, tr, "etc/group"), "trig:") {
		t.Error("a trigger's groupadd was applied")
	}
}

func mustRead(t *testing.T, tr *root, name string) string {
	t.Helper()
	b, err := tr.ReadFile(name)
	must(t, err)
	return string(b)
}

func idOf(t *testing.T, db, name string) uint32 {
	t.Helper()
	for _, l := range strings.Split(db, "\n") {
		f := strings.Split(l, ":")
		if len(f) > 2 && f[0] == name {
			var n uint32
			for _, c := range f[2] {
				n = n*10 + uint32(c-'0')
			}
			return n
		}
	}
	t.Fatalf("%s not found", name)
	return 0
}

func TestReportDeferred(t *testing.T) {
	r := rpminstall.Report{Packages: []rpminstall.PackageReport{
		{NEVRA: "glibc", Scriptlets: []rpminstall.ScriptletReport{{Kind: "post", Prog: "/sbin/ldconfig", Emulated: true, By: []string{"ldconfig"}}}},
		{NEVRA: "systemd", Scriptlets: []rpminstall.ScriptletReport{
			{Kind: "pre", Emulated: true, By: []string{"accounts"}},
			{Kind: "post", Emulated: true, By: []string{"ldconfig", "systemd-preset"}},
			{Kind: "posttrans", Emulated: false, By: []string{"depmod"}},
		}},
	}}
	if got := strings.Join(r.Deferred(), ","); got != "ldconfig,systemd-preset" {
		t.Errorf("Deferred() = %s", got)
	}
}
