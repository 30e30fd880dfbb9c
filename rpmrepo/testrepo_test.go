package rpmrepo_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// TestVerifyTestRepo verifies every RPM of the real test repository (signed
// by rpmsign) and its negatives, with real rpm -K as the oracle.
func TestVerifyTestRepo(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	dir := testrepo.Dir(t)
	kr := readKeys(t, filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	db := t.TempDir()
	run(t, "rpm", "--dbpath", db, "--import", filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))

	var good []string
	for _, g := range []string{"photon/*.rpm", "photon-updates/*.rpm"} {
		m, _ := filepath.Glob(filepath.Join(dir, g))
		good = append(good, m...)
	}
	if len(good) < 5 {
		t.Fatalf("only %d RPMs in the test repository", len(good))
	}
	// Oracle: rpm -K says "digests signatures OK" for each good package.
	out := run(t, "rpm", append([]string{"--dbpath", db, "-K"}, good...)...)
	if n := strings.Count(out, "digests signatures OK"); n != len(good) {
		t.Fatalf("rpm -K: %d of %d packages signed OK:\n%s", n, len(good), out)
	}
	for _, p := range good {
		v, err := rpmrepo.VerifyRPMFile(p, kr, true)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if v.Fingerprint != kr.Certs[0].Primary.Fingerprint && v.PrimaryFingerprint != kr.Certs[0].Primary.Fingerprint {
			t.Errorf("%s: verified by %s, want %s", p, v.Fingerprint, kr.Certs[0].Primary.Fingerprint)
		}
	}

	for _, tc := range []struct {
		file string
		want []error
	}{
		{"unsigned.rpm", []error{rpmrepo.ErrUnsigned}},
		{"otherkey.rpm", []error{rpmrepo.ErrNoKey}},
		{"tampered.rpm", []error{rpmrepo.ErrDigest, rpmrepo.ErrBadSignature}},
		{"truncated.rpm", []error{rpmrepo.ErrMalformedRPM, rpmrepo.ErrDigest}},
	} {
		p := filepath.Join(dir, "negative", tc.file)
		if out, err := exec.Command("rpm", "--dbpath", db, "-K", p).CombinedOutput(); err == nil && strings.Contains(string(out), "signatures OK") {
			t.Errorf("oracle: rpm -K accepts %s:\n%s", tc.file, out)
		}
		_, err := rpmrepo.VerifyRPMFile(p, kr, true)
		ok := false
		for _, w := range tc.want {
			ok = ok || errors.Is(err, w)
		}
		if !ok {
			t.Errorf("%s: error %v, want one of %v", tc.file, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.file, err)
		}
	}
	// otherkey.rpm verifies with the key that signed it.
	if _, err := rpmrepo.VerifyRPMFile(filepath.Join(dir, "negative/otherkey.rpm"), readKeys(t, filepath.Join(dir, "other-key.asc")), true); err != nil {
		t.Errorf("otherkey.rpm with other-key.asc: %v", err)
	}
}
