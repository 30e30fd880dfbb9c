package repos_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/repos"
)

// TestDefinitionLimits: a definition file far larger than any real one is
// refused by its size alone, naming the file and the cap, before it is
// read into memory; a UTF-8 byte order mark (which Windows editors write)
// is accepted.
func TestDefinitionLimits(t *testing.T) {
	big := func(lead string, n int) []byte {
		return append([]byte(lead), bytes.Repeat([]byte(" "), n)...)
	}
	tests := []struct {
		name string
		file string
		data func(orig []byte) []byte
		want string // "" accepted; else the message holds it
	}{
		{name: "huge repo-spec.json", file: "repo-spec.json", data: func(orig []byte) []byte { return append(orig, big("", 2<<20)...) }, want: "1 MiB"},
		{name: "huge .repo file", file: "photon.repo", data: func(orig []byte) []byte { return append(orig, big("#", 2<<20)...) }, want: "1 MiB"},
		{name: "huge key file", file: "VMWARE-RPM-GPG-KEY", data: func([]byte) []byte { return big("-----BEGIN PGP PUBLIC KEY BLOCK-----\n", 2<<20) }, want: "1 MiB"},
		{name: "huge init.sh", file: "init.sh", data: func(orig []byte) []byte { return append(orig, big("#", 2<<20)...) }, want: "1 MiB"},
		{name: "repo-spec.json with a byte order mark", file: "repo-spec.json", data: func(orig []byte) []byte { return append([]byte("\ufeff"), orig...) }},
	}
	tried, refused := 0, 0
	for _, tc := range tests {
		ok := t.Run(tc.name, func(t *testing.T) {
			d, err := repos.Load(repos.DefaultName)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "def")
			if err := d.Export(dir); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, tc.file)
			orig, _ := os.ReadFile(p)
			if err := os.WriteFile(p, tc.data(orig), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = repos.Load(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, repos.ErrTooLarge) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s and its cap %s", err, p, tc.want)
			}
			t.Logf("reported: %v", err)
		})
		if tc.want != "" {
			tried++
			if ok {
				refused++
			}
		}
	}
	// --gpgkey FILE is capped the same way.
	d, err := repos.Load(repos.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "huge.asc")
	if err := os.WriteFile(p, big("-----BEGIN PGP PUBLIC KEY BLOCK-----\n", 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	tried++
	if err := d.AddKeyFile(p); !errors.Is(err, repos.ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Errorf("--gpgkey of 2 MiB: %v", err)
	} else {
		refused++
	}
	t.Logf("tally: %d oversized definition inputs tried, %d refused naming the file and its cap", tried, refused)
}
