package rpmrepo_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/rpmrepo"
)

// stallFault plays the faults of a stalling or lying server; it reports
// whether mode was one of them.
func stallFault(s *faultServer, w http.ResponseWriter, r *http.Request, p, mode, rng string) bool {
	if !strings.HasPrefix(mode, "stall") && mode != "wrong 206 body" {
		return false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		http.NotFound(w, r)
		return true
	}
	if mode == "stall before headers" {
		s.hold(r)
		return true
	}
	if mode == "wrong 206 body" {
		// The Content-Range the client asked for, other bytes.
		off, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		body := bytes.Repeat([]byte{'x'}, len(b)-off)
		w.Header().Set("Content-Range", "bytes "+strconv.Itoa(off)+"-"+strconv.Itoa(len(b)-1)+"/"+strconv.Itoa(len(b)))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body)
		return true
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if mode == "stall mid-body" {
		w.Write(b[:len(b)/2])
	}
	w.(http.Flusher).Flush()
	s.hold(r)
	return true
}

// TestFetchStalledMirror: a server that goes silent (before its headers,
// after them, or in the middle of the body) costs at most Attempts ×
// Timeout per base URL, is retried with Range from where it stopped, and
// fails with ErrStalled naming the URL; a wrong 206 body restarts the
// file from byte 0. The caller's generous deadline only guards against a
// hang: hitting it is the defect.
func TestFetchStalledMirror(t *testing.T) {
	dir, rpms := smallRepo(t)
	victim, other := rpms[0], rpms[1]
	const repomd = "/repodata/repomd.xml"
	tests := []struct {
		name   string
		behave func(path string, n int, rng string) string
		// open: the failure is expected from Open (repomd.xml), not Fetch.
		open    bool
		wantErr error // nil: the fetch succeeds
		check   func(t *testing.T, s *faultServer)
	}{
		{name: "stall before headers, repomd.xml", open: true, wantErr: rpmrepo.ErrStalled,
			behave: func(p string, n int, rng string) string {
				if p == repomd {
					return "stall before headers"
				}
				return ""
			}},
		{name: "stall after headers", wantErr: rpmrepo.ErrStalled,
			behave: func(p string, n int, rng string) string {
				if p == victim {
					return "stall after headers"
				}
				return ""
			}, check: func(t *testing.T, s *faultServer) {
				if s.requests(victim) != 2 {
					t.Errorf("%d requests for the stalled file, want 2 attempts", s.requests(victim))
				}
			}},
		{name: "stall before headers", wantErr: rpmrepo.ErrStalled,
			behave: func(p string, n int, rng string) string {
				if p == victim {
					return "stall before headers"
				}
				return ""
			}},
		{name: "stalled mirror given up for the next file", wantErr: rpmrepo.ErrStalled,
			behave: func(p string, n int, rng string) string {
				if p == victim || p == other {
					return "stall before headers"
				}
				return ""
			}, check: func(t *testing.T, s *faultServer) {
				if got := s.requests(victim) + s.requests(other); got != 2 {
					t.Errorf("%d requests for the two files of a stalled mirror, want 2 (the second file not tried)", got)
				}
			}},
		{name: "stall mid-body, resume succeeds",
			behave: func(p string, n int, rng string) string {
				if p == victim && n == 0 {
					return "stall mid-body"
				}
				return ""
			}, check: func(t *testing.T, s *faultServer) {
				if len(s.ranges) != 1 || !strings.HasPrefix(s.ranges[0], victim+" bytes=") || strings.HasSuffix(s.ranges[0], "=0-") {
					t.Errorf("Range requests %q, want one resuming %s", s.ranges, victim)
				}
			}},
		{name: "wrong 206 body restarts from byte 0",
			behave: func(p string, n int, rng string) string {
				switch {
				case p != victim:
					return ""
				case n == 0:
					return "reset"
				case rng != "":
					return "wrong 206 body"
				}
				return ""
			}, check: func(t *testing.T, s *faultServer) {
				if s.requests(victim) != 3 {
					t.Errorf("%d requests, want 3 (cut, wrong 206, whole file again)", s.requests(victim))
				}
			}},
	}
	survived := 0
	for _, tc := range tests {
		ok := t.Run(tc.name, func(t *testing.T) {
			s := newRangeFaultServer(t, dir, tc.behave)
			cfg := noGPG("stalled")
			cfg.BaseURLs = []string{s.URL}
			cache := &rpmrepo.Cache{Dir: t.TempDir()}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			opts := rpmrepo.Options{Cache: cache, Attempts: 2, Backoff: time.Millisecond, Timeout: 500 * time.Millisecond, Concurrency: 1}
			r, err := rpmrepo.Open(ctx, cfg, opts)
			if err == nil && !tc.open {
				_, err = r.Fetch(ctx, r.Packages())
			} else if err == nil {
				t.Fatal("Open succeeded")
			} else if !tc.open {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("still hanging when the caller gave up: %v", err)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("fetch: %v", err)
				}
			} else {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), s.URL+"/") {
					t.Errorf("error %q does not name the URL", err)
				}
				t.Logf("reported: %v", err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
			if tc.open {
				return
			}
			// Nothing unverified is cached; after a stall the mirror is
			// given up, so only a success caches every package.
			for _, p := range r.Packages() {
				_, hit := cache.Lookup(p.Checksum, p.Size)
				if "/"+p.Location == victim && hit == (tc.wantErr != nil) || tc.wantErr == nil && !hit {
					t.Errorf("%s cached: %v", p.Location, hit)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(cache.Dir, "tmp", "*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
		if ok {
			survived++
		}
	}
	t.Logf("tally: %d stall faults played, %d survived (resumed, restarted, or failed naming the URL within the timeout)", len(tests), survived)
}
