package pipeline

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
)

// The BDB case (Photon 2.0's rpm 4.14): the test repository's
// definition-bdb installs its rpm 4.14.3, whose macros say %_db_backend
// bdb, so the appliance's /var/lib/rpm is a Berkeley DB database. Oracles:
// db5.3_verify (the libdb of Photon 2.0's rpm) accepts every file, and
// Debian's rpm 4.18 reads it with _db_backend bdb_ro: -qa lists exactly the
// planned packages and one gpg-pubkey, -q NAME and -qf PATH find the
// installed rpm 4.14; each with empty stderr.
func TestApplianceBDB(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo", "cpio", "gzip", "sh", "rpm", "db5.3_verify")
	opts, repo := applianceOptions(t)
	def, err := repos.Load(filepath.Join(repo, "definition-bdb"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Definition = def
	opts.Mirrors["photon-bdb"] = "file://" + filepath.Join(repo, "photon-bdb") + "/"
	res, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(res.ISO) != "appliance-testrepo-bdb-2.0.iso" {
		t.Errorf("ISO %s", res.ISO)
	}
	const rpm414 = "rpm-4.14.3-1.ph2.x86_64"
	if !slices.Contains(res.Packages, rpm414) {
		t.Fatalf("the plan has no %s: %v", rpm414, res.Packages)
	}

	root := t.TempDir()
	x := exec.Command("sh", "-c", `isoinfo -R -i "$1" -x /boot/core.gz | gzip -dc | cpio -idm --quiet --no-absolute-filenames 'var/lib/rpm/*' './var/lib/rpm/*'`, "sh", res.ISO)
	x.Dir = root
	if out, err := x.CombinedOutput(); err != nil {
		t.Fatalf("extracting /var/lib/rpm: %v\n%s", err, out)
	}
	dbdir := filepath.Join(root, "var/lib/rpm")
	ents, err := os.ReadDir(dbdir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if e.Name() == "rpmdb.sqlite" {
			t.Errorf("the BDB image has %s", e.Name())
		}
		out, err := exec.Command("db5.3_verify", "-q", filepath.Join(dbdir, e.Name())).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("db5.3_verify %s: %v\n%s", e.Name(), err, out)
		}
	}
	if !slices.Contains(names, "Packages") {
		t.Fatalf("/var/lib/rpm holds %v: no Packages", names)
	}

	rpmQuery := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("rpm", append([]string{"--dbpath", dbdir, "--define", "_db_backend bdb_ro",
			"--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\n"}, args...)...)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("rpm %s: %v, stderr:\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	got, keys := splitPubkeys(rpmQuery("-qa"))
	if want := sorted(res.Packages); !slices.Equal(got, want) {
		t.Errorf("rpm -qa\n%s\nplanned\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(keys) != 1 {
		t.Errorf("gpg-pubkey entries %v, want one for the test key", keys)
	}
	if got := strings.TrimSpace(rpmQuery("-q", "rpm")); got != rpm414 {
		t.Errorf("rpm -q rpm: %q", got)
	}
	if got := strings.TrimSpace(rpmQuery("-qf", "/usr/bin/rpm")); got != rpm414 {
		t.Errorf("rpm -qf /usr/bin/rpm: %q", got)
	}
}

// splitPubkeys splits `rpm -qa` output into the packages, sorted, and the
// gpg-pubkey entries.
func splitPubkeys(qa string) (pkgs, keys []string) {
	for _, l := range strings.Fields(qa) {
		if strings.HasPrefix(l, "gpg-pubkey-") {
			keys = append(keys, l)
		} else {
			pkgs = append(pkgs, l)
		}
	}
	sort.Strings(pkgs)
	return pkgs, keys
}
