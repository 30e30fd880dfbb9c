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
