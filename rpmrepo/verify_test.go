package rpmrepo_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

func readKeys(t testing.TB, paths ...string) *rpmrepo.KeyRing {
	t.Helper()
	var files []rpmrepo.KeyFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rpmrepo.KeyFile{Name: filepath.Base(p), Data: b})
	}
	kr, err := rpmrepo.ReadKeyFiles(files...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestVerifyFixtures checks every signed or unsigned RPM of the shared
// fixtures against the results rpm 4.18 -Kv, gpgv and upstream rpm's
// rpmsigdig.at give (recorded in fixtures/README.md).
func TestVerifyFixtures(t *testing.T) {
	fx := testrepo.Fixtures(t)
	rpmd := filepath.Join(fx, "rpm-software-management-rpm")
	hello := func(s string) string { return filepath.Join(rpmd, "RPMS", "hello-2.0-1.x86_64"+s+".rpm") }
	key := func(s string) string { return filepath.Join(rpmd, "keys", s) }
	rpmorg := key("rpm.org-rsa-2048-test.pub")
	const rpmorgFpr = "771B18D3D7BAA28734333C424344591E1964C5FC"
	redhat := filepath.Join(fx, "distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release")
	fedora := filepath.Join(fx, "distribution-gpg-keys/fedora/RPM-GPG-KEY-fedora-14-primary")
	vmware := filepath.Join(fx, "vmware-vic/VMWARE-RPM-GPG-KEY")
	crypto := filepath.Join(fx, "sassoftware-go-rpmutils/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm")
	icedax := filepath.Join(fx, "createrepo_c/icedax-1.1.10-2.fc14.i686.rpm")

	type want struct {
		err      error    // nil: verifies
		fpr      string   // fingerprint that verified
		statuses []string // "tag:STATUS" for each signature tag, in tag order 268,267,1002,1005
		badDig   string   // name of the digest that must be BAD
	}
	tests := []struct {
		name     string
		rpm      string
		keys     []string // nil: empty key ring
		gpgcheck bool
		want     want
	}{
		{"unsigned, gpgcheck", hello(""), []string{rpmorg}, true, want{err: rpmrepo.ErrUnsigned}},
		{"unsigned, gpgcheck=0", hello(""), nil, false, want{}},
		{"signed, other key", hello("-signed"), []string{redhat}, true, want{err: rpmrepo.ErrNoKey, statuses: []string{"268:NOKEY", "1002:NOKEY"}}},
		{"signed", hello("-signed"), []string{rpmorg}, true, want{fpr: rpmorgFpr, statuses: []string{"268:OK", "1002:OK"}}},
		{"signed, key among others", hello("-signed"), []string{redhat, fedora, rpmorg}, true, want{fpr: rpmorgFpr, statuses: []string{"268:OK", "1002:OK"}}},
		{"v3-signed", hello("-v3-signed"), []string{rpmorg}, true, want{fpr: rpmorgFpr, statuses: []string{"268:OK", "1002:OK"}}},
		{"corrupted", hello("-corrupted"), []string{rpmorg}, true, want{err: rpmrepo.ErrDigest, statuses: []string{"268:OK"}, badDig: "Payload SHA256"}},
		{"corrupted, gpgcheck=0", hello("-corrupted"), nil, false, want{err: rpmrepo.ErrDigest, badDig: "Payload SHA256"}},
		{"new subkey, old key", hello("-signed-with-new-subkey"), []string{rpmorg}, true, want{err: rpmrepo.ErrNoKey, statuses: []string{"267:NOKEY"}}},
		{"new subkey", hello("-signed-with-new-subkey"), []string{key("rpm.org-rsa-2048-add-subkey.asc")}, true,
			want{fpr: "DCC32F8B1EE8C670B53F25566323C42711450B6C", statuses: []string{"267:OK"}}},
		{"alice subkey", hello("-signed-with-subkey"), []string{key("alice.asc")}, true,
			want{fpr: "43253A62850DFADCACD423F11F71177215217EE0", statuses: []string{"268:OK"}}},
		{"alice expired subkey", hello("-signed-with-subkey"), []string{key("alice-expired-subkey.asc")}, true,
			want{err: rpmrepo.ErrNotTrusted, statuses: []string{"268:NOTTRUSTED"}}},
		{"alice revoked subkey", hello("-signed-with-subkey"), []string{key("alice-revoked-subkey.asc")}, true,
			want{err: rpmrepo.ErrNotTrusted, statuses: []string{"268:NOTTRUSTED"}}},
		{"alice expired and valid", hello("-signed-with-subkey"), []string{key("alice-expired-subkey.asc"), key("alice.asc")}, true,
			want{fpr: "43253A62850DFADCACD423F11F71177215217EE0", statuses: []string{"268:OK"}}},
		{"rhel8 V3", crypto, []string{redhat}, true, want{fpr: "567E347AD0044ADE55BA8A5F199E2F91FD431D51", statuses: []string{"268:OK", "1002:OK"}}},
		{"rhel8 V3, no key", crypto, []string{rpmorg}, true, want{err: rpmrepo.ErrNoKey, statuses: []string{"268:NOKEY", "1002:NOKEY"}}},
		{"fedora14 V3", icedax, []string{fedora}, true, want{fpr: "235C2936B4B70E61B373A020421CADDB97A1071F", statuses: []string{"268:OK", "1002:OK"}}},
		{"fedora14 V3, vmware key", icedax, []string{vmware}, true, want{err: rpmrepo.ErrNoKey, statuses: []string{"268:NOKEY", "1002:NOKEY"}}},
		{"zstd unsigned", filepath.Join(rpmd, "RPMS/foo-1.0-1.noarch.rpm"), nil, false, want{}},
		{"hlinktest unsigned", filepath.Join(rpmd, "RPMS/hlinktest-1.0-1.noarch.rpm"), nil, false, want{}},
		{"capstest unsigned", filepath.Join(rpmd, "RPMS/capstest-1.0-1.noarch.rpm"), nil, false, want{}},
		{"capstest unsigned, gpgcheck", filepath.Join(rpmd, "RPMS/capstest-1.0-1.noarch.rpm"), []string{rpmorg}, true, want{err: rpmrepo.ErrUnsigned}},
		{"fake_bash", filepath.Join(fx, "createrepo_c/packages/fake_bash-1.1.1-1.x86_64.rpm"), nil, false, want{}},
		{"super_kernel", filepath.Join(fx, "createrepo_c/packages/super_kernel-6.0.1-2.x86_64.rpm"), nil, false, want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var kr *rpmrepo.KeyRing
			if tc.keys != nil {
				kr = readKeys(t, tc.keys...)
			}
			v, err := rpmrepo.VerifyRPMFile(tc.rpm, kr, tc.gpgcheck)
			if tc.want.err == nil && err != nil {
				t.Fatalf("VerifyRPMFile: %v", err)
			}
			if tc.want.err != nil && !errors.Is(err, tc.want.err) {
				t.Fatalf("VerifyRPMFile: error %v, want %v", err, tc.want.err)
			}
			if v == nil {
				t.Fatal("no Verification returned")
			}
			if tc.want.fpr != "" && v.Fingerprint != tc.want.fpr {
				t.Errorf("fingerprint %q, want %q", v.Fingerprint, tc.want.fpr)
			}
			var st []string
			for _, s := range v.Signatures {
				st = append(st, strconv.Itoa(s.Tag)+":"+string(s.Status))
			}
			if tc.want.statuses != nil && strings.Join(st, " ") != strings.Join(tc.want.statuses, " ") {
				t.Errorf("signatures %v, want %v (%v)", st, tc.want.statuses, v.Signatures)
			}
			for _, d := range v.Digests {
				if d.OK == (d.Name == tc.want.badDig) {
					t.Errorf("digest %s", d)
				}
			}
			if err != nil {
				t.Logf("error (expected): %v", err)
			}
		})
	}
}
