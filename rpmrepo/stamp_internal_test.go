package rpmrepo

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// errPayloadRead fails any read past the headers in the stamped checks.
var errPayloadRead = errors.New("read past the headers")

// headersOnly reads the file's first n bytes, then fails.
func headersOnly(t *testing.T, path string, n int64) io.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) < n {
		n = int64(len(b))
	}
	return io.MultiReader(bytes.NewReader(b[:n]), iotestErr{})
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errPayloadRead }

// TestStampedVerification: for every RPM of the fixtures and the test
// repository (V3 header+payload signatures, V4 header signatures, subkeys,
// revoked and expired keys, corrupted packages, rpm -Kv's results recorded
// in fixtures/README.md and checked by TestVerifyFixtures), with every key
// ring and gpgcheck setting, a check from the headers and the facts of an
// earlier full read (made with all keys or none, gpgcheck off) gives the very
// Verification and error the full read gives, or says the facts do not
// fit; it never reads the payload.
func TestStampedVerification(t *testing.T) {
	fx := testrepo.Fixtures(t)
	repo := testrepo.Dir(t)
	var rpms []string
	filepath.WalkDir(fx, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			rpms = append(rpms, p)
		}
		return nil
	})
	for _, g := range []string{"photon/*.rpm", "negative/*.rpm"} {
		m, _ := filepath.Glob(filepath.Join(repo, g))
		rpms = append(rpms, m...)
	}
	keyFiles := []string{
		filepath.Join(fx, "rpm-software-management-rpm/keys/rpm.org-rsa-2048-test.pub"),
		filepath.Join(fx, "rpm-software-management-rpm/keys/rpm.org-rsa-2048-add-subkey.asc"),
		filepath.Join(fx, "rpm-software-management-rpm/keys/alice.asc"),
		filepath.Join(fx, "rpm-software-management-rpm/keys/alice-revoked-subkey.asc"),
		filepath.Join(fx, "rpm-software-management-rpm/keys/alice-expired-subkey.asc"),
		filepath.Join(fx, "distribution-gpg-keys/fedora/RPM-GPG-KEY-fedora-14-primary"),
		filepath.Join(fx, "distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release"),
		filepath.Join(fx, "real/pgdg-common-rhel8/PGDG-RPM-GPG-KEY-RHEL"),
		filepath.Join(fx, "vmware-vic/VMWARE-RPM-GPG-KEY"),
		filepath.Join(repo, "RPM-GPG-KEY-vicroot-test"),
		filepath.Join(repo, "other-key.asc"),
	}
	ring := func(paths ...string) *KeyRing {
		var files []KeyFile
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, KeyFile{Name: filepath.Base(p), Data: b})
		}
		kr, err := ReadKeyFiles(files...)
		if err != nil {
			t.Fatalf("%v: %v", paths, err)
		}
		return kr
	}
	rings := []*KeyRing{nil}
	for _, k := range keyFiles {
		rings = append(rings, ring(k))
	}
	all := ring(keyFiles...)
	rings = append(rings, all)

	var used, stale, payloadSigs, refusals int
	// Facts from a full read with every key, and with none (whose
	// signature outcomes then lack every key).
	for _, factsRing := range []*KeyRing{all, nil} {
		for _, p := range rpms {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			_, facts, err := verifyRPM(f, p, factsRing, false, nil)
			f.Close()
			if err != nil {
				t.Logf("%s: no facts: %v", filepath.Base(p), err)
				continue
			}
			for _, o := range facts.Sigs {
				if o.Err == "" {
					payloadSigs++
				}
			}
			for _, kr := range rings {
				for _, gpgcheck := range []bool{false, true} {
					f, _ := os.Open(p)
					want, _, wantErr := verifyRPM(f, p, kr, gpgcheck, nil)
					f.Close()
					got, _, err := verifyRPM(headersOnly(t, p, facts.HeaderEnd), p, kr, gpgcheck, facts)
					if errors.Is(err, errStale) {
						stale++
						continue
					}
					used++
					if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
						t.Errorf("%s (%d keys, gpgcheck %v): stamped error %v, full %v", filepath.Base(p), len(kr.fingerprintsOrNone()), gpgcheck, err, wantErr)
					}
					if err != nil {
						refusals++
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s (gpgcheck %v): stamped verification\n%+v\nfull\n%+v", filepath.Base(p), gpgcheck, got, want)
					}
				}
			}
		}
	}
	t.Logf("%d RPMs: %d stamped checks agreed with the full read (%d of them refusals), %d fell back; %d verified header+payload signature outcomes recorded", len(rpms), used, refusals, stale, payloadSigs)
	if used < 100 || refusals == 0 || payloadSigs == 0 || stale == 0 {
		t.Errorf("the comparison covers too little: %d stamped checks, %d refusals, %d payload signatures", used, refusals, payloadSigs)
	}
}

// TestStampedForeignFacts: the facts of one package do not fit another,
// nor a file changed after its header.
func TestStampedForeignFacts(t *testing.T) {
	repo := testrepo.Dir(t)
	pkgs, _ := filepath.Glob(filepath.Join(repo, "photon/*.rpm"))
	if len(pkgs) < 2 {
		t.Fatalf("packages: %v", pkgs)
	}
	facts := func(p string) *rpmFacts {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, fa, err := verifyRPM(f, p, nil, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fa
	}
	a, b := facts(pkgs[0]), facts(pkgs[1])
	if _, _, err := verifyRPM(headersOnly(t, pkgs[1], b.HeaderEnd), pkgs[1], nil, false, a); !errors.Is(err, errStale) {
		t.Errorf("another package's facts: %v, want %v", err, errStale)
	}
	// The same header end but another header digest.
	c := *b
	c.HeaderSHA256[0] ^= 1
	if _, _, err := verifyRPM(headersOnly(t, pkgs[1], b.HeaderEnd), pkgs[1], nil, false, &c); !errors.Is(err, errStale) {
		t.Errorf("facts of another header: %v, want %v", err, errStale)
	}
	// A stamp whose facts lack the payload digest the header names.
	c = *b
	c.PayloadDigest = nil
	if _, _, err := verifyRPM(headersOnly(t, pkgs[1], b.HeaderEnd), pkgs[1], nil, false, &c); !errors.Is(err, errStale) {
		t.Errorf("facts without the payload digest: %v, want %v", err, errStale)
	}
	// With its own facts the check reads only the headers.
	if _, _, err := verifyRPM(headersOnly(t, pkgs[1], b.HeaderEnd), pkgs[1], nil, false, b); err != nil {
		t.Errorf("own facts: %v", err)
	}
	// Facts that say the payload hashed to something else: the digest
	// check fails, as it would have.
	c = *b
	c.PayloadDigest = bytes.Repeat([]byte{0xab}, len(b.PayloadDigest))
	if _, _, err := verifyRPM(headersOnly(t, pkgs[1], b.HeaderEnd), pkgs[1], nil, false, &c); !errors.Is(err, ErrDigest) {
		t.Errorf("facts with another payload digest: %v, want %v", err, ErrDigest)
	}
}

// sampleStamp is a stamp with every field set.
func sampleStamp() *stamp {
	return &stamp{
		ID:  fileid.ID{Size: 5000, Ino: 42, Dev: 7, Mtime: 1700000000000000000, Ctime: 1700000000000000001},
		Sum: Checksum{Type: "sha256", Value: strings.Repeat("ab", 32)},
		RPM: &rpmFacts{
			HeaderEnd: 1000, PayloadSize: 4000,
			PayloadDigest: bytes.Repeat([]byte{1}, 32), MD5: bytes.Repeat([]byte{2}, 16),
			Sigs: []sigOutcome{{Tag: 1002, Fingerprint: "771B18D3D7BAA28734333C424344591E1964C5FC"}, {Tag: 1002, Fingerprint: "ABCD", Err: "bad signature"}},
		},
	}
}

func TestStampRoundTrip(t *testing.T) {
	for _, st := range []*stamp{sampleStamp(), {ID: fileid.ID{Size: 3}, Sum: Checksum{Type: "sha1", Value: strings.Repeat("0f", 20)}}} {
		b := st.encode()
		got, err := parseStamp(b, "x.stamp")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Errorf("round trip: %+v, want %+v", got, st)
		}
	}
}

// TestStampRejects: every damaged stamp is refused with an error naming it.
func TestStampRejects(t *testing.T) {
	good := sampleStamp().encode()
	bad := map[string][]byte{
		"empty":    nil,
		"garbage":  []byte("hello"),
		"trailing": append(append([]byte(nil), good...), 0),
		"too big":  append([]byte(stampMagic), make([]byte, maxStampSize)...),
	}
	for n := 0; n < len(good); n++ {
		bad["truncated"] = good[:n]
		flipped := append([]byte(nil), good...)
		flipped[n] ^= 0x20
		bad["flipped"] = flipped
		for name, b := range bad {
			if _, err := parseStamp(b, "some/file.stamp"); !errors.Is(err, errStamp) || !strings.Contains(err.Error(), "some/file.stamp") {
				t.Fatalf("%s at %d: %v", name, n, err)
			}
		}
	}
	// Well-formed but inconsistent: a payload that does not fit the file.
	st := sampleStamp()
	st.RPM.PayloadSize++
	if _, err := parseStamp(st.encode(), "f"); !errors.Is(err, errStamp) {
		t.Errorf("inconsistent sizes: %v", err)
	}
	st = sampleStamp()
	st.Sum.Type = "SHA256"
	if _, err := parseStamp(st.encode(), "f"); !errors.Is(err, errStamp) {
		t.Errorf("unnormalized checksum type: %v", err)
	}
}

// FuzzStamp: the parser never panics, and what it accepts encodes back to
// the same bytes.
func FuzzStamp(f *testing.F) {
	f.Add(sampleStamp().encode())
	f.Add((&stamp{Sum: Checksum{Type: "sha256", Value: strings.Repeat("00", 32)}}).encode())
	f.Add([]byte(stampMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStamp(b, "fuzz.stamp")
		if err != nil {
			if !errors.Is(err, errStamp) {
				t.Fatalf("error %v is not errStamp", err)
			}
			return
		}
		if e := st.encode(); !bytes.Equal(e, b) {
			t.Fatalf("re-encoded stamp differs:\n%x\n%x", e, b)
		}
	})
}
