package rpmdb

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// fixture returns a file of ../shared/fixtures/go-rpmdb.
func fixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testrepo.Fixtures(t), "go-rpmdb", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectedQA reads a fixture's rpm-qa.tsv (rpm 4.18's answer) as NEVRAs.
func expectedQA(t *testing.T, rel string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(fixture(t, rel)))
	first := true
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if first {
			first = false
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) < 5 {
			t.Fatalf("%s: line %q", rel, l)
		}
		out = append(out, nevraString(f[0], f[1], f[2], f[3], f[4]))
	}
	sort.Strings(out)
	return out
}

func nevraString(n, e, v, r, a string) string {
	if e != "" && e != "0" && e != "(none)" {
		return fmt.Sprintf("%s-%s:%s-%s.%s", n, e, v, r, a)
	}
	return fmt.Sprintf("%s-%s-%s.%s", n, v, r, a)
}

func nevras(ins []Installed) []string {
	var out []string
	for _, in := range ins {
		e := ""
		if in.Header.Has(rpmhdr.TagEpoch) {
			e = fmt.Sprint(in.NEVRA.Epoch)
		}
		out = append(out, nevraString(in.NEVRA.Name, e, in.NEVRA.Version, in.NEVRA.Release, in.NEVRA.Arch))
	}
	sort.Strings(out)
	return out
}

func TestReadBDBFixture(t *testing.T) {
	ins, err := ReadBDB("Packages", fixture(t, "libuuid/Packages"))
	if err != nil {
		t.Fatal(err)
	}
	got, want := nevras(ins), expectedQA(t, "libuuid/rpm-qa.tsv")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// repoRPMs returns the test repository's packages (one per name, newest
// by file name) and its key.
func repoRPMs(t testing.TB) ([]string, []byte) {
	dir := testrepo.Dir(t)
	files, err := filepath.Glob(filepath.Join(dir, "photon", "*.rpm"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rpms in %s: %v", dir, err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "RPM-GPG-KEY-vicroot-test"))
	if err != nil {
		t.Fatal(err)
	}
	return files, key
}

// loadPackages reads the headers of rpm files.
func loadPackages(t testing.TB, files []string) []Package {
	var out []Package
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		h, err := rpmhdr.ReadFile(fh, st.Size())
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, Package{Sig: h.Sig.Raw, Main: h.Main.Raw})
	}
	return out
}

// uniqueNames keeps the last file of each package name (photon-repos has
// two versions).
func uniqueNames(t testing.TB, files []string) []string {
	byName := map[string]string{}
	var order []string
	for _, f := range files {
		p := loadPackages(t, []string{f})[0]
		h, _ := rpmhdr.Read(bytes.NewReader(p.Main), rpmhdr.MaxData, -1, "x")
		n, _ := h.NEVRA()
		if _, ok := byName[n.Name]; !ok {
			order = append(order, n.Name)
		}
		byName[n.Name] = f
	}
	var out []string
	for _, n := range order {
		out = append(out, byName[n])
	}
	return out
}

func writeDir(t *testing.T, files []File) string {
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// run runs a command, failing on a non-zero exit or any stderr output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil || errb.Len() > 0 {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func rpmQA(t *testing.T, dbdir string, extra ...string) []string {
	args := append(append([]string{}, extra...), "--dbpath", dbdir, "-qa", "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}.%{ARCH}\n")
	out := strings.Fields(run(t, "rpm", args...))
	sort.Strings(out)
	return out
}

func TestWriteBDB(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "db5.3_verify")
	files, _ := repoRPMs(t)
	files = uniqueNames(t, files)
	pkgs := loadPackages(t, files)
	db, err := Write(BDB, pkgs, Options{InstallTime: 1700000000, Color: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, db)
	for _, f := range db {
		run(t, "db5.3_verify", "-q", filepath.Join(dir, f.Name))
	}
	ins, err := ReadBDB("Packages", db[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	want := nevras(ins)
	if len(want) != len(pkgs) {
		t.Fatalf("read back %d headers, wrote %d", len(want), len(pkgs))
	}
	got := rpmQA(t, dir, "--define", "_db_backend bdb_ro")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rpm -qa:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
