package check_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/check"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/pipeline"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
)

// The PGDG key, as the fixture's README names it.
const pgdgFingerprint = "D4BF08AE67A0B4C7A1DBCCD240BCA2B408B40D20"

func pgdgDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(testrepo.Fixtures(t), "real", "pgdg-common-rhel8")
}

// pgdgDefinition is testdata/pgdg-common-rhel8 (key pinned, taken from
// pgdg-redhat-repo; repo_gpgcheck=1), edited by edit when not nil.
func pgdgDefinition(t *testing.T, edit func(spec map[string]any)) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "pgdg-common-rhel8")
	if err := os.CopyFS(d, os.DirFS("testdata/pgdg-common-rhel8")); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		p := filepath.Join(d, "repo-spec.json")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var spec map[string]any
		if err := json.Unmarshal(data, &spec); err != nil {
			t.Fatal(err)
		}
		edit(spec)
		data, _ = json.Marshal(spec)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func pgdgOptions(t *testing.T, def string) check.Options {
	return check.Options{
		Repo: def, CacheDir: filepath.Join(t.TempDir(), "cache"),
		Mirrors: map[string]string{"pgdg-common": "file://" + pgdgDir(t) + "/"},
	}
}

// rpmNEVRA is rpm's own reading of a package file's NEVRA.
func rpmNEVRA(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("rpm", "-qp", "--nosignature", "--qf", "%{NAME} %{EPOCHNUM} %{VERSION}-%{RELEASE}.%{ARCH}", file).Output()
	if err != nil {
		t.Fatalf("rpm -qp %s: %v", file, err)
	}
	f := strings.Fields(string(out))
	if f[1] == "0" {
		return f[0] + "-" + f[2]
	}
	return f[0] + "-" + f[1] + ":" + f[2]
}

// check on the vendor's repository: the signed repomd.xml verifies with the
// key taken from pgdg-redhat-repo, every metadata checksum holds, the 12
// RPMs present verify with that key (rpmkeys -K is their oracle) and the
// 525 others are missing; closure equals dnf repoclosure; installability
// equals dnf install --assumeno on a sample.
func TestPGDGCheck(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "rpmkeys", "dnf")
	dir := pgdgDir(t)
	opts := pgdgOptions(t, pgdgDefinition(t, nil))
	opts.Packages = true
	rep, err := check.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("check found nothing wrong, but 525 packages are missing")
	}
	if len(rep.Repositories) != 1 {
		t.Fatalf("repositories: %+v", rep.Repositories)
	}
	rr := rep.Repositories[0]
	if rr.Error != "" || rr.Signature != pgdgFingerprint {
		t.Errorf("repomd.xml signature: %q (error %q), want %s", rr.Signature, rr.Error, pgdgFingerprint)
	}
	// The counts the fixture's README gives.
	if rr.Packages != 537 || rr.ByArch["x86_64"] != 323 || rr.ByArch["noarch"] != 214 {
		t.Errorf("counts: %d packages, by arch %v; want 537 (x86_64 323, noarch 214)", rr.Packages, rr.ByArch)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "repodata"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Metadata) != len(entries)-2 { // all but repomd.xml and its .asc
		t.Errorf("metadata records checked: %d, the fixture has %d files", len(rr.Metadata), len(entries)-2)
	}
	for _, m := range rr.Metadata {
		if !m.OK {
			t.Errorf("metadata %s: %s", m.Type, m.Problem)
		}
	}

	// The oracle: rpmkeys with the fixture's key file, in a private rpmdb.
	db := t.TempDir()
	if out, err := exec.Command("rpmkeys", "--dbpath", db, "--import", filepath.Join(dir, "PGDG-RPM-GPG-KEY-RHEL")).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v\n%s", err, out)
	}
	present := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.rpm"))
	for _, f := range files {
		out, err := exec.Command("rpmkeys", "--dbpath", db, "-K", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "digests signatures OK") {
			t.Fatalf("rpmkeys -K %s: %v\n%s", f, err, out)
		}
		present[rpmNEVRA(t, f)] = true
	}
	if len(present) != 12 {
		t.Fatalf("fixture: %d RPMs, want 12", len(present))
	}
	var all []string
	missing := 0
	for _, p := range rep.Packages {
		all = append(all, p.NEVRA)
		switch {
		case present[p.NEVRA]:
			if p.Verdict != check.VerdictOK || p.Key != pgdgFingerprint {
				t.Errorf("%s: verdict %s key %q (%s), want ok by %s", p.NEVRA, p.Verdict, p.Key, p.Detail, pgdgFingerprint)
			}
			delete(present, p.NEVRA)
		case p.Verdict == check.VerdictMissing:
			missing++
		default:
			t.Errorf("%s is not in the fixture, but its verdict is %s (%s)", p.NEVRA, p.Verdict, p.Detail)
		}
	}
	if len(present) != 0 || missing != 525 {
		t.Errorf("not reported: %v; missing: %d, want 525", present, missing)
	}

	d := newDNF(t, "8", map[string]string{"pgdg": dir})
	if want, got := d.repoclosure(t), ourClosure(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("closure differs from dnf repoclosure: %d unresolved, dnf %d\nonly ours: %v\nonly dnf's: %v",
			len(got), len(want), minus(got, want), minus(want, got))
	}
	checkInstallabilityWithDNF(t, d, rep, all, 30)
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
			if len(out) == 10 {
				break
			}
		}
	}
	return out
}

// resolve on the vendor's repository answers as dnf does: the same
// packages where dnf installs, no solution where dnf refuses, for the same
// reason.
func TestPGDGResolveLikeDNF(t *testing.T) {
	testrepo.NeedTools(t, "dnf")
	dir := pgdgDir(t)
	def := pgdgDefinition(t, nil)
	d := newDNF(t, "8", map[string]string{"pgdg": dir})
	for _, req := range []string{"gdal34-doc", "pgdg-pyproject-srpm-macros", "pgdg-redhat-repo"} {
		t.Run(req, func(t *testing.T) {
			ok, want, out := d.install(req)
			// The pinned key comes from the newest pgdg-redhat-repo this
			// slice serves (it serves 2 of the 7 versions primary.xml lists).
			d, err := repos.Load(def)
			if err != nil {
				t.Fatal(err)
			}
			res, err := pipeline.Resolve(ctx, pipeline.Options{Definition: d, CacheDir: filepath.Join(t.TempDir(), "cache"),
				Mirrors: map[string]string{"pgdg-common": "file://" + dir + "/"}}, []string{req})
			if !ok {
				if err == nil {
					t.Fatalf("dnf refuses %s, resolve answers %v\n%s", req, res.Packages, out)
				}
				if !strings.Contains(out, "nothing provides /etc/redhat-release") || !strings.Contains(err.Error(), "/etc/redhat-release") {
					t.Errorf("not the same reason: resolve %v; dnf:\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("dnf installs %v, resolve: %v", want, err)
			}
			var got []string
			for _, p := range res.Packages {
				got = append(got, p.NEVRA())
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("resolve %s = %v, dnf installs %v", req, got, want)
			}
		})
	}
}

// A set of the definition that does not resolve is a problem, with the
// explanation; a lock is checked against what the repository serves.
func TestPGDGSetsAndLock(t *testing.T) {
	dir := pgdgDir(t)
	def := pgdgDefinition(t, func(spec map[string]any) {
		spec["packages"].(map[string]any)["bootstrap"] = "pgdg-redhat-repo"
	})
	opts := pgdgOptions(t, def)
	f := filepath.Join(dir, "gdal34-doc-3.4.3-10PGDG.rhel8.noarch.rpm")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	lock := resolver.Lock{Version: resolver.LockVersion, Packages: []resolver.LockedPackage{
		{Name: "gdal34-doc", NEVRA: "gdal34-doc-3.4.3-10PGDG.rhel8.noarch", Checksum: "sha256:" + hex.EncodeToString(sum[:]), Repo: "pgdg-common"},
		{Name: "gdal34-doc", NEVRA: "gdal34-doc-3.4.3-1.rhel8.noarch", Checksum: "sha256:" + strings.Repeat("ab", 32), Repo: "pgdg-common"},
		{Name: "gdal34-doc", NEVRA: "gdal34-doc-3.4.3-99.rhel8.noarch", Checksum: "sha256:" + strings.Repeat("cd", 32), Repo: "pgdg-common"},
	}}
	ld, err := lock.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	opts.LockFile = filepath.Join(t.TempDir(), "lock.json")
	if err := os.WriteFile(opts.LockFile, ld, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := check.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]check.SetResult{}
	for _, s := range rep.Sets {
		sets[s.Name] = s
	}
	if !sets["base"].Resolves || sets["bootstrap"].Resolves || !strings.Contains(sets["bootstrap"].Problem, "nothing provides /etc/redhat-release") {
		t.Errorf("sets: %+v", rep.Sets)
	}
	got := map[string]string{}
	for _, l := range rep.Lock {
		got[l.NEVRA] = l.Problem
	}
	if len(got) != 2 || !strings.Contains(got["gdal34-doc-3.4.3-1.rhel8.noarch"], "another checksum") ||
		!strings.Contains(got["gdal34-doc-3.4.3-99.rhel8.noarch"], "no repository serves it") {
		t.Errorf("lock issues: %v", got)
	}
}
