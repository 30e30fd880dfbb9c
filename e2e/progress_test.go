package e2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// TestDownloadProgress: with stderr not a terminal, every package a lock
// fetches over HTTP gets a plain progress line naming it and its size on
// stderr, and stdout holds only the lock; build --json writes exactly one
// JSON document on stdout and no progress at all.
func TestDownloadProgress(t *testing.T) {
	repo := testrepo.Dir(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	t.Cleanup(srv.Close)
	def := definition(t, repo, nil, plainInit)
	mirrors := []string{"--mirror", "photon=" + srv.URL + "/photon/", "--mirror", "photon-updates=" + srv.URL + "/photon-updates/"}

	out, stderr, err := vicroot(t, nil, append([]string{"lock", "--repo", def, "--cache", filepath.Join(t.TempDir(), "cache"), "--timeout", "2s"}, mirrors...)...)
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	var lock struct {
		Packages []struct {
			Repo     string `json:"repo"`
			Location string `json:"location"`
		} `json:"packages"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&lock); err != nil || dec.More() {
		t.Fatalf("lock stdout is not one JSON document (%v):\n%s", err, out)
	}
	if len(lock.Packages) == 0 {
		t.Fatalf("lock lists no packages:\n%s", out)
	}
	for _, p := range lock.Packages {
		name := filepath.Base(p.Location)
		st, err := os.Stat(filepath.Join(repo, p.Repo, p.Location))
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?m)^vicroot: fetched ` + regexp.QuoteMeta(name) + `: ` + strconv.FormatInt(st.Size(), 10) + ` bytes in \S+ \(.*/s\)$`)
		if !re.MatchString(stderr) {
			t.Errorf("no progress line for %s (%d bytes) on stderr:\n%s", name, st.Size(), stderr)
		}
	}

	out, stderr, err = vicroot(t, nil, append([]string{"build", "--json", "--repo", def, "--out", t.TempDir(), "--bin", binDir,
		"--cache", filepath.Join(t.TempDir(), "cache"), "--version", "v1.5.8-0-9489f63", "--timeout", "2s"}, mirrors...)...)
	if err != nil {
		t.Fatalf("build --json: %v\n%s", err, stderr)
	}
	var res map[string]any
	dec = json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&res); err != nil || dec.More() || res["ISO"] == nil {
		t.Fatalf("build --json stdout is not one result document (%v):\n%s", err, out)
	}
	if bytes.Contains([]byte(stderr), []byte("fetch")) {
		t.Errorf("build --json printed progress:\n%s", stderr)
	}
}

// TestCheckPackagesProgress: check --packages, with stderr not a
// terminal, says how many packages it has verified — at the start and
// when all are — out of as many as the repositories hold .rpm files, and
// names each package it downloads; with --json, stdout is one JSON
// document and stderr has no progress.
func TestCheckPackagesProgress(t *testing.T) {
	repo := testrepo.Dir(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	t.Cleanup(srv.Close)
	def := definition(t, repo, nil, plainInit)
	mirrors := []string{"--mirror", "photon=" + srv.URL + "/photon/", "--mirror", "photon-updates=" + srv.URL + "/photon-updates/"}
	files := testrepo.PackageFiles(t, repo)
	n := strconv.Itoa(len(files))

	out, stderr, err := vicroot(t, nil, append([]string{"check", "--packages", "--repo", def, "--cache", filepath.Join(t.TempDir(), "cache")}, mirrors...)...)
	if err != nil {
		t.Fatalf("check --packages: %v\n%s\n%s", err, out, stderr)
	}
	for _, line := range []string{"vicroot: verified 0 of " + n + " packages\n", "vicroot: verified " + n + " of " + n + " packages\n"} {
		if !strings.Contains(stderr, line) {
			t.Errorf("stderr lacks %q:\n%s", line, stderr)
		}
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?m)^vicroot: fetched ` + regexp.QuoteMeta(filepath.Base(f)) + `: ` + strconv.FormatInt(st.Size(), 10) + ` bytes in `)
		if !re.MatchString(stderr) {
			t.Errorf("no progress line for %s", filepath.Base(f))
		}
	}
	if strings.Contains(out, "vicroot: ") {
		t.Errorf("progress on stdout:\n%s", out)
	}

	out, stderr, err = vicroot(t, nil, append([]string{"check", "--packages", "--json", "--repo", def, "--cache", filepath.Join(t.TempDir(), "cache")}, mirrors...)...)
	if err != nil {
		t.Fatalf("check --packages --json: %v\n%s", err, stderr)
	}
	var rep struct {
		Packages []struct{ Verdict string } `json:"packages"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&rep); err != nil || dec.More() || len(rep.Packages) != len(files) {
		t.Fatalf("check --json stdout is not one report of %d packages (%v):\n%s", len(files), err, out)
	}
	if strings.Contains(stderr, "verified") || strings.Contains(stderr, "fetch") {
		t.Errorf("check --json printed progress:\n%s", stderr)
	}
}
