package rpmrepo_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// VerifyLocalRPM on every package of the test repository: the file
// enters the cache under the SHA-256 sha256sum computes, verifies with
// the repository's key, and its description is rpm's reading of the
// header — NEVRA, requires, provides, files — with the build time; an
// unsigned package (negative/unsigned.rpm) is still described, with
// ErrUnsigned.
func TestVerifyLocalRPM(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "sha256sum")
	dir := testrepo.Dir(t)
	key, err := os.ReadFile(filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := rpmrepo.ReadKeyRing(key)
	if err != nil {
		t.Fatal(err)
	}
	cache := &rpmrepo.Cache{Dir: t.TempDir()}
	rpmq := func(file string, args ...string) []string {
		out, err := exec.Command("rpm", append([]string{"-qp", "--nosignature", "--nodigest"}, append(args, file)...)...).Output()
		if err != nil {
			t.Fatalf("rpm -qp %v %s: %v", args, file, err)
		}
		l := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(l) == 1 && (l[0] == "" || l[0] == "(contains no files)") {
			return nil
		}
		slices.Sort(l)
		return slices.Compact(l)
	}
	deps := func(ds []rpmrepo.Dep) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.String())
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	files := testrepo.PackageFiles(t, dir)
	for _, file := range append(files, filepath.Join(dir, "negative", "unsigned.rpm")) {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		cached, sum, err := cache.Add(f, nil)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sha256sum", file).Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Fields(string(out))[0]; sum.Value != want || cached != cache.Path(sum) {
			t.Errorf("%s: cached as %s at %s, sha256sum says %s", file, sum, cached, want)
		}
		p, v, err := rpmrepo.VerifyLocalRPM(cached, file, "@commandline", sum, kr)
		switch {
		case strings.HasSuffix(file, "unsigned.rpm"):
			if !errors.Is(err, rpmrepo.ErrUnsigned) || p == nil {
				t.Errorf("%s: %v (package %v), want ErrUnsigned and a package", file, err, p)
				continue
			}
		case err != nil || v.Fingerprint == "":
			t.Errorf("%s: %v", file, err)
			continue
		}
		if got, want := p.NEVRA(), rpmq(file, "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}")[0]; got != want {
			t.Errorf("%s: NEVRA %s, rpm says %s", file, got, want)
		}
		if got, want := deps(p.Requires), rpmq(file, "-R"); !slices.Equal(got, want) {
			t.Errorf("%s: requires\n%q\nrpm -qpR\n%q", file, got, want)
		}
		if got, want := deps(p.Provides), rpmq(file, "--provides"); !slices.Equal(got, want) {
			t.Errorf("%s: provides\n%q\nrpm --provides\n%q", file, got, want)
		}
		if want := rpmq(file, "-l"); !slices.Equal(p.Files, want) || !p.FilesComplete {
			t.Errorf("%s: files\n%q\nrpm -qpl\n%q", file, p.Files, want)
		}
		if want := rpmq(file, "--qf", "%{BUILDTIME}")[0]; want != strconv.FormatInt(p.BuildTime, 10) {
			t.Errorf("%s: build time %d, rpm says %s", file, p.BuildTime, want)
		}
		if p.Repo != "@commandline" || p.Location != file || p.Checksum != sum {
			t.Errorf("%s: repo %q location %q checksum %v", file, p.Repo, p.Location, p.Checksum)
		}
	}
	// Not an RPM: no package, ErrMalformedRPM naming the file.
	text := filepath.Join(t.TempDir(), "x.rpm")
	os.WriteFile(text, []byte("hello"), 0o644)
	if p, _, err := rpmrepo.VerifyLocalRPM(text, text, "@commandline", rpmrepo.Checksum{}, kr); p != nil || !errors.Is(err, rpmrepo.ErrMalformedRPM) || !strings.Contains(err.Error(), text) {
		t.Errorf("a text file: %v, %v", p, err)
	}
}

// FuzzPackageFromHeader: any main header is described or refused as
// malformed, never a panic. Seeded with the fixtures' real headers.
func FuzzPackageFromHeader(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testrepo.Fixtures(f), "real", "pgdg-common-rhel8", "*.rpm"))
	for _, file := range files {
		fh, err := os.Open(file)
		if err != nil {
			f.Fatal(err)
		}
		h, err := rpmhdr.ReadFile(fh, -1)
		fh.Close()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h.Main.Raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := rpmhdr.Read(bytes.NewReader(data), rpmhdr.MaxData, int64(len(data)), "main header")
		if err != nil {
			return
		}
		if _, err := rpmrepo.PackageFromHeader(h); err != nil && !errors.Is(err, rpmrepo.ErrMalformedRPM) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
