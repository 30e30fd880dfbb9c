package rpmrepo_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// TestKeyFiles checks fingerprints and expiry against the fixtures README
// (gpg --show-keys output recorded there).
func TestKeyFiles(t *testing.T) {
	fx := testrepo.Fixtures(t)
	tests := []struct {
		file     string
		primary  []string
		subkeys  []string
		warnExp  bool
		expireOn string // primary expiry date, "" for none
	}{
		{"vmware-vic/VMWARE-RPM-GPG-KEY", []string{"36E47E1CC4DCC5E8152D115CC0B5E0AB66FD4949"}, nil, true, "2017-07-25"},
		{"distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release", []string{"567E347AD0044ADE55BA8A5F199E2F91FD431D51", "43A6E49C4A38F4BE9ABF2A5345689C882FA658E0"}, nil, false, ""},
		{"distribution-gpg-keys/fedora/RPM-GPG-KEY-fedora-14-primary", []string{"235C2936B4B70E61B373A020421CADDB97A1071F"}, nil, false, ""},
		{"rpm-software-management-rpm/keys/rpm.org-rsa-2048-test.pub", []string{"771B18D3D7BAA28734333C424344591E1964C5FC"}, []string{"B31E5AA680AF713915901533185E6146F00650F8"}, false, ""},
		{"rpm-software-management-rpm/keys/rpm.org-rsa-2048-add-subkey.asc", []string{"771B18D3D7BAA28734333C424344591E1964C5FC"}, []string{"B31E5AA680AF713915901533185E6146F00650F8", "DCC32F8B1EE8C670B53F25566323C42711450B6C"}, false, ""},
		{"rpm-software-management-rpm/keys/alice.asc", []string{"B6542F92F30650C36B6F41BCB3A771BFEB04E625"}, []string{"43253A62850DFADCACD423F11F71177215217EE0"}, false, ""},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			kr := readKeys(t, filepath.Join(fx, tc.file))
			var prim, sub []string
			var warns []string
			for _, c := range kr.Certs {
				prim = append(prim, c.Primary.Fingerprint)
				for _, s := range c.Subkeys {
					sub = append(sub, s.Fingerprint)
				}
				warns = append(warns, c.Warnings...)
				if tc.expireOn != "" && c.Primary.Expires.UTC().Format("2006-01-02") != tc.expireOn {
					t.Errorf("primary expires %v, want %s", c.Primary.Expires, tc.expireOn)
				}
			}
			if strings.Join(prim, " ") != strings.Join(tc.primary, " ") || strings.Join(sub, " ") != strings.Join(tc.subkeys, " ") {
				t.Errorf("keys %v / %v, want %v / %v", prim, sub, tc.primary, tc.subkeys)
			}
			if got := strings.Contains(strings.Join(warns, "\n"), "expires"); got != tc.warnExp {
				t.Errorf("expiry warning %v, want %v: %q", got, tc.warnExp, warns)
			}
		})
	}
	// Several files, and an armored file holding two blocks.
	a, _ := os.ReadFile(filepath.Join(fx, tests[0].file))
	b, _ := os.ReadFile(filepath.Join(fx, tests[3].file))
	kr, err := rpmrepo.ReadKeyRing(append(append(a, '\n'), b...))
	if err != nil {
		t.Fatal(err)
	}
	if got := kr.Fingerprints(); len(got) != 2 {
		t.Errorf("two armor blocks in one file: %v", got)
	}
}

func TestKeyFileErrors(t *testing.T) {
	for _, in := range []string{"", "hello", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n", "\x99\x01\x00"} {
		_, err := rpmrepo.ReadKeyFiles(rpmrepo.KeyFile{Name: "bad.asc", Data: []byte(in)})
		if !errors.Is(err, rpmrepo.ErrKey) || !strings.Contains(err.Error(), "bad.asc") {
			t.Errorf("%q: error %v, want ErrKey naming bad.asc", in, err)
		}
	}
}

// TestVerifyTampered flips bytes in the signed hello package: in the main
// header (signature and header digests must fail) and in the payload
// (header+payload signature, MD5 and payload digest must fail).
func TestVerifyTampered(t *testing.T) {
	fx := testrepo.Fixtures(t)
	data, err := os.ReadFile(filepath.Join(fx, "rpm-software-management-rpm/RPMS/hello-2.0-1.x86_64-signed.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	kr := readKeys(t, filepath.Join(fx, "rpm-software-management-rpm/keys/rpm.org-rsa-2048-test.pub"))
	// The main header is the second header magic (after the lead and the
	// signature header, whose RESERVED space no digest covers).
	magic := []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
	mainHeader := 96 + 8 + bytes.Index(data[96+8:], magic)
	il := int(data[mainHeader+8])<<24 | int(data[mainHeader+9])<<16 | int(data[mainHeader+10])<<8 | int(data[mainHeader+11])
	mainData := mainHeader + 16 + 16*il
	for _, tc := range []struct {
		name string
		off  int // from the end when negative
		want error
	}{
		{"payload byte", -100, rpmrepo.ErrDigest},
		{"main header byte", mainData + 100, rpmrepo.ErrDigest},
		{"lead", 1, rpmrepo.ErrMalformedRPM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(data)
			off := tc.off
			if off < 0 {
				off += len(b)
			}
			b[off] ^= 0x40
			_, err := rpmrepo.VerifyRPM(bytes.NewReader(b), "hello", kr, true)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	for n := 0; n < len(data); n += 97 {
		if _, err := rpmrepo.VerifyRPM(bytes.NewReader(data[:n]), "hello", kr, true); err == nil {
			t.Fatalf("truncated to %d bytes: verified", n)
		}
	}
}
