package pgparmor_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/internal/pgparmor"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// A file of two armored keys with text around them splits into two public
// key blocks whose bodies are what gpg --dearmor gives for each.
func TestSplitAgainstGPG(t *testing.T) {
	testrepo.NeedTools(t, "gpg")
	dir := filepath.Join(testrepo.Fixtures(t), "distribution-gpg-keys")
	var all []byte
	var want [][]byte
	for _, p := range []string{"azure-linux/MICROSOFT-RPM-GPG-KEY", "fedora/RPM-GPG-KEY-fedora-14-primary"} {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("gpg", "--batch", "--output", "-", "--dearmor", filepath.Join(dir, p)).Output()
		if err != nil {
			t.Fatalf("gpg --dearmor %s: %v", p, err)
		}
		want = append(want, out)
		all = append(append(append(all, "text before\n"...), data...), "text after\n"...)
	}
	if !pgparmor.IsArmored(all) {
		t.Fatal("not armored")
	}
	blocks, err := pgparmor.Split(all)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != len(want) {
		t.Fatalf("%d blocks, want %d", len(blocks), len(want))
	}
	for i, b := range blocks {
		if b.Type != pgparmor.PublicKey || !bytes.Equal(b.Body, want[i]) {
			t.Errorf("block %d: type %q, body %d bytes; gpg gives %d bytes", i, b.Type, len(b.Body), len(want[i]))
		}
	}
}

// FuzzSplit: any input splits or fails, never panics.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxA==\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Add([]byte("-----BEGIN PGP -----BEGIN PGP "))
	f.Fuzz(func(t *testing.T, data []byte) {
		pgparmor.Split(data)
	})
}
