package rpmrepo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// warmRepo opens the test repository's photon repository over file://
// with gpgcheck on and the keys of keyFiles, and fetches all its packages
// into cache.
func warmFetch(t *testing.T, dir, cache string, offline bool, keyFiles ...string) ([]rpmrepo.Fetched, error) {
	t.Helper()
	cfg := &rpmrepo.RepoConfig{ID: "photon", BaseURLs: []string{"file://" + filepath.Join(dir, "photon") + "/"}, Enabled: true, GPGCheck: true, Priority: 99, Cost: 1000}
	r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: cache}, KeyRing: readKeys(t, keyFiles...), Offline: offline})
	if err != nil {
		t.Fatal(err)
	}
	return r.Fetch(context.Background(), r.Packages())
}

// verifications returns the fetched packages' verifications by NEVRA.
func verifications(t *testing.T, got []rpmrepo.Fetched) map[string]*rpmrepo.Verification {
	t.Helper()
	m := map[string]*rpmrepo.Verification{}
	for _, f := range got {
		if f.Verification == nil {
			t.Fatalf("%s: no verification", f.Package)
		}
		m[f.Package.NEVRA()] = f.Verification
	}
	return m
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestStampWarmFetch: a warm fetch of the real test repository reads no
// cached file in full and reports the very verifications of the cold one;
// a cached package rewritten in place (even with its modification time
// restored), a stamp that is another file's, truncated or garbage, is
// verified in full as without stamps; a key removed from the key ring
// still refuses. rpm -K is the oracle for the tampered file and the key.
func TestStampWarmFetch(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	dir := testrepo.Dir(t)
	key := filepath.Join(dir, "RPM-GPG-KEY-vicroot-test")
	other := filepath.Join(dir, "other-key.asc")
	cache := t.TempDir()

	cold, err := warmFetch(t, dir, cache, false, key)
	if err != nil {
		t.Fatal(err)
	}
	want := verifications(t, cold)
	if len(cold) < 5 {
		t.Fatalf("only %d packages", len(cold))
	}
	for _, f := range cold {
		if _, err := os.Stat(f.Path + rpmrepo.StampSuffix); err != nil {
			t.Errorf("%s: no stamp after the cold fetch: %v", f.Package, err)
		}
	}
	// warm fetches again and checks the verifications; it returns how
	// many cached files were read in full.
	warm := func(t *testing.T, offline bool, keyFiles ...string) int64 {
		t.Helper()
		n := rpmrepo.FullReads()
		got, err := warmFetch(t, dir, cache, offline, keyFiles...)
		if err != nil {
			t.Fatal(err)
		}
		if g := verifications(t, got); !reflect.DeepEqual(g, want) {
			t.Errorf("warm verifications differ from the cold fetch's:\n%+v\nwant\n%+v", g, want)
		}
		for _, f := range got {
			if s := fileSHA256(t, f.Path); s != f.Package.Checksum.Value {
				t.Errorf("%s: cached file has sha256 %s, want %s", f.Package, s, f.Package.Checksum.Value)
			}
		}
		return rpmrepo.FullReads() - n
	}
	if n := warm(t, false, key); n != 0 {
		t.Errorf("warm fetch read %d cached files in full, want 0", n)
	}
	// An unrelated key added to the ring does not cost a full read.
	if n := warm(t, true, key, other); n != 0 {
		t.Errorf("warm fetch with one more key read %d cached files in full, want 0", n)
	}

	// The biggest package is the victim.
	victim := cold[0]
	for _, f := range cold {
		if f.Package.Size > victim.Package.Size {
			victim = f
		}
	}
	db := t.TempDir()
	run(t, "rpm", "--dbpath", db, "--import", key)
	tamper := func(t *testing.T, keepMtime bool) {
		t.Helper()
		fi, err := os.Stat(victim.Path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(victim.Path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		off := fi.Size() - 4096 // in the payload
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x55
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if keepMtime {
			if err := os.Chtimes(victim.Path, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}
		if fj, _ := os.Stat(victim.Path); fj.Size() != fi.Size() || keepMtime && !fj.ModTime().Equal(fi.ModTime()) {
			t.Fatalf("tampering changed size or modification time")
		}
		// Oracle: the file is broken.
		if out, err := exec.Command("rpm", "--dbpath", db, "-K", victim.Path).CombinedOutput(); err == nil {
			t.Fatalf("oracle: rpm -K accepts the tampered file:\n%s", out)
		}
	}
	for _, keep := range []bool{false, true} {
		name := map[bool]string{false: "rewritten in place", true: "rewritten in place, mtime restored"}[keep]
		t.Run(name+", offline", func(t *testing.T) {
			// The tampered file is dropped and reported missing, as
			// without stamps; online it is fetched again.
			tamper(t, keep)
			_, err := warmFetch(t, dir, cache, true, key)
			var miss *rpmrepo.MissingError
			if !errors.As(err, &miss) || len(miss.Items) != 1 || !strings.Contains(miss.Items[0], victim.Package.Location) {
				t.Fatalf("offline fetch of a tampered cache: %v, want %s missing", err, victim.Package.Location)
			}
			if n := warm(t, false, key); n < 1 {
				t.Errorf("refetching the dropped package read %d files in full", n)
			}
		})
		t.Run(name+", online", func(t *testing.T) {
			tamper(t, keep)
			if n := warm(t, false, key); n < 1 {
				t.Errorf("warm fetch after tampering read %d files in full, want at least 1", n)
			}
			if n := warm(t, false, key); n != 0 {
				t.Errorf("fetch after the refetch read %d files in full, want 0", n)
			}
		})
	}

	// Damaged stamps: verified in full, then stamped afresh.
	stampOf := func(f rpmrepo.Fetched) string { return f.Path + rpmrepo.StampSuffix }
	other0 := cold[0]
	if other0.Path == victim.Path {
		other0 = cold[1]
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, p string)
	}{
		{"another file's stamp", func(t *testing.T, p string) {
			b, err := os.ReadFile(stampOf(other0))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, b)
		}},
		{"truncated", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, b[:len(b)/2])
		}},
		{"garbage", func(t *testing.T, p string) {
			writeFile(t, p, []byte(strings.Repeat("vicroot verified stamp 1\n", 100)))
		}},
		{"empty", func(t *testing.T, p string) { writeFile(t, p, nil) }},
		{"missing", func(t *testing.T, p string) { os.Remove(p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.damage(t, stampOf(victim))
			// Lookup re-hashes it, the check reads the payload.
			if n := warm(t, true, key); n != 2 {
				t.Errorf("warm fetch with a damaged stamp read %d files in full, want 2 (hash and payload)", n)
			}
			if n := warm(t, true, key); n != 0 {
				t.Errorf("fetch after restamping read %d files in full, want 0", n)
			}
		})
	}

	t.Run("key removed", func(t *testing.T) {
		// Oracle: rpm -K without the key refuses the package.
		db := t.TempDir()
		run(t, "rpm", "--dbpath", db, "--import", other)
		if out, err := exec.Command("rpm", "--dbpath", db, "-K", victim.Path).CombinedOutput(); err == nil || !strings.Contains(string(out), "NOT OK") {
			t.Fatalf("oracle: rpm -K without the key: %v\n%s", err, out)
		}
		_, err := warmFetch(t, dir, cache, true, other)
		if !errors.Is(err, rpmrepo.ErrNoKey) {
			t.Fatalf("warm fetch without the signing key: %v, want %v", err, rpmrepo.ErrNoKey)
		}
		// As without stamps, the refused packages left the cache.
		if _, err := os.Stat(victim.Path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused package still cached: %v", err)
		}
		if _, err := os.Stat(stampOf(victim)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused package's stamp still there: %v", err)
		}
	})
}
