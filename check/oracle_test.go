package check_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/check"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// dnfEnv is a private dnf configuration over local repositories: the
// oracle of closure (dnf repoclosure) and installability (dnf install
// --assumeno on an empty root).
type dnfEnv struct {
	root, releasever string
}

func newDNF(t *testing.T, releasever string, repos map[string]string) *dnfEnv {
	t.Helper()
	testrepo.NeedTools(t, "dnf")
	root := t.TempDir()
	rd := filepath.Join(root, "repos.d")
	if err := os.MkdirAll(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	for id, dir := range repos {
		conf := fmt.Sprintf("[%s]\nname=%s\nbaseurl=file://%s\nenabled=1\ngpgcheck=0\n", id, id, dir)
		if err := os.WriteFile(filepath.Join(rd, id+".repo"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &dnfEnv{root: root, releasever: releasever}
}

func (d *dnfEnv) run(args ...string) (string, error) {
	base := []string{
		"--installroot=" + filepath.Join(d.root, "root"),
		"--setopt=reposdir=" + filepath.Join(d.root, "repos.d"),
		"--setopt=cachedir=" + filepath.Join(d.root, "cache"),
		"--setopt=logdir=" + d.root,
		"--setopt=persistdir=" + filepath.Join(d.root, "persist"),
		"--releasever=" + d.releasever, "--setopt=metadata_expire=-1",
		"--setopt=install_weak_deps=True", "--disableplugin=local,versionlock",
	}
	cmd := exec.Command("dnf", append(base, args...)...)
	cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C", "COLUMNS=200")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// repoclosure is dnf's list of unresolved requirements, "NEVRA\tdep".
func (d *dnfEnv) repoclosure(t *testing.T) []string {
	t.Helper()
	out, err := d.run("repoclosure")
	if err != nil && !strings.Contains(out, "unresolved deps") {
		t.Fatalf("dnf repoclosure: %v\n%s", err, out)
	}
	var got []string
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if f, ok := strings.CutPrefix(l, "package: "); ok {
			cur = strings.Fields(f)[0]
			continue
		}
		if strings.HasPrefix(l, "    ") && cur != "" {
			got = append(got, cur+"\t"+strings.TrimSpace(l))
		}
	}
	sort.Strings(got)
	return got
}

// installable asks dnf whether spec installs on an empty root; with the
// packages it would install.
func (d *dnfEnv) install(spec string) (bool, []string, string) {
	out, _ := d.run("--assumeno", "install", spec)
	if !strings.Contains(out, "Dependencies resolved.") {
		return false, nil, out
	}
	var nevras []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "Installing"):
			in = true
			continue
		case strings.HasPrefix(l, "Transaction Summary"), strings.HasPrefix(l, "Skipping"):
			in = false
		}
		if f := strings.Fields(l); in && strings.HasPrefix(l, " ") && len(f) >= 5 {
			nevras = append(nevras, f[0]+"-"+f[2]+"."+f[1])
		}
	}
	sort.Strings(nevras)
	return true, nevras, out
}

func ourClosure(rep *check.Report) []string {
	var got []string
	for _, u := range rep.Unresolved {
		got = append(got, u.NEVRA+"\t"+u.Requires)
	}
	sort.Strings(got)
	return got
}

// sample takes at most n packages of the report: the uninstallable ones
// and the installable ones alternately, spread over the list.
func sample(rep *check.Report, all []string, n int) []string {
	bad := map[string]bool{}
	for _, u := range rep.Uninstallable {
		bad[u.NEVRA] = true
	}
	var good, notGood []string
	for _, p := range all {
		if bad[p] {
			notGood = append(notGood, p)
		} else {
			good = append(good, p)
		}
	}
	spread := func(l []string, k int) []string {
		if len(l) <= k {
			return l
		}
		var out []string
		for i := 0; i < k; i++ {
			out = append(out, l[i*len(l)/k])
		}
		return out
	}
	k := n / 2
	if len(notGood) < k {
		k = len(notGood)
	}
	return append(spread(notGood, k), spread(good, n-k)...)
}

// checkInstallabilityWithDNF compares the report's installability of a
// sample with dnf install --assumeno, one package at a time.
func checkInstallabilityWithDNF(t *testing.T, d *dnfEnv, rep *check.Report, all []string, n int) {
	t.Helper()
	bad := map[string]string{}
	for _, u := range rep.Uninstallable {
		bad[u.NEVRA] = u.Problem
	}
	for _, p := range sample(rep, all, n) {
		ok, _, out := d.install(p)
		_, ours := bad[p]
		if ok == ours {
			t.Errorf("%s: dnf says installable=%v, check says installable=%v (%s)\n%s", p, ok, !ours, bad[p], out)
		}
	}
}

var ctx = context.Background()
