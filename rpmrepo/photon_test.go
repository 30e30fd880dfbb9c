package rpmrepo_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
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

// photonKey makes what Photon 2.0 signs with, as the real key was made: by
// gpg, RSA-1024, a SHA-1 self-signature, created 2008-04-15 and expired
// 2017-07-25. It returns the private RSA key, its key id and the armored
// public key.
func photonKey(t *testing.T) (*rsa.PrivateKey, uint64, []byte) {
	t.Helper()
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
	gpg("--faked-system-time", "20080415T120000!", "--cert-digest-algo", "SHA1",
		"--quick-gen-key", "Photon Test <photon-test@example.invalid>", "rsa1024", "sign", "2017-07-25")
	pub := gpg("--export", "--armor")
	sec := gpg("--export-secret-keys")
	el, err := openpgp.ReadKeyRing(bytes.NewReader(sec))
	if err != nil || len(el) != 1 {
		t.Fatalf("reading the gpg secret key: %v (%d entities)", err, len(el))
	}
	priv, ok := el[0].PrivateKey.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("secret key is %T", el[0].PrivateKey.PrivateKey)
	}
	return priv, el[0].PrimaryKey.KeyId, pub
}

// v3Signature builds a V3 OpenPGP signature packet (RFC 4880 §5.2.2),
// binary document, RSA/SHA1, as Photon's packages carry.
func v3Signature(priv *rsa.PrivateKey, keyID uint64, when time.Time, data []byte) ([]byte, error) {
	var trailer [5]byte
	trailer[0] = 0x00
	binary.BigEndian.PutUint32(trailer[1:], uint32(when.Unix()))
	h := sha1.New()
	h.Write(data)
	h.Write(trailer[:])
	d := h.Sum(nil)
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA1, d)
	if err != nil {
		return nil, err
	}
	sig = bytes.TrimLeft(sig, "\x00")
	var body bytes.Buffer
	body.Write([]byte{3, 5})
	body.Write(trailer[:])
	binary.Write(&body, binary.BigEndian, keyID)
	body.Write([]byte{1, 2}) // RSA, SHA1
	body.Write(d[:2])
	bits := uint16(len(sig)*8 - (8 - bitLen(sig[0])))
	binary.Write(&body, binary.BigEndian, bits)
	body.Write(sig)
	// Old-format packet header, tag 2, two-byte length (as rpm writes).
	out := []byte{0x89, byte(body.Len() >> 8), byte(body.Len())}
	return append(out, body.Bytes()...), nil
}

func bitLen(b byte) int {
	n := 0
	for ; b != 0; b >>= 1 {
		n++
	}
	return n
}

// TestPhotonV3ExpiredKey is Photon's real case, which has no public sample:
// a package whose RSAHEADER and PGP tags are V3 RSA/SHA1 signatures, made in
// 2019 by an RSA-1024 key that expired in 2017. rpm ignores the primary key's
// expiry, so must we. Real rpm -Kv and gpgv check the same file and
// signature, so the test is not circular.
func TestPhotonV3ExpiredKey(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "gpgv", "gpg")
	priv, keyID, pub := photonKey(t)
	keyIDHex := fmt.Sprintf("%016x", keyID)
	signedAt := time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)
	var headerBlob, headerSig []byte

	build := func(signer func([]byte) ([]byte, error)) []byte {
		r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{
			Name: "photon-v3", Version: "1.0", Release: "1.ph2", Arch: "noarch",
			Summary: "test", Licence: "MIT", BuildTime: signedAt, Compressor: "gzip",
		})
		if err != nil {
			t.Fatal(err)
		}
		r.AddFile(rpmpack.RPMFile{Name: "/etc/photon-v3.conf", Body: []byte("hello photon\n"), Mode: 0o644, Owner: "root", Group: "root", MTime: uint32(signedAt.Unix())})
		if signer != nil {
			r.SetPGPSigner(signer)
		}
		var out bytes.Buffer
		if err := r.Write(&out); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	rpmData := build(func(data []byte) ([]byte, error) {
		s, err := v3Signature(priv, keyID, signedAt, data)
		if headerBlob == nil {
			headerBlob, headerSig = bytes.Clone(data), s
		}
		return s, err
	})

	dir := t.TempDir()
	pkg := filepath.Join(dir, "photon-v3-1.0-1.ph2.noarch.rpm")
	keyFile := filepath.Join(dir, "VMWARE-RPM-GPG-KEY")
	writeFile(t, pkg, rpmData)
	writeFile(t, keyFile, pub)

	// Oracle 1: real rpm, fresh database, key imported.
	db := filepath.Join(dir, "rpmdb")
	run(t, "rpm", "--dbpath", db, "--import", keyFile)
	out := run(t, "rpm", "--dbpath", db, "-Kv", pkg)
	if !strings.Contains(out, "Header V3 RSA/SHA1 Signature, key ID "+keyIDHex[8:]+": OK") ||
		!strings.Contains(out, "V3 RSA/SHA1 Signature, key ID") || strings.Contains(out, "BAD") || strings.Contains(out, "NOKEY") {
		t.Fatalf("rpm -Kv does not accept the package:\n%s", out)
	}
	t.Logf("rpm -Kv:\n%s", out)
	// Oracle 2: gpgv on the header blob and the RSAHEADER packet.
	dearmored := filepath.Join(dir, "key.gpg")
	run(t, "gpg", "--batch", "--yes", "--dearmor", "--output", dearmored, keyFile)
	writeFile(t, filepath.Join(dir, "header"), headerBlob)
	writeFile(t, filepath.Join(dir, "header.sig"), headerSig)
	gv := run(t, "gpgv", "--keyring", dearmored, filepath.Join(dir, "header.sig"), filepath.Join(dir, "header"))
	if !strings.Contains(gv, "Good signature") {
		t.Fatalf("gpgv:\n%s", gv)
	}

	t.Logf("gpgv:\n%s", gv)
	// Ours.
	kr, err := rpmrepo.ReadKeyFiles(rpmrepo.KeyFile{Name: "VMWARE-RPM-GPG-KEY", Data: pub})
	if err != nil {
		t.Fatal(err)
	}
	v, err := rpmrepo.VerifyRPMFile(pkg, kr, true)
	if err != nil {
		t.Fatalf("VerifyRPMFile: %v", err)
	}
	if !strings.HasSuffix(v.Fingerprint, strings.ToUpper(keyIDHex)) || len(v.Fingerprint) != 40 {
		t.Errorf("fingerprint %s, want the photon key %s", v.Fingerprint, keyIDHex)
	}
	if len(v.Signatures) != 2 || v.Signatures[0].Kind != "V3 RSA/SHA1" || v.Signatures[0].Status != rpmrepo.SigOK || v.Signatures[1].Status != rpmrepo.SigOK {
		t.Errorf("signatures %v", v.Signatures)
	}
	if !strings.Contains(strings.Join(v.Warnings, "\n"), "expired 2017-07-25") {
		t.Errorf("no expiry warning: %q", v.Warnings)
	}

	// Negative: the same package signed by another key is refused by rpm
	// (NOKEY) and by us.
	otherPriv, otherID, _ := photonKey(t)
	bad := build(func(data []byte) ([]byte, error) {
		return v3Signature(otherPriv, otherID, signedAt, data)
	})
	badPkg := filepath.Join(dir, "other.rpm")
	writeFile(t, badPkg, bad)
	if out, err := exec.Command("rpm", "--dbpath", db, "-K", badPkg).CombinedOutput(); err == nil {
		t.Fatalf("rpm -K accepted a package signed by an unknown key:\n%s", out)
	}
	if _, err := rpmrepo.VerifyRPMFile(badPkg, kr, true); !errors.Is(err, rpmrepo.ErrNoKey) {
		t.Fatalf("other key: error %v, want ErrNoKey", err)
	}
	// Negative: a V3 signature with the right key id over other data is
	// BAD for rpm and for us.
	forged := build(func(data []byte) ([]byte, error) {
		return v3Signature(otherPriv, keyID, signedAt, data)
	})
	forgedPkg := filepath.Join(dir, "forged.rpm")
	writeFile(t, forgedPkg, forged)
	if out, err := exec.Command("rpm", "--dbpath", db, "-K", forgedPkg).CombinedOutput(); err == nil {
		t.Fatalf("rpm -K accepted a forged signature:\n%s", out)
	}
	if _, err := rpmrepo.VerifyRPMFile(forgedPkg, kr, true); !errors.Is(err, rpmrepo.ErrBadSignature) {
		t.Fatalf("forged: error %v, want ErrBadSignature", err)
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
