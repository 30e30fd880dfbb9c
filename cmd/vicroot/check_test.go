package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// vicroot check: exit 1 with problems, 2 for usage, the documented JSON
// fields, the summary first in text mode.
func TestCheckCommand(t *testing.T) {
	fx := filepath.Join(testrepo.Fixtures(t), "real", "pgdg-common-rhel8")
	def := filepath.Join(testrepo.ModuleRoot(), "check", "testdata", "pgdg-common-rhel8")
	args := []string{"check", "--repo", def, "--mirror", "pgdg-common=file://" + fx + "/", "--cache", t.TempDir()}

	out, err := runVicroot(t, append(args, "--json", "--packages")...)
	if exitCode(err) != exitFailure {
		t.Fatalf("exit %d (%v), want 1: 525 packages are missing\n%s", exitCode(err), err, out)
	}
	var rep struct {
		Packages []struct {
			NEVRA   *string `json:"nevra"`
			Verdict *string `json:"verdict"`
			Key     *string `json:"key"`
		} `json:"packages"`
		Uninstallable []struct {
			NEVRA   *string `json:"nevra"`
			Problem *string `json:"problem"`
		} `json:"uninstallable"`
	}
	js := out[:strings.LastIndex(out, "}")+1]
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	verdicts := map[string]int{}
	for _, p := range rep.Packages {
		if p.NEVRA == nil || p.Verdict == nil || p.Key == nil {
			t.Fatalf("a package entry lacks nevra, verdict or key: %+v", p)
		}
		verdicts[*p.Verdict]++
	}
	if len(rep.Packages) != 537 || verdicts["ok"] != 12 || verdicts["missing"] != 525 {
		t.Errorf("%d packages, verdicts %v", len(rep.Packages), verdicts)
	}
	if len(rep.Uninstallable) == 0 || rep.Uninstallable[0].NEVRA == nil || rep.Uninstallable[0].Problem == nil {
		t.Errorf("uninstallable: %+v", rep.Uninstallable)
	}

	out, err = runVicroot(t, args...)
	if exitCode(err) != exitFailure || !strings.Contains(out, "repository pgdg-common: 537 packages (noarch 214, x86_64 323)") ||
		!strings.Contains(out, "problems:") || strings.Index(out, "installability:") > strings.Index(out, "problems:") {
		t.Errorf("text report (exit %d):\n%.2000s", exitCode(err), out)
	}
	if strings.Contains(out, "package ") && strings.Contains(out, ": missing:") {
		t.Errorf("without --packages no package is fetched:\n%.2000s", out)
	}

	for _, bad := range [][]string{{"check", "extra"}, {"check", "--no-such-flag"}} {
		if _, err := runVicroot(t, bad...); exitCode(err) != exitUsage {
			t.Errorf("vicroot %v: exit %d, want 2", bad, exitCode(err))
		}
	}
}

// The intact test repository: exit 0 and "no problems".
func TestCheckCommandClean(t *testing.T) {
	repo := testrepo.Dir(t)
	out, err := runVicroot(t, "check", "--repo", filepath.Join(repo, "definition"), "--packages", "--cache", t.TempDir(),
		"--mirror", "photon=file://"+filepath.Join(repo, "photon")+"/", "--mirror", "photon-updates=file://"+filepath.Join(repo, "photon-updates")+"/")
	n := len(testrepo.PackageFiles(t, repo))
	if err != nil || !strings.Contains(out, fmt.Sprintf("packages verified: %d (ok %d)", n, n)) || !strings.HasSuffix(out, "no problems\n") {
		t.Errorf("exit %d (%v):\n%s", exitCode(err), err, out)
	}
}
