package rpmrepo_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// TestHonestRefusals: hostile or broken input is refused, and the message
// says what is wrong with which file rather than something misleading.
// Each case reproduces a report of the hardening issue.
func TestHonestRefusals(t *testing.T) {
	parse := func(xml string) error {
		return rpmrepo.ParsePrimary(strings.NewReader(xml), "primary.xml.gz of hostile", func(*rpmrepo.Package) error { return nil })
	}
	tests := []struct {
		name    string
		run     func(t *testing.T) error
		wantErr error
		want    []string // the message holds each
		not     []string // and none of these
	}{
		{name: "primary.xml in another namespace", wantErr: rpmrepo.ErrMalformed, want: []string{"primary.xml.gz of hostile", "namespace", "http://example.com/evil"},
			run: func(t *testing.T) error {
				return parse(strings.Replace(primarySeed, `xmlns="http://linux.duke.edu/metadata/common"`, `xmlns="http://example.com/evil"`, 1))
			}},
		{name: "primary.xml rpm prefix in another namespace", wantErr: rpmrepo.ErrMalformed, want: []string{"namespace", "http://example.com/rpm"},
			run: func(t *testing.T) error {
				return parse(strings.Replace(primarySeed, `xmlns:rpm="http://linux.duke.edu/metadata/rpm"`, `xmlns:rpm="http://example.com/rpm"`, 1))
			}},
		{name: "control character in a package name", wantErr: rpmrepo.ErrMalformed, want: []string{"primary.xml.gz of hostile", "name", `"ba\x1bsh"`},
			run: func(t *testing.T) error {
				return parse(strings.Replace(primarySeed, "<name>bash</name>", "<name>ba\x1bsh</name>", 1))
			}},
		{name: "tab in a package name", wantErr: rpmrepo.ErrMalformed, want: []string{"name", `"ba\tsh"`},
			run: func(t *testing.T) error {
				return parse(strings.Replace(primarySeed, "<name>bash</name>", "<name>ba&#9;sh</name>", 1))
			}},
		{name: "white space in a release", wantErr: rpmrepo.ErrMalformed, want: []string{"release", `"1 ph2"`},
			run: func(t *testing.T) error {
				return parse(strings.Replace(primarySeed, `rel="1.ph2"/>`, `rel="1 ph2"/>`, 1))
			}},
		{name: "location climbing out of the repository", wantErr: rpmrepo.ErrMalformed, want: []string{"location", "../../etc/bash.rpm", "outside the repository"},
			run: func(t *testing.T) error {
				return parse(strings.Replace(primarySeed, `href="bash-4.4.18-1.ph2.x86_64.rpm"`, `href="Packages/../../../etc/bash.rpm"`, 1))
			}},
		{name: "location climbing out with escaped dots", wantErr: rpmrepo.ErrMalformed, want: []string{"location", "outside the repository"},
			run: func(t *testing.T) error {
				return parse(strings.Replace(primarySeed, `href="bash-4.4.18-1.ph2.x86_64.rpm"`, `href="%2e%2e/bash.rpm"`, 1))
			}},
		{name: "corrupted signature subpacket", wantErr: rpmrepo.ErrBadSignature, want: []string{"malformed OpenPGP signature"}, not: []string{"not in the repository's key list", "UNSUPPORTED"},
			run: func(t *testing.T) error {
				fx := testrepo.Fixtures(t)
				rpmd := filepath.Join(fx, "rpm-software-management-rpm")
				b, err := os.ReadFile(filepath.Join(rpmd, "RPMS/hello-2.0-1.x86_64-signed.rpm"))
				if err != nil {
					t.Fatal(err)
				}
				// Both V4 RSA/SHA256 signature packets: the first hashed
				// subpacket's length runs past the subpacket area (rpm -Kv:
				// "BAD (package tag 268: invalid OpenPGP signature)").
				n := 0
				for i := 0; ; i++ {
					j := bytes.Index(b[i:], []byte{0x04, 0x00, 0x01, 0x08, 0x00, 0x06})
					if j < 0 {
						break
					}
					i += j
					b[i+6] = 0x0f
					n++
				}
				if n != 2 {
					t.Fatalf("found %d signature packets, want 2", n)
				}
				p := filepath.Join(t.TempDir(), "hello-badsub.rpm")
				writeFile(t, p, b)
				testrepo.NeedTools(t, "rpm")
				if out, err := exec.Command("rpm", "-Kv", p).CombinedOutput(); err == nil || !bytes.Contains(out, []byte("BAD")) {
					t.Errorf("oracle: rpm -Kv does not call it BAD (%v):\n%s", err, out)
				}
				_, err = rpmrepo.VerifyRPMFile(p, readKeys(t, filepath.Join(rpmd, "keys/rpm.org-rsa-2048-test.pub")), true)
				return err
			}},
		{name: "endless repomd.xml", wantErr: rpmrepo.ErrTooLarge, want: []string{"repodata/repomd.xml", "64 MiB"}, not: []string{"checksum"},
			run: func(t *testing.T) error {
				s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					chunk := bytes.Repeat([]byte("<!-- endless -->\n"), 4096)
					w.Write([]byte("<?xml version=\"1.0\"?>\n<repomd>\n"))
					for r.Context().Err() == nil {
						if _, err := w.Write(chunk); err != nil {
							return
						}
					}
				}))
				t.Cleanup(s.Close)
				cfg := noGPG("endless")
				cfg.BaseURLs = []string{s.URL}
				_, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, Attempts: 1})
				return err
			}},
		{name: "offline, corrupt cached repomd.xml", wantErr: rpmrepo.ErrMalformed, want: []string{"cached copy", "repomd.xml of cached"},
			run: func(t *testing.T) error {
				dir, _ := smallRepo(t)
				s := newFaultServer(t, dir, nil)
				cfg := noGPG("cached")
				cfg.BaseURLs = []string{s.URL}
				cache := &rpmrepo.Cache{Dir: t.TempDir()}
				if _, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: cache}); err != nil {
					t.Fatal(err)
				}
				stored, _ := filepath.Glob(filepath.Join(cache.Dir, "repomd", "*"))
				if len(stored) != 1 {
					t.Fatalf("cached repomd files: %v", stored)
				}
				writeFile(t, stored[0], []byte("<repomd><data type="))
				_, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: cache, Offline: true})
				if err != nil && !strings.Contains(err.Error(), stored[0]) {
					t.Errorf("error %q does not name the cached file %s", err, stored[0])
				}
				return err
			}},
	}
	refused := 0
	for _, tc := range tests {
		ok := t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q says %q", err, w)
				}
			}
			t.Logf("reported: %v", err)
		})
		if ok {
			refused++
		}
	}
	t.Logf("tally: %d hostile inputs tried, %d refused with the named error and an honest message", len(tests), refused)
}
