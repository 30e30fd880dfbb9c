package testrepo

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Copy is a temp copy of the test repository (photon, photon-updates and
// the definition), to be broken on purpose. Repository metadata it edits
// is signed again with the test key, as mkrepo signs it.
type Copy struct {
	t testing.TB
	// Src is the shared test repository; Dir the copy.
	Src, Dir string
	gnupg    string
}

// NewCopy copies the test repository into a temp directory.
func NewCopy(t testing.TB) *Copy {
	t.Helper()
	NeedTools(t, "createrepo_c", "gpg", "gpgconf", "rpm")
	src := Dir(t)
	w := t.TempDir()
	for _, d := range []string{"photon", "photon-updates", "definition"} {
		if err := os.CopyFS(filepath.Join(w, d), os.DirFS(filepath.Join(src, d))); err != nil {
			t.Fatal(err)
		}
	}
	return &Copy{t: t, Src: src, Dir: w}
}

// Path is rel under the copy.
func (c *Copy) Path(rel string) string { return filepath.Join(c.Dir, rel) }

// Regen rebuilds repo's metadata as testdata/mkrepo does and signs
// repomd.xml with the repository's key.
func (c *Copy) Regen(repo string) {
	c.t.Helper()
	d := c.Path(repo)
	if out, err := exec.Command("createrepo_c", "--quiet", "--no-database", "--workers", "1", d).CombinedOutput(); err != nil {
		c.t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	c.Sign(repo)
}

// home is a private copy of the test key's GnuPG home.
func (c *Copy) home() string {
	c.t.Helper()
	if c.gnupg == "" {
		c.gnupg = filepath.Join(c.t.TempDir(), "g")
		if err := os.CopyFS(c.gnupg, os.DirFS(filepath.Join(c.Src, "gnupg"))); err != nil {
			c.t.Fatal(err)
		}
		os.Chmod(c.gnupg, 0o700)
		home := c.gnupg
		c.t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })
	}
	return c.gnupg
}

// SignPackages signs RPM files with the test key (rpmsign --addsign), as
// mkrepo signs the repository's packages.
func (c *Copy) SignPackages(files ...string) {
	c.t.Helper()
	home := c.home()
	out, err := exec.Command("gpg", "--homedir", home, "--batch", "--with-colons", "--list-secret-keys").Output()
	if err != nil {
		c.t.Fatalf("gpg --list-secret-keys: %v", err)
	}
	var fpr string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Split(l, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	gpg, err := exec.LookPath("gpg")
	if err != nil || fpr == "" {
		c.t.Fatalf("no gpg (%v) or no secret key in %s", err, home)
	}
	args := append([]string{"--define", "__gpg " + gpg, "--define", "_gpg_name " + fpr, "--define", "_gpg_path " + home, "--addsign"}, files...)
	if out, err := exec.Command("rpmsign", args...).CombinedOutput(); err != nil {
		c.t.Fatalf("rpmsign: %v\n%s", err, out)
	}
}

// Sign signs repo's repomd.xml (detached, armored) with the test key.
func (c *Copy) Sign(repo string) {
	c.t.Helper()
	c.home()
	md := c.Path(repo + "/repodata/repomd.xml")
	os.Remove(md + ".asc")
	out, err := exec.Command("gpg", "--homedir", c.gnupg, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "",
		"--armor", "--detach-sign", "-o", md+".asc", md).CombinedOutput()
	if err != nil {
		c.t.Fatalf("gpg --detach-sign: %v\n%s", err, out)
	}
}

// EditPrimary rewrites repo's primary.xml.gz with edit (which must change
// something), then repomd.xml's record of it (checksums, sizes), and signs
// repomd.xml again: a mirror's lie that every metadata check passes.
func (c *Copy) EditPrimary(repo string, edit func(string) string) {
	c.t.Helper()
	c.EditRepodata(repo, "primary", edit)
}

// EditRepodata is EditPrimary for the gzip-compressed metadata of type typ
// ("primary", "filelists", "other").
func (c *Copy) EditRepodata(repo, typ string, edit func(string) string) {
	c.t.Helper()
	mdPath := c.Path(repo + "/repodata/repomd.xml")
	md, err := os.ReadFile(mdPath)
	if err != nil {
		c.t.Fatal(err)
	}
	m := regexp.MustCompile(`<location href="(repodata/[^"]*` + typ + `.xml.gz)"`).FindSubmatch(md)
	if m == nil {
		c.t.Fatalf("no %s.xml.gz in repomd.xml", typ)
	}
	gzPath := c.Path(repo + "/" + string(m[1]))
	gzData, err := os.ReadFile(gzPath)
	if err != nil {
		c.t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gzData))
	if err != nil {
		c.t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		c.t.Fatal(err)
	}
	edited := []byte(edit(string(plain)))
	if bytes.Equal(edited, plain) {
		c.t.Fatalf("EditRepodata %s: the edit changed nothing", typ)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(edited)
	zw.Close()
	if err := os.WriteFile(gzPath, z.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
	hex256 := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	s := string(md)
	i := strings.Index(s, `<data type="`+typ+`">`)
	j := i + strings.Index(s[i:], "</data>")
	rec := s[i:j]
	rec = regexp.MustCompile(`<checksum type="sha256">[0-9a-f]+</checksum>`).ReplaceAllString(rec, `<checksum type="sha256">`+hex256(z.Bytes())+`</checksum>`)
	rec = regexp.MustCompile(`<open-checksum type="sha256">[0-9a-f]+</open-checksum>`).ReplaceAllString(rec, `<open-checksum type="sha256">`+hex256(edited)+`</open-checksum>`)
	rec = regexp.MustCompile(`<size>\d+</size>`).ReplaceAllString(rec, fmt.Sprintf("<size>%d</size>", z.Len()))
	rec = regexp.MustCompile(`<open-size>\d+</open-size>`).ReplaceAllString(rec, fmt.Sprintf("<open-size>%d</open-size>", len(edited)))
	if err := os.WriteFile(mdPath, []byte(s[:i]+rec+s[j:]), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.Sign(repo)
}

// DropPackage removes the package called name from repo's primary.xml in
// the copy (its file stays on disk), so that a build can only get it
// some other way.
func (c *Copy) DropPackage(repo, name string) {
	c.t.Helper()
	c.EditPrimary(repo, func(s string) string {
		re := regexp.MustCompile(`(?s)<package type="rpm">\s*<name>` + regexp.QuoteMeta(name) + `</name>.*?</package>\s*`)
		out := re.ReplaceAllString(s, "")
		n := strings.Count(s, "<package ") - strings.Count(out, "<package ")
		return regexp.MustCompile(`packages="\d+"`).ReplaceAllStringFunc(out, func(m string) string {
			var k int
			fmt.Sscanf(m, `packages="%d"`, &k)
			return fmt.Sprintf(`packages="%d"`, k-n)
		})
	})
}
