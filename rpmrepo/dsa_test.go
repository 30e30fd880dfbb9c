package rpmrepo_test

import (
	"bytes"
	"crypto/dsa" //nolint:staticcheck // RHEL's auxiliary key is DSA.
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/google/rpmpack"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

func mpi(b []byte) []byte {
	b = bytes.TrimLeft(b, "\x00")
	bits := len(b) * 8
	if len(b) > 0 {
		bits -= 8 - bitLen(b[0])
	}
	return append([]byte{byte(bits >> 8), byte(bits)}, b...)
}

// TestDSAV3 signs a package with V3 DSA/SHA1 packets (as old Red Hat
// packages were) by a gpg-made DSA key, and checks it with real rpm -Kv
// and with VerifyRPM.
func TestDSAV3(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "gpg")
	home := t.TempDir()
	gpg := func(args ...string) []byte {
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	gpg("--quick-gen-key", "DSA Test <dsa@example.invalid>", "dsa1024", "sign", "never")
	pub := gpg("--export", "--armor")
	el, err := openpgp.ReadKeyRing(bytes.NewReader(gpg("--export-secret-keys")))
	if err != nil || len(el) != 1 {
		t.Fatalf("secret key: %v", err)
	}
	priv, ok := el[0].PrivateKey.PrivateKey.(*dsa.PrivateKey)
	if !ok {
		t.Fatalf("secret key is %T", el[0].PrivateKey.PrivateKey)
	}
	keyID := el[0].PrimaryKey.KeyId
	when := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	sign := func(data []byte) ([]byte, error) {
		var trailer [5]byte
		binary.BigEndian.PutUint32(trailer[1:], uint32(when.Unix()))
		h := sha1.New()
		h.Write(data)
		h.Write(trailer[:])
		d := h.Sum(nil)
		r, s, err := dsa.Sign(rand.Reader, priv, d)
		if err != nil {
			return nil, err
		}
		var body bytes.Buffer
		body.Write([]byte{3, 5})
		body.Write(trailer[:])
		binary.Write(&body, binary.BigEndian, keyID)
		body.Write([]byte{17, 2}) // DSA, SHA1
		body.Write(d[:2])
		body.Write(mpi(r.Bytes()))
		body.Write(mpi(s.Bytes()))
		return append([]byte{0x89, byte(body.Len() >> 8), byte(body.Len())}, body.Bytes()...), nil
	}
	r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{Name: "dsa-v3", Version: "1", Release: "1", Arch: "noarch", Summary: "t", Licence: "MIT", BuildTime: when, Compressor: "gzip"})
	if err != nil {
		t.Fatal(err)
	}
	r.AddFile(rpmpack.RPMFile{Name: "/etc/dsa", Body: []byte("x\n"), Mode: 0o644, Owner: "root", Group: "root"})
	r.SetPGPSigner(sign)
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "dsa-v3-1-1.noarch.rpm")
	writeFile(t, pkg, out.Bytes())
	writeFile(t, filepath.Join(dir, "key.asc"), pub)
	db := filepath.Join(dir, "db")
	run(t, "rpm", "--dbpath", db, "--import", filepath.Join(dir, "key.asc"))
	k := run(t, "rpm", "--dbpath", db, "-Kv", pkg)
	if strings.Count(k, "V3 DSA/SHA1 Signature") != 2 || strings.Contains(k, "BAD") || strings.Contains(k, "NOKEY") {
		t.Fatalf("rpm -Kv:\n%s", k)
	}
	kr, err := rpmrepo.ReadKeyRing(pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := rpmrepo.VerifyRPMFile(pkg, kr, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Signatures) != 2 || v.Signatures[0].Kind != "V3 DSA/SHA1" || v.Signatures[1].Status != rpmrepo.SigOK {
		t.Errorf("signatures %v", v.Signatures)
	}
}
