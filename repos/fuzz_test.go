package repos_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
)

// embeddedFiles returns the files of every embedded definition whose name
// ends in suffix, as fuzz seeds.
func embeddedFiles(f *testing.F, suffix string) [][]byte {
	f.Helper()
	sums, err := repos.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, s := range sums {
		d, err := repos.Load(s.Name)
		if err != nil {
			f.Fatal(err)
		}
		names, _ := d.Files()
		for _, n := range names {
			if strings.HasSuffix(n, suffix) {
				b, _ := fs.ReadFile(d.FS, n)
				out = append(out, b)
			}
		}
	}
	return out
}

func FuzzParseSpec(f *testing.F) {
	for _, b := range embeddedFiles(f, "repo-spec.json") {
		f.Add(b)
	}
	f.Add([]byte(validSpec))
	f.Add([]byte(`{"name": null, "packages": {"base": [1, "x"]}, "tether": {"extra": ["/a", "/a"]}}`))
	f.Add([]byte(`{"gpgkeys": {"k": ["36E47E1CC4DCC5E8152D115CC0B5E0AB66FD4949"]}, "a": {"b": [[[[]]]]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := repos.ParseSpec("repo-spec.json", data)
		if err != nil {
			var se *repos.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *SpecError: %T %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "repos: repo-spec.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// A spec that parses has what the pipeline relies on.
		if s.Name == "" || s.Init == "" || s.Kernel == "" || len(s.Packages.Base) == 0 || s.ReleaseverOrDerived() == "" {
			t.Fatalf("accepted an incomplete spec: %+v", s)
		}
		if s.PackageManager != repos.TDNF && s.PackageManager != repos.Yum {
			t.Fatalf("accepted package manager %q", s.PackageManager)
		}
		for _, c := range []*repos.StagingCommand{s.Staging.Bootstrap, s.Staging.Appliance} {
			if c != nil && (len(c.Packages) == 0 || !(c.Erases() || c.Verb == repos.VerbInstall)) {
				t.Fatalf("accepted staging command %+v", c)
			}
		}
	})
}

func FuzzParseInit(f *testing.F) {
	for _, b := range embeddedFiles(f, ".sh") {
		f.Add(b)
	}
	f.Add([]byte("drivers=(\n    \"nf_nat_redirect\" \\\n    \"lockd\" \\\n)\ninstall-entropy () {\n  cat - > $1/x <<E\n\\$@\nE\n}\n"))
	f.Add([]byte("declare -a drivers=(a b)\ndrivers+=(c)\nx='y'\nfunction f { :; }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := repos.ParseInit("init.sh", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "repos: init.sh:") {
				t.Fatalf("error does not name init.sh:line: %v", err)
			}
			return
		}
		for _, d := range s.Drivers {
			if d == "" || strings.ContainsAny(d, " \t\n$;/") {
				t.Fatalf("driver %q accepted", d)
			}
		}
	})
}

func FuzzFingerprints(f *testing.F) {
	// Seeds from the real keys in the fixtures when they are there; the
	// fuzz target itself needs nothing from outside.
	for _, p := range []string{"vmware-vic/VMWARE-RPM-GPG-KEY", "distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release"} {
		if b, err := os.ReadFile(filepath.Join(testrepo.ModuleRoot(), "..", "shared", "fixtures", p)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fps, err := repos.Fingerprints(data)
		if err != nil {
			return
		}
		for _, fp := range fps {
			if n, err := repos.NormalizeFingerprint(fp); err != nil || n != fp {
				t.Fatalf("fingerprint %q is not normalised (%v)", fp, err)
			}
		}
	})
}

func FuzzGPGKeyValues(f *testing.F) {
	for _, b := range embeddedFiles(f, ".repo") {
		f.Add(b)
	}
	f.Add([]byte("[a]\ngpgkey=file:///a,\n  file:///b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range repos.GPGKeyValues(data) {
			if v == "" || strings.ContainsAny(v, " \t\n,") {
				t.Fatalf("value %q", v)
			}
		}
	})
}
