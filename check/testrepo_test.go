package check_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/check"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// variant is a temp copy of the test repository and its definition (with
// repo_gpgcheck=1), to be broken on purpose; its photon repository is the
// one the helpers edit.
type variant struct {
	*testrepo.Copy
	t   *testing.T
	src string
}

func newVariant(t *testing.T) *variant {
	t.Helper()
	c := testrepo.NewCopy(t)
	p := c.Path("definition/photon.repo")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("gpgcheck=1\n"), []byte("gpgcheck=1\nrepo_gpgcheck=1\n"))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return &variant{Copy: c, t: t, src: c.Src}
}

func (v *variant) path(rel string) string { return v.Path(rel) }

func (v *variant) run(opts check.Options) *check.Report {
	v.t.Helper()
	opts.Repo = v.path("definition")
	opts.CacheDir = filepath.Join(v.t.TempDir(), "cache")
	opts.Mirrors = map[string]string{"photon": "file://" + v.path("photon") + "/", "photon-updates": "file://" + v.path("photon-updates") + "/"}
	rep, err := check.Run(ctx, opts)
	if err != nil {
		v.t.Fatal(err)
	}
	return rep
}

// replace puts file in place of photon's package rel, then regenerates.
func (v *variant) replace(rel, file string) {
	v.t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		v.t.Fatal(err)
	}
	if err := os.WriteFile(v.path("photon/"+rel), data, 0o644); err != nil {
		v.t.Fatal(err)
	}
	v.Regen("photon")
}

func verdicts(rep *check.Report) map[string]check.PackageResult {
	m := map[string]check.PackageResult{}
	for _, p := range rep.Packages {
		m[p.NEVRA] = p
	}
	return m
}

// named fails unless some problem line holds every one of words.
func named(t *testing.T, rep *check.Report, words ...string) {
	t.Helper()
	for _, p := range rep.Problems {
		all := true
		for _, w := range words {
			all = all && strings.Contains(p, w)
		}
		if all {
			return
		}
	}
	t.Errorf("no problem names %q; problems:\n%s", words, strings.Join(rep.Problems, "\n"))
}

// The intact test repository passes, and its closure and installability
// agree with dnf.
func TestTestRepoIntact(t *testing.T) {
	v := newVariant(t)
	rep := v.run(check.Options{Packages: true})
	if !rep.OK() {
		t.Fatalf("problems on the intact repository:\n%s", strings.Join(rep.Problems, "\n"))
	}
	var all []string
	for _, p := range rep.Packages {
		all = append(all, p.NEVRA)
		if p.Verdict != check.VerdictOK || p.Key == "" {
			t.Errorf("%s: %s %q", p.NEVRA, p.Verdict, p.Key)
		}
	}
	if n := len(testrepo.PackageFiles(t, v.src)); len(all) != n {
		t.Errorf("%d packages verified, the test repository has %d .rpm files", len(all), n)
	}
	for _, r := range rep.Repositories {
		if r.Signature == "not checked" {
			t.Errorf("%s: repomd.xml signature not checked with repo_gpgcheck=1", r.ID)
		}
	}
	d := newDNF(t, "2.0", map[string]string{"photon": v.path("photon"), "photon-updates": v.path("photon-updates")})
	if want, got := d.repoclosure(t), ourClosure(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("closure: ours %v, dnf repoclosure %v", got, want)
	}
	// Every package is installable here: a small sample keeps dnf's
	// seconds per answer down; the broken copy below has the other kind.
	checkInstallabilityWithDNF(t, d, rep, all, 12)
}

// Each defect of a broken copy is named, with the right verdict.
func TestTestRepoBroken(t *testing.T) {
	const victim = "photon-repos-2.0-2.ph2.noarch" // what negative/*.rpm are built from
	t.Run("unsigned repomd.xml", func(t *testing.T) {
		v := newVariant(t)
		os.Remove(v.path("photon/repodata/repomd.xml.asc"))
		rep := v.run(check.Options{})
		named(t, rep, "repository photon:", "signature")
	})
	t.Run("repomd.xml signed by another key", func(t *testing.T) {
		v := newVariant(t)
		// photon-updates' signature does not cover photon's repomd.xml.
		data, err := os.ReadFile(v.path("photon-updates/repodata/repomd.xml.asc"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(v.path("photon/repodata/repomd.xml.asc"), data, 0o644)
		rep := v.run(check.Options{})
		named(t, rep, "repository photon:", "signature")
	})
	t.Run("unsigned package", func(t *testing.T) {
		v := newVariant(t)
		v.replace(victim+".rpm", filepath.Join(v.src, "negative", "unsigned.rpm"))
		rep := v.run(check.Options{Packages: true})
		if p := verdicts(rep)[victim]; p.Verdict != check.VerdictUnsigned {
			t.Errorf("%s: %+v", victim, p)
		}
		named(t, rep, victim, "unsigned")
	})
	t.Run("package signed by another key", func(t *testing.T) {
		v := newVariant(t)
		v.replace(victim+".rpm", filepath.Join(v.src, "negative", "otherkey.rpm"))
		rep := v.run(check.Options{Packages: true})
		// The oracle of the key ID: gpg on the other public key.
		out, err := exec.Command("gpg", "--homedir", t.TempDir(), "--with-colons", "--show-keys", filepath.Join(v.src, "other-key.asc")).Output()
		if err != nil {
			t.Fatal(err)
		}
		keyID := strings.ToLower(strings.Split(strings.Split(string(out), "\n")[0], ":")[4])
		if p := verdicts(rep)[victim]; p.Verdict != check.VerdictNoKey || p.Key != keyID {
			t.Errorf("%s: %+v, want nokey %s", victim, p, keyID)
		}
		named(t, rep, victim, "nokey")
	})
	t.Run("tampered package", func(t *testing.T) {
		v := newVariant(t)
		v.replace(victim+".rpm", filepath.Join(v.src, "negative", "tampered.rpm"))
		// And one changed after the metadata was written.
		p := v.path("photon/bash-5.2.15-1.ph2.x86_64.rpm")
		data, _ := os.ReadFile(p)
		data[len(data)-100] ^= 0xff
		os.WriteFile(p, data, 0o644)
		rep := v.run(check.Options{Packages: true})
		vs := verdicts(rep)
		for _, n := range []string{victim, "bash-5.2.15-1.ph2.x86_64"} {
			if vs[n].Verdict != check.VerdictBad {
				t.Errorf("%s: %+v", n, vs[n])
			}
			named(t, rep, n, "bad")
		}
	})
	t.Run("missing package file", func(t *testing.T) {
		v := newVariant(t)
		os.Remove(v.path("photon/busybox-1.0-1.ph2.noarch.rpm"))
		rep := v.run(check.Options{Packages: true})
		if p := verdicts(rep)["busybox-1.0-1.ph2.noarch"]; p.Verdict != check.VerdictMissing {
			t.Errorf("busybox: %+v", p)
		}
		named(t, rep, "busybox-1.0-1.ph2.noarch", "missing")
	})
	t.Run("missing dependency", func(t *testing.T) {
		v := newVariant(t)
		os.Remove(v.path("photon/libhavege-1.9.14-1.ph2.x86_64.rpm"))
		v.Regen("photon")
		rep := v.run(check.Options{})
		d := newDNF(t, "2.0", map[string]string{"photon": v.path("photon"), "photon-updates": v.path("photon-updates")})
		want := d.repoclosure(t)
		if got := ourClosure(rep); len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("closure: ours %v, dnf repoclosure %v", got, want)
		}
		named(t, rep, "haveged-1.9.14-1.ph2.x86_64", "nothing provides", "libhavege")
		named(t, rep, "base set", "does not resolve", "haveged")
		var all []string
		for _, u := range rep.Uninstallable {
			all = append(all, u.NEVRA)
		}
		all = append(all, "bash-5.2.15-1.ph2.x86_64", "iproute2-6.1.0-1.ph2.x86_64", "kmod-30-1.ph2.x86_64")
		checkInstallabilityWithDNF(t, d, rep, all, 12)
	})
	t.Run("primary.xml lies", func(t *testing.T) {
		v := newVariant(t)
		// bash's entry claims another release; rpm reads the header's.
		out, err := exec.Command("rpm", "-qp", "--nosignature", "--qf", "%{RELEASE}", v.path("photon/bash-5.2.15-1.ph2.x86_64.rpm")).Output()
		if err != nil || string(out) != "1.ph2" {
			t.Fatalf("rpm -qp: %v %q", err, out)
		}
		v.EditPrimary("photon", func(s string) string {
			return strings.Replace(s, `ver="5.2.15" rel="1.ph2"`, `ver="5.2.15" rel="9.ph2"`, 1)
		})
		rep := v.run(check.Options{Packages: true})
		if p := verdicts(rep)["bash-5.2.15-9.ph2.x86_64"]; p.Verdict != check.VerdictMismatch || !strings.Contains(p.Detail, `release "9.ph2" in the metadata, "1.ph2" in the header`) {
			t.Errorf("bash: %+v", p)
		}
		named(t, rep, "bash-5.2.15-9.ph2.x86_64", "mismatch")
	})
	t.Run("primary.xml lists a dependency the header lacks", func(t *testing.T) {
		v := newVariant(t)
		out, err := exec.Command("rpm", "-qp", "--nosignature", "--requires", v.path("photon/haveged-1.9.14-1.ph2.x86_64.rpm")).Output()
		if err != nil || strings.Contains(string(out), "bash") {
			t.Fatalf("rpm -qp --requires: %v %q", err, out)
		}
		v.EditPrimary("photon", func(s string) string {
			i := strings.Index(s, "<name>haveged</name>")
			j := i + strings.Index(s[i:], "<rpm:requires>") + len("<rpm:requires>")
			return s[:j] + `<rpm:entry name="bash"/>` + s[j:]
		})
		rep := v.run(check.Options{Packages: true})
		if p := verdicts(rep)["haveged-1.9.14-1.ph2.x86_64"]; p.Verdict != check.VerdictMismatch || !strings.Contains(p.Detail, `requires "bash" in the metadata, not in the header`) {
			t.Errorf("haveged: %+v", p)
		}
		named(t, rep, "haveged-1.9.14-1.ph2.x86_64", "mismatch")
	})
	t.Run("malformed package", func(t *testing.T) {
		v := newVariant(t)
		junk := bytes.Repeat([]byte("not an rpm "), 100)
		os.WriteFile(v.path("photon/junk.rpm"), junk, 0o644)
		s := sha256.Sum256(junk)
		v.EditPrimary("photon", func(x string) string {
			i := strings.Index(x, "<name>busybox</name>")
			j := i + strings.Index(x[i:], "</package>")
			e := x[i:j]
			e = regexp.MustCompile(`<checksum type="sha256" pkgid="YES">[0-9a-f]+</checksum>`).ReplaceAllString(e, `<checksum type="sha256" pkgid="YES">`+hex.EncodeToString(s[:])+`</checksum>`)
			e = regexp.MustCompile(`<size package="\d+"`).ReplaceAllString(e, fmt.Sprintf(`<size package="%d"`, len(junk)))
			e = regexp.MustCompile(`<location href="[^"]+"`).ReplaceAllString(e, `<location href="junk.rpm"`)
			return x[:i] + e + x[j:]
		})
		rep := v.run(check.Options{Packages: true})
		if p := verdicts(rep)["busybox-1.0-1.ph2.noarch"]; p.Verdict != check.VerdictMalformed {
			t.Errorf("busybox: %+v", p)
		}
		named(t, rep, "busybox-1.0-1.ph2.noarch", "malformed")
	})
}
