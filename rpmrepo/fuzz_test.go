package rpmrepo_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// seeds adds the named fixture files (relative to the fixtures folder) to
// the corpus when the fixtures are present; the inline seeds always are.
func seeds(f *testing.F, names ...string) {
	d := filepath.Join(testrepo.ModuleRoot(), "..", "shared", "fixtures")
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join(d, n)); err == nil {
			f.Add(b)
		}
	}
}

const primarySeed = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm">
  <name>bash</name><arch>x86_64</arch>
  <version epoch="0" ver="4.4.18" rel="1.ph2"/>
  <checksum type="sha256" pkgid="YES">90f61e546938a11449b710160ad294618a5bd3062e46f8cf851fd0088af184b7</checksum>
  <summary>The GNU Bourne Again shell &amp; more</summary>
  <time file="1" build="1500000000"/>
  <size package="2237" installed="100" archive="300"/>
  <location href="bash-4.4.18-1.ph2.x86_64.rpm"/>
  <format>
    <rpm:license>GPLv3+</rpm:license>
    <rpm:sourcerpm>bash-4.4.18-1.ph2.src.rpm</rpm:sourcerpm>
    <rpm:provides><rpm:entry name="bash" flags="EQ" epoch="0" ver="4.4.18" rel="1.ph2"/><rpm:entry name="/bin/sh"/></rpm:provides>
    <rpm:requires><rpm:entry name="glibc" flags="GE" epoch="0" ver="2.26" pre="1"/><rpm:entry name="(a or b)"/></rpm:requires>
    <file>/bin/bash</file><file type="dir">/etc/skel</file>
  </format>
</package>
</metadata>`

func FuzzPrimary(f *testing.F) {
	f.Add([]byte(primarySeed))
	// createrepo_c's own output (decompressed); the bazeldnf files are
	// too large for useful mutation.
	d := filepath.Join(testrepo.ModuleRoot(), "..", "shared", "fixtures", "createrepo_c")
	gz, _ := filepath.Glob(filepath.Join(d, "repo_0[24]/repodata/*-primary.xml.gz"))
	for _, g := range gz {
		if b, err := os.ReadFile(g); err == nil {
			if z, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				if x, err := io.ReadAll(z); err == nil {
					f.Add(x)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := rpmrepo.ParsePrimary(bytes.NewReader(b), "fuzz", func(p *rpmrepo.Package) error {
			if p.Name == "" {
				t.Fatal("package without a name accepted")
			}
			return nil
		})
		if err != nil && !errors.Is(err, rpmrepo.ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		// Differential: where both parsers accept the input, they agree.
		got, err1 := collect(rpmrepo.ParsePrimary, b)
		want, err2 := collect(rpmrepo.ParsePrimaryReference, b)
		if err1 == nil && err2 == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner and encoding/xml reference differ:\n got %+v\nwant %+v", got, want)
		}
	})
}

const filelistsSeed = `<?xml version="1.0" encoding="UTF-8"?>
<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="1">
<package pkgid="90f61e546938a11449b710160ad294618a5bd3062e46f8cf851fd0088af184b7" name="fake_bash" arch="x86_64">
  <version epoch="0" ver="1.1.1" rel="1"/>
  <file>/usr/bin/fake_bash</file><file type="dir">/usr/share/x</file><file type="ghost">/var/log/y</file>
</package>
</filelists>`

func FuzzFilelists(f *testing.F) {
	f.Add([]byte(filelistsSeed))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := rpmrepo.ParseFilelists(bytes.NewReader(b), "fuzz", func(e rpmrepo.FilelistEntry) error {
			if e.PkgID == "" {
				t.Fatal("entry without pkgid accepted")
			}
			return nil
		})
		if err != nil && !errors.Is(err, rpmrepo.ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		got, err1 := collectFL(rpmrepo.ParseFilelists, b)
		want, err2 := collectFL(rpmrepo.ParseFilelistsReference, b)
		if err1 == nil && err2 == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner and encoding/xml reference differ:\n got %+v\nwant %+v", got, want)
		}
	})
}

func FuzzRepoMD(f *testing.F) {
	seeds(f, "createrepo_c/repo_02/repodata/repomd.xml", "bazeldnf/repo/repomd.xml")
	f.Add([]byte(`<repomd><data type="primary"><checksum type="sha">0000000000000000000000000000000000000000</checksum><location href="p.xml"/><size>1</size></data></repomd>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := rpmrepo.ParseRepoMD(b, "fuzz")
		if err != nil {
			if !errors.Is(err, rpmrepo.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for _, d := range md.Data {
			if d.Location == "" {
				t.Fatal("record without location accepted")
			}
		}
	})
}

// FuzzVerifyRPM feeds mutated RPMs (lead, both headers, signature packets,
// payload) through VerifyRPM: no panic (VerifyRPM recovers, so a recovered
// panic fails the fuzz test), and nothing mutated verifies unless the
// signed parts are intact.
func FuzzVerifyRPM(f *testing.F) {
	d := filepath.Join(testrepo.ModuleRoot(), "..", "shared", "fixtures", "rpm-software-management-rpm")
	seeds(f, "rpm-software-management-rpm/RPMS/hello-2.0-1.x86_64-signed.rpm",
		"rpm-software-management-rpm/RPMS/hello-2.0-1.x86_64-v3-signed.rpm",
		"rpm-software-management-rpm/RPMS/hello-2.0-1.x86_64-signed-with-new-subkey.rpm",
		"sassoftware-go-rpmutils/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm")
	f.Add([]byte{0xed, 0xab, 0xee, 0xdb})
	var kr *rpmrepo.KeyRing
	if k, err := os.ReadFile(filepath.Join(d, "keys/rpm.org-rsa-2048-add-subkey.asc")); err == nil {
		kr, _ = rpmrepo.ReadKeyRing(k)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := rpmrepo.VerifyRPM(bytes.NewReader(b), "fuzz.rpm", kr, true)
		if err != nil && strings.Contains(err.Error(), "panic") {
			t.Fatal(err)
		}
	})
}

func FuzzKeyRing(f *testing.F) {
	seeds(f, "vmware-vic/VMWARE-RPM-GPG-KEY", "distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release",
		"rpm-software-management-rpm/keys/alice-revoked-subkey.asc", "rpm-software-management-rpm/keys/rpm.org-rsa-2048-add-subkey.asc")
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kr, err := rpmrepo.ReadKeyRing(b)
		if err != nil {
			if !errors.Is(err, rpmrepo.ErrKey) {
				t.Fatalf("error does not wrap ErrKey: %v", err)
			}
			return
		}
		for _, c := range kr.Certs {
			if len(c.Primary.Fingerprint) == 0 {
				t.Fatal("key without fingerprint")
			}
		}
	})
}

// FuzzSignaturePacket fuzzes our V3 signature packet parser (and
// go-crypto's V4 one) through VerifyDetached, seeded with a V3 RSA/SHA1
// packet like Photon's.
func FuzzSignaturePacket(f *testing.F) {
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	sig, err := v3Signature(priv, 0x1122334455667788, time.Unix(1500000000, 0), []byte("data"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("data"), sig)
	f.Add([]byte("data"), []byte{0x89, 0x00, 0x03, 0x03, 0x05, 0x00})
	f.Fuzz(func(t *testing.T, data, sig []byte) {
		sc, err := rpmrepo.VerifyDetached(data, sig, nil)
		if err == nil || sc != nil {
			t.Fatalf("verified without keys: %v", sc)
		}
	})
}
