package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runVicroot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestReposList(t *testing.T) {
	out, err := runVicroot(t, "repos")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The embedded definitions are the folders under repos/definitions.
	dirs, err := os.ReadDir(filepath.Join("..", "..", "repos", "definitions"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if d.IsDir() {
			name := d.Name() + " "
			if d.Name() == "photon-2.0" {
				name = d.Name() + " (default) "
			}
			names = append(names, name)
		}
	}
	if len(lines) != len(names) {
		t.Fatalf("want one line per embedded definition, got:\n%s", out)
	}
	for i, want := range names {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[0], "yum") || !strings.Contains(lines[0], "kernel-2.6.32-754.el6") {
		t.Errorf("centos line: %q", lines[0])
	}
}

func TestReposShowAndExport(t *testing.T) {
	out, err := runVicroot(t, "repos", "show", "photon-2.0")
	if err != nil {
		t.Fatal(err)
	}
	var eff struct {
		Name       string `json:"name"`
		Releasever string `json:"releasever"`
		Packages   struct {
			Base []string `json:"base"`
		} `json:"packages"`
		Tether struct {
			Mode string `json:"mode"`
		} `json:"tether"`
	}
	if err := json.Unmarshal([]byte(out), &eff); err != nil {
		t.Fatalf("show output is not JSON: %v\n%s", err, out)
	}
	if eff.Name != "photon-2.0" || eff.Releasever != "2.0" || len(eff.Packages.Base) != 5 || eff.Tether.Mode != "default" {
		t.Errorf("%+v", eff)
	}

	dir := filepath.Join(t.TempDir(), "mine")
	if _, err := runVicroot(t, "repos", "export", "photon-2.0", dir); err != nil {
		t.Fatal(err)
	}
	out2, err := runVicroot(t, "repos", "show", dir)
	if err != nil {
		t.Fatal(err)
	}
	if out2 != out {
		t.Errorf("show of the exported folder differs from the embedded one")
	}

	// A broken copy fails with the file and field named, exit code 1.
	spec := filepath.Join(dir, "repo-spec.json")
	b, _ := os.ReadFile(spec)
	os.WriteFile(spec, bytes.Replace(b, []byte(`"kernel"`), []byte(`"kernal"`), 1), 0o644)
	_, err = runVicroot(t, "repos", "show", dir)
	if err == nil || !strings.Contains(err.Error(), `kernal: unknown field (did you mean "kernel"?)`) || exitCode(err) != exitFailure {
		t.Errorf("broken copy: %v", err)
	}
}

func TestReposUsage(t *testing.T) {
	for _, args := range [][]string{{"repos", "show"}, {"repos", "extra"}, {"repos", "export", "photon-2.0"}} {
		_, err := runVicroot(t, args...)
		var ue usageError
		if !errors.As(err, &ue) || exitCode(err) != exitUsage {
			t.Errorf("%q: %v is not a usage error", args, err)
		}
	}
	_, err := runVicroot(t, "repos", "show", "no-such-definition")
	if err == nil || exitCode(err) != exitFailure || !strings.Contains(err.Error(), "no such repo definition") {
		t.Errorf("unknown name: %v", err)
	}
}
