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
	"testing/fstest"

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
		a := in.NEVRA.Arch
		if a == "" {
			a = "(none)"
		}
		out = append(out, nevraString(in.NEVRA.Name, e, in.NEVRA.Version, in.NEVRA.Release, a))
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
// by file name) and its key. coreutils is left out: it and toybox own the
// same commands (/bin/chmod, ...), so rpm installs one or the other, never
// both (the appliance erases toybox before it installs coreutils).
func repoRPMs(t testing.TB) ([]string, []byte) {
	dir := testrepo.Dir(t)
	all, err := filepath.Glob(filepath.Join(dir, "photon", "*.rpm"))
	if err != nil || len(all) == 0 {
		t.Fatalf("no rpms in %s: %v", dir, err)
	}
	var files []string
	for _, f := range all {
		if !strings.HasPrefix(filepath.Base(f), "coreutils-") {
			files = append(files, f)
		}
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
	files, key := repoRPMs(t)
	files = uniqueNames(t, files)
	pkgs := loadPackages(t, files)
	db, err := Write(BDB, pkgs, Options{InstallTime: 1700000000, Color: 3, Keys: [][]byte{key}})
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
	keys := 0
	for _, n := range want {
		if strings.HasPrefix(n, "gpg-pubkey-") {
			keys++
		}
	}
	if len(want) != len(pkgs)+1 || keys != 1 {
		t.Fatalf("read back %d headers (%v), wrote %d and a key", len(want), want, len(pkgs))
	}
	got := rpmQA(t, dir, "--define", "_db_backend bdb_ro")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rpm -qa:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// checkQueries asks rpm (with the given backend flags) about the database
// in dbdir the questions an image's rpm and tdnf ask: -q NAME, -qf PATH,
// -qR NAME and --whatprovides, each answered as `rpm -qp` answers them on
// the package file, with empty stderr.
func checkQueries(t *testing.T, dbdir string, backend []string, files []string) {
	q := func(args ...string) string {
		return run(t, "rpm", append(append(append([]string{}, backend...), "--dbpath", dbdir), args...)...)
	}
	for i, f := range files {
		if i%4 != 0 && i != len(files)-1 {
			continue // a quarter of them keeps the test short
		}
		nevra := strings.TrimSpace(run(t, "rpm", "-qp", "--nosignature", f))
		name := strings.TrimSpace(run(t, "rpm", "-qp", "--nosignature", "--qf", "%{NAME}", f))
		if got := strings.TrimSpace(q("-q", name)); got != nevra {
			t.Errorf("rpm -q %s = %q, want %q", name, got, nevra)
		}
		if got, want := q("-qR", name), run(t, "rpm", "-qpR", "--nosignature", f); got != want {
			t.Errorf("rpm -qR %s = %q, want %q", name, got, want)
		}
		paths := strings.Fields(run(t, "rpm", "-qp", "--nosignature", "--qf", "[%{FILENAMES}\n]", f))
		for i, p := range paths {
			if i > 3 && i != len(paths)-1 {
				continue
			}
			if got := strings.Fields(q("-qf", p)); !contains(got, nevra) {
				t.Errorf("rpm -qf %s = %q, want it to include %s", p, got, nevra)
			}
		}
		provs := strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--nosignature", "--qf", "[%{PROVIDENAME}\n]", f)), "\n")
		for i, p := range provs {
			if p == "" || (i > 2 && i != len(provs)-1) {
				continue
			}
			if got := strings.Fields(q("-q", "--whatprovides", p)); !contains(got, nevra) {
				t.Errorf("rpm -q --whatprovides %s = %q, want it to include %s", p, got, nevra)
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// rpmInstalledBlobs installs files with rpm 4.18 (--justdb, sqlite, a
// fixed SOURCE_DATE_EPOCH) and returns each stored header blob by NEVRA.
func rpmInstalledBlobs(t *testing.T, files []string, epoch string) map[string][]byte {
	root := t.TempDir()
	dbdir := filepath.Join(root, "db")
	cmd := exec.Command("rpm", append([]string{"--dbpath", dbdir, "--define", "_db_backend sqlite", "--nodeps", "--justdb", "--noscripts", "--nosignature", "--ignorearch", "--ignoreos", "-i"}, files...)...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	out := run(t, "sqlite3", filepath.Join(dbdir, "rpmdb.sqlite"), "select hex(blob) from Packages")
	m := map[string][]byte{}
	for _, l := range strings.Fields(out) {
		var b []byte
		if _, err := fmt.Sscanf(l, "%X", &b); err != nil {
			t.Fatal(err)
		}
		in, err := installed("rpm's rpmdb.sqlite", 1, b)
		if err != nil {
			t.Fatal(err)
		}
		m[nevras([]Installed{in})[0]] = b
	}
	return m
}

func TestBlobsAsRPMStoresThem(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "sqlite3")
	files, _ := repoRPMs(t)
	files = uniqueNames(t, files)
	want := rpmInstalledBlobs(t, files, "1700000000")
	blobs, err := Blobs(loadPackages(t, files), Options{InstallTime: 1700000000, Color: 3})
	if err != nil {
		t.Fatal(err)
	}
	// rpm drops a package another one obsoletes (udev, by systemd-udev):
	// every header rpm stored must match ours, and nearly all must be there.
	if len(want) < len(blobs)-2 {
		t.Fatalf("%d blobs, rpm stored only %d", len(blobs), len(want))
	}
	matched := 0
	for i, b := range blobs {
		in, err := installed("ours", uint32(i+1), b)
		if err != nil {
			t.Fatal(err)
		}
		n := nevras([]Installed{in})[0]
		if want[n] == nil {
			t.Logf("%s: not stored by rpm", n)
			continue
		}
		matched++
		// rpm 4.18 under SOURCE_DATE_EPOCH steps INSTALLTIME by a second
		// per package in its own install order; we give every package the
		// same time (as rpm 4.14 does within one second). Compare the rest.
		w := setInstallTime(t, want[n], 1700000000)
		if !bytes.Equal(b, w) {
			t.Errorf("%s: our blob (%d bytes) differs from rpm's (%d bytes): %s", n, len(b), len(want[n]), blobDiff(b, w))
		}
	}
	if matched != len(want) {
		t.Errorf("matched %d of rpm's %d headers", matched, len(want))
	}
}

func TestBDBQueries(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	files, _ := repoRPMs(t)
	files = uniqueNames(t, files)
	db, err := Write(BDB, loadPackages(t, files), Options{InstallTime: 1700000000, Color: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkQueries(t, writeDir(t, db), []string{"--define", "_db_backend bdb_ro"}, files)
}

// blobDiff names the tags whose entries or data differ between two blobs.
func blobDiff(a, b []byte) string {
	ha, err1 := parseBlob(a, "a")
	hb, err2 := parseBlob(b, "b")
	if err1 != nil || err2 != nil {
		return fmt.Sprint(err1, err2)
	}
	var out []string
	ea, eb := ha.Entries(), hb.Entries()
	for i := range max(len(ea), len(eb)) {
		if i >= len(ea) || i >= len(eb) {
			out = append(out, fmt.Sprintf("entry %d only on one side", i))
			continue
		}
		if ea[i] != eb[i] {
			out = append(out, fmt.Sprintf("entry %d: ours %+v, rpm's %+v", i, ea[i], eb[i]))
			continue
		}
		da, _ := dataLen(ha.Raw[16+16*len(ea):], ea[i])
		x, y := ha.Raw[16+16*len(ea)+int(ea[i].Offset):], hb.Raw[16+16*len(eb)+int(eb[i].Offset):]
		if !bytes.Equal(x[:da], y[:da]) {
			out = append(out, fmt.Sprintf("tag %d: ours % x, rpm's % x", ea[i].Tag, x[:min(da, 32)], y[:min(da, 32)]))
		}
	}
	return strings.Join(out, "; ")
}

func setInstallTime(t *testing.T, blob []byte, v uint32) []byte {
	h, err := parseBlob(blob, "rpm's blob")
	if err != nil {
		t.Fatal(err)
	}
	e, ok := h.Find(tagInstallTime)
	if !ok {
		t.Fatal("rpm's blob has no INSTALLTIME")
	}
	out := append([]byte(nil), blob...)
	copy(out[8+16*len(h.Entries())+int(e.Offset):], be32(v))
	return out
}

func TestWriteSQLite(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "sqlite3")
	files, key := repoRPMs(t)
	files = uniqueNames(t, files)
	pkgs := loadPackages(t, files)
	o := Options{InstallTime: 1700000000, Color: 3, Keys: [][]byte{key}, RPMVersion: "4.18.0"}
	db, err := Write(SQLite, pkgs, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, db)
	file := filepath.Join(dir, "rpmdb.sqlite")
	if out := run(t, "sqlite3", file, "PRAGMA integrity_check"); strings.TrimSpace(out) != "ok" {
		t.Fatalf("integrity_check: %s", out)
	}
	if out := run(t, "sqlite3", file, "PRAGMA foreign_key_check"); strings.TrimSpace(out) != "" {
		t.Fatalf("foreign_key_check: %s", out)
	}
	blobs, _ := Blobs(pkgs, o)
	if len(blobs) != len(pkgs)+1 {
		t.Fatalf("%d blobs for %d packages and a key", len(blobs), len(pkgs))
	}
	var want []Installed
	for i, b := range blobs {
		in, err := installed("x", uint32(i+1), b)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, in)
	}
	got := rpmQA(t, dir, "--define", "_db_backend sqlite")
	if strings.Join(got, "\n") != strings.Join(nevras(want), "\n") {
		t.Fatalf("rpm -qa:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(nevras(want), "\n"))
	}
	checkQueries(t, dir, []string{"--define", "_db_backend sqlite"}, files)
}

func TestReadSQLiteFixture(t *testing.T) {
	ins, err := ReadSQLite("rpmdb.sqlite", fixture(t, "cbl-mariner-2.0/rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	got, want := nevras(ins), expectedQA(t, "cbl-mariner-2.0/rpm-qa.tsv")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %d: %v\nwant %d: %v", len(got), got, len(want), want)
	}
}

// TestReadBack reads back what Write wrote, in both formats: the same
// blobs, in order.
func TestReadBack(t *testing.T) {
	files, _ := repoRPMs(t)
	pkgs := loadPackages(t, uniqueNames(t, files))
	o := Options{InstallTime: 1700000000, Color: 3}
	blobs, err := Blobs(pkgs, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{BDB, SQLite} {
		db, err := Write(f, pkgs, o)
		if err != nil {
			t.Fatal(err)
		}
		got, ins, err := ReadDir(mapFS(db))
		if err != nil || got != f {
			t.Fatalf("%v: ReadDir says %v, %v", f, got, err)
		}
		if len(ins) != len(blobs) {
			t.Fatalf("%v: read %d headers, wrote %d", f, len(ins), len(blobs))
		}
		for i, in := range ins {
			if in.Num != uint32(i+1) || !bytes.Equal(in.Blob, blobs[i]) {
				t.Errorf("%v: header %d (num %d) differs", f, i+1, in.Num)
			}
		}
		again, _ := Write(f, pkgs, o)
		for i := range db {
			if !bytes.Equal(db[i].Data, again[i].Data) {
				t.Errorf("%v: %s differs between two writes", f, db[i].Name)
			}
		}
	}
}

func mapFS(files []File) fstest.MapFS {
	m := fstest.MapFS{}
	for _, f := range files {
		m[f.Name] = &fstest.MapFile{Data: f.Data}
	}
	return m
}

// TestPubkeyAsRPMImports compares our gpg-pubkey header with the one rpm
// 4.18 stores on `rpm --import` (rpm 4.16+'s layout; install times set
// equal).
func TestPubkeyAsRPMImports(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "sqlite3")
	_, key := repoRPMs(t)
	dir := t.TempDir()
	kf := filepath.Join(dir, "KEY")
	os.WriteFile(kf, key, 0o644)
	dbdir := filepath.Join(dir, "db")
	run(t, "rpm", "--dbpath", dbdir, "--define", "_db_backend sqlite", "--import", kf)
	out := run(t, "sqlite3", filepath.Join(dbdir, "rpmdb.sqlite"), "select hex(blob) from Packages")
	var want []byte
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "%X", &want); err != nil {
		t.Fatal(err)
	}
	h, err := parseBlob(want, "rpm's gpg-pubkey")
	if err != nil {
		t.Fatal(err)
	}
	tid, _, _ := h.Uint32s(tagInstallTID)
	blobs, err := pubkeyBlobs(key, Options{InstallTime: tid[0], RPMVersion: "4.18.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 1 || !bytes.Equal(blobs[0], want) {
		t.Fatalf("ours differs from rpm's: %s", blobDiff(blobs[0], want))
	}
}

// TestMalformed: truncated and corrupted databases are errors naming the
// file, never panics.
func TestMalformed(t *testing.T) {
	pkgs := loadPackages(t, fixtureRPMs(t))
	for _, f := range []Format{BDB, SQLite} {
		db, err := Write(f, pkgs, Options{InstallTime: 1})
		if err != nil {
			t.Fatal(err)
		}
		data := db[0].Data
		read := func(b []byte) error {
			if f == BDB {
				_, err := ReadBDB(db[0].Name, b)
				return err
			}
			_, err := ReadSQLite(db[0].Name, b)
			return err
		}
		for _, cut := range []int{0, 50, 600, len(data) - 4096} {
			err := read(data[:cut])
			if err == nil || !strings.Contains(err.Error(), db[0].Name) {
				t.Errorf("%v cut to %d bytes: %v", f, cut, err)
			}
		}
		for off := 0; off < len(data); off += 97 {
			b := append([]byte(nil), data...)
			b[off] ^= 0xff
			read(b) // must not panic
		}
	}
}

func benchWrite(b *testing.B, n int) {
	files, key := repoRPMs(b)
	pkgs := loadPackages(b, uniqueNames(b, files))
	for len(pkgs) < n {
		pkgs = append(pkgs, pkgs...)
	}
	if n > 0 {
		pkgs = pkgs[:n]
	}
	for _, f := range []Format{BDB, SQLite} {
		b.Run(f.String(), func(b *testing.B) {
			size := 0
			for b.Loop() {
				db, err := Write(f, pkgs, Options{InstallTime: 1700000000, Color: 3, Keys: [][]byte{key}})
				if err != nil {
					b.Fatal(err)
				}
				size = 0
				for _, x := range db {
					size += len(x.Data)
				}
			}
			b.ReportMetric(float64(size), "bytes/db")
		})
	}
}

// BenchmarkWriteTestRepo writes a database of the test repository's
// packages (~50 headers).
func BenchmarkWriteTestRepo(b *testing.B) { benchWrite(b, 0) }

// BenchmarkWrite1000 writes a database of 1,000 headers (the test
// repository's, repeated).
func BenchmarkWrite1000(b *testing.B) { benchWrite(b, 1000) }

// TestVerifyTree extracts the packages into a tree with GNU cpio, writes
// the database into its /var/lib/rpm, and has rpm 4.18 verify every file
// of every package against it (`rpm --root TREE -Va`): nothing may be
// reported, in either format.
func TestVerifyTree(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "rpm2cpio", "cpio")
	testrepo.NeedRoot(t)
	files, key := repoRPMs(t)
	files = uniqueNames(t, files)
	// filesystem first, as rpm orders it: its /bin symlink must exist
	// before other packages' files go through it.
	sort.SliceStable(files, func(i, j int) bool {
		return strings.Contains(filepath.Base(files[i]), "filesystem-") && !strings.Contains(filepath.Base(files[j]), "filesystem-")
	})
	tree := t.TempDir()
	for _, f := range files {
		cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", f)
		cmd.Dir = tree
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", f, err, out)
		}
	}
	pkgs := loadPackages(t, files)
	for _, c := range []struct {
		f       Format
		backend string
	}{{BDB, "bdb_ro"}, {SQLite, "sqlite"}} {
		dbdir := filepath.Join(tree, "var/lib/rpm")
		os.RemoveAll(dbdir)
		os.MkdirAll(dbdir, 0o755)
		db, err := Write(c.f, pkgs, Options{InstallTime: 1700000000, Color: 3, Keys: [][]byte{key}, RPMVersion: "4.18.0"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range db {
			if err := os.WriteFile(filepath.Join(dbdir, f.Name), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("rpm", "--root", tree, "--dbpath", "/var/lib/rpm", "--define", "_db_backend "+c.backend, "-Va", "--nodeps", "--noscripts")
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			owners, _ := exec.Command("rpm", "--root", tree, "--dbpath", "/var/lib/rpm", "--define", "_db_backend "+c.backend, "-qf", "/bin", "--qf", "%{NAME} [%{FILENAMES} %{FILEMODES:octal}\n]").CombinedOutput()
			t.Errorf("%v: rpm -Va: %v\n%s\n%s", c.f, err, out, owners)
		}
	}
}

// sqliteTriples dumps every index table of an rpmdb.sqlite with sqlite3 as
// "Index NEVRA hex(key) idx" lines, header numbers mapped to NEVRAs.
func sqliteTriples(t *testing.T, file string, keep map[string]bool) []string {
	names := map[string]string{}
	for _, l := range strings.Fields(run(t, "sqlite3", file, "select hnum || ':' || hex(blob) from Packages")) {
		num, hexb, _ := strings.Cut(l, ":")
		var b []byte
		fmt.Sscanf(hexb, "%X", &b)
		in, err := installed(file, 1, b)
		if err != nil {
			t.Fatal(err)
		}
		names[num] = nevras([]Installed{in})[0]
	}
	var out []string
	for _, ix := range indexes {
		for _, l := range strings.Fields(run(t, "sqlite3", file, fmt.Sprintf("select hex(key) || ':' || hnum || ':' || idx from '%s'", ix.name))) {
			f := strings.Split(l, ":")
			if n := names[f[1]]; keep[n] {
				out = append(out, fmt.Sprintf("%s %s %s %s", ix.name, n, f[0], f[2]))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestIndexesAsRPMBuildsThem compares every index of our databases, key by
// key and item by item, with the index tables rpm 4.18 fills on a
// --justdb install of the same packages (rpm's tag2index is the one rpm
// 4.14 runs for Berkeley DB, but for the empty-key fixup of its BDB
// backend, undone here).
func TestIndexesAsRPMBuildsThem(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "sqlite3")
	files, _ := repoRPMs(t)
	compareIndexes(t, uniqueNames(t, files), 1000)
}

// TestRichIndexes builds a package with rich dependencies, install-only
// prerequisites, repeated triggers and file triggers with rpmbuild and
// compares its index items with rpm's.
func TestRichIndexes(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "rpmbuild", "sqlite3")
	top := t.TempDir()
	spec := filepath.Join(top, "rich.spec")
	os.WriteFile(spec, []byte(`Name: rich
Version: 1
Release: 1
Summary: rich dependencies
License: MIT
BuildArch: noarch
Requires: (a and (b >= 2 or c))
Requires: (d if e else f)
Requires: (g or (h and x))
Requires(pre): prereq-install-only
Requires(pre,postun): prereq-both
Requires: rpmlib(RichDependencies) <= 4.12.0-1
Recommends: (i or j)
Suggests: (k with l)
Supplements: (m unless n)
Enhances: (o and p)
Conflicts: (q and r)
Obsoletes: old-rich < 1
Provides: rich-api = 1
%description
rich
%files
%triggerin -- foo
true
%triggerun -- foo
true
%triggerin -- bar
true
%filetriggerin -- /usr/lib
true
%transfiletriggerin -- /etc
true
%filetriggerun -- /usr/lib
true
`), 0o644)
	out, err := exec.Command("rpmbuild", "--define", "_topdir "+top, "--define", "_rpmdir "+top, "-bb", spec).CombinedOutput()
	if err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(top, "noarch", "rich-*.rpm"))
	if len(files) != 1 {
		t.Fatalf("rpmbuild made %v", files)
	}
	compareIndexes(t, files, 10)
}

// compareIndexes compares the index items of both our formats with rpm's
// for files; rpm must produce at least min items.
func compareIndexes(t *testing.T, files []string, min int) {
	root := t.TempDir()
	dbdir := filepath.Join(root, "db")
	cmd := exec.Command("rpm", append([]string{"--dbpath", dbdir, "--define", "_db_backend sqlite", "--nodeps", "--justdb", "--noscripts", "--nosignature", "-i"}, files...)...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	keep := map[string]bool{}
	for _, n := range rpmQA(t, dbdir, "--define", "_db_backend sqlite") {
		keep[n] = true
	}
	want := sqliteTriples(t, filepath.Join(dbdir, "rpmdb.sqlite"), keep)
	if len(want) < min {
		t.Fatalf("only %d index items from rpm", len(want))
	}
	o := Options{InstallTime: 1700000000, Color: 3}
	pkgs := loadPackages(t, files)

	db, err := Write(SQLite, pkgs, o)
	if err != nil {
		t.Fatal(err)
	}
	got := sqliteTriples(t, filepath.Join(writeDir(t, db), "rpmdb.sqlite"), keep)
	compareLines(t, "sqlite", got, want)

	db, err = Write(BDB, pkgs, o)
	if err != nil {
		t.Fatal(err)
	}
	blobs, _ := Blobs(pkgs, o)
	names := map[uint32]string{}
	for i, b := range blobs {
		in, _ := installed("x", uint32(i+1), b)
		names[uint32(i+1)] = nevras([]Installed{in})[0]
	}
	got = nil
	for _, f := range db[1:] {
		idx, err := ReadBDBIndex(f.Name, f.Data)
		if err != nil {
			t.Fatal(err)
		}
		for k, items := range idx {
			if k == "\x00" {
				k = ""
			}
			for _, it := range items {
				if n := names[it[0]]; keep[n] {
					got = append(got, fmt.Sprintf("%s %s %X %d", f.Name, n, k, it[1]))
				}
			}
		}
	}
	sort.Strings(got)
	compareLines(t, "bdb", got, want)
}

func compareLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := map[string]int{}, map[string]int{}
	for _, l := range got {
		g[l]++
	}
	for _, l := range want {
		w[l]++
	}
	bad := 0
	for l, n := range w {
		if g[l] != n && bad < 10 {
			t.Errorf("%s: %q: ours %d, rpm's %d", what, l, g[l], n)
			bad++
		}
	}
	for l, n := range g {
		if w[l] == 0 && bad < 20 {
			t.Errorf("%s: %q: ours %d, rpm has none", what, l, n)
			bad++
		}
	}
}

// TestLarge writes 1,000 headers (the test repository's, repeated) so that
// btrees grow interior levels, index values and SQLite rows overflow, and,
// with a raised bucket load, hash buckets chain to second pages; libdb's
// verifier, sqlite's integrity check and rpm's -qa must all accept it.
func TestLarge(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "db5.3_verify", "sqlite3")
	files, key := repoRPMs(t)
	pkgs := loadPackages(t, uniqueNames(t, files))
	for len(pkgs) < 1000 {
		pkgs = append(pkgs, pkgs...)
	}
	pkgs = pkgs[:1000]
	o := Options{InstallTime: 1700000000, Color: 3, Keys: [][]byte{key}}
	blobs, err := Blobs(pkgs, o)
	if err != nil {
		t.Fatal(err)
	}
	var want []Installed
	for i, b := range blobs {
		in, _ := installed("x", uint32(i+1), b)
		want = append(want, in)
	}
	for _, load := range []uint32{100, 1000} {
		old := hashLoad
		hashLoad = load
		db, err := Write(BDB, pkgs, o)
		hashLoad = old
		if err != nil {
			t.Fatal(err)
		}
		dir := writeDir(t, db)
		for _, f := range db {
			run(t, "db5.3_verify", "-q", filepath.Join(dir, f.Name))
		}
		if got := rpmQA(t, dir, "--define", "_db_backend bdb_ro"); strings.Join(got, "\n") != strings.Join(nevras(want), "\n") {
			t.Fatalf("bdb (load %d): rpm -qa lists %d packages, want %d", load, len(got), len(want))
		}
	}
	db, err := Write(SQLite, pkgs, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, db)
	if out := run(t, "sqlite3", filepath.Join(dir, "rpmdb.sqlite"), "PRAGMA integrity_check"); strings.TrimSpace(out) != "ok" {
		t.Fatalf("integrity_check: %s", out)
	}
	if got := rpmQA(t, dir, "--define", "_db_backend sqlite"); strings.Join(got, "\n") != strings.Join(nevras(want), "\n") {
		t.Fatalf("sqlite: rpm -qa lists %d packages, want %d", len(got), len(want))
	}
}

// TestLibdbWritesOurFiles has libdb itself (db5.3_load into the existing
// files) add hundreds of records to our Packages and Basenames, growing
// hash buckets and splitting btree pages as a later `tdnf install` in the
// image would; db5.3_verify must still accept both, and our readers must
// find every record.
func TestLibdbWritesOurFiles(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "db5.3_verify", "db5.3_load")
	files, _ := repoRPMs(t)
	pkgs := loadPackages(t, uniqueNames(t, files))
	db, err := Write(BDB, pkgs, Options{InstallTime: 1700000000, Color: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, db)
	for _, c := range []struct{ file, typ string }{{"Packages", "hash"}, {"Basenames", "btree"}} {
		var in strings.Builder
		fmt.Fprintf(&in, "VERSION=3\nformat=bytevalue\ntype=%s\nHEADER=END\n", c.typ)
		for i := 0; i < 400; i++ {
			k := le32(uint32(100000 + i))
			if c.typ == "btree" {
				k = []byte(fmt.Sprintf("zz-added-%04d", i))
			}
			fmt.Fprintf(&in, " %x\n %x\n", k, bytes.Repeat([]byte{byte(i)}, 8*(1+i%20)))
		}
		in.WriteString("DATA=END\n")
		cmd := exec.Command("db5.3_load", filepath.Join(dir, c.file))
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("db5.3_load %s: %v\n%s", c.file, err, out)
		}
		run(t, "db5.3_verify", "-q", filepath.Join(dir, c.file))
	}
	// The added Packages records are not headers: read only ours back.
	r, err := openBDB("Packages", mustRead(t, filepath.Join(dir, "Packages")))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := r.all()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(pkgs)+1+400 {
		t.Fatalf("%d records after libdb added 400 to %d", len(recs), len(pkgs)+1)
	}
	idx, err := ReadBDBIndex("Basenames", mustRead(t, filepath.Join(dir, "Basenames")))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx["zz-added-0399"]) != 20 {
		t.Fatalf("Basenames after libdb's inserts: %v", idx["zz-added-0399"])
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEmpty: a database of no packages is valid and lists nothing.
func TestEmpty(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "db5.3_verify", "sqlite3")
	for _, c := range []struct {
		f       Format
		backend string
	}{{BDB, "bdb_ro"}, {SQLite, "sqlite"}} {
		db, err := Write(c.f, nil, Options{InstallTime: 1})
		if err != nil {
			t.Fatal(err)
		}
		dir := writeDir(t, db)
		for _, f := range db {
			if c.f == BDB {
				run(t, "db5.3_verify", "-q", filepath.Join(dir, f.Name))
			} else if out := run(t, "sqlite3", filepath.Join(dir, f.Name), "PRAGMA integrity_check"); strings.TrimSpace(out) != "ok" {
				t.Fatalf("integrity_check: %s", out)
			}
		}
		if got := rpmQA(t, dir, "--define", "_db_backend "+c.backend); len(got) != 0 {
			t.Errorf("%v: rpm -qa lists %v", c.f, got)
		}
		if ins, err := Read(mapFS(db), c.f); err != nil || len(ins) != 0 {
			t.Errorf("%v: read back %d, %v", c.f, len(ins), err)
		}
	}
}

// TestRebuildDB has rpm 4.18 rebuild our BDB into its own SQLite database
// (`rpm --rebuilddb`, which checks every header's digests and, with the
// gpg-pubkey entry present, its signature): no complaint, and the rebuilt
// database lists the same packages.
func TestRebuildDB(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	files, key := repoRPMs(t)
	pkgs := loadPackages(t, uniqueNames(t, files))
	db, err := Write(BDB, pkgs, Options{InstallTime: 1700000000, Color: 3, Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, db)
	want := rpmQA(t, dir, "--define", "_db_backend bdb_ro")
	out, err := exec.Command("rpm", "--dbpath", dir, "--define", "_db_backend sqlite", "--rebuilddb").CombinedOutput()
	// rpm announces the conversion; anything else is a complaint.
	if err != nil || strings.TrimSpace(string(out)) != "warning: Converting database from bdb_ro to sqlite backend" {
		t.Fatalf("rpm --rebuilddb: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "rpmdb.sqlite")); err != nil {
		t.Fatalf("no rpmdb.sqlite after --rebuilddb: %v", err)
	}
	if got := rpmQA(t, dir, "--define", "_db_backend sqlite"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after --rebuilddb: %v, want %v", got, want)
	}
}

// An index whose last record does not fit on the last leaf: the record
// before it becomes the divider (the last record once went onto the full
// leaf: "sqlite page 2 overfilled" with ten records of 900 bytes).
func TestIndexLastRecordOverflowsLeaf(t *testing.T) {
	for n := 1; n <= 13; n++ {
		var recs [][]byte
		for i := 0; i < n; i++ {
			r := bytes.Repeat([]byte{'a'}, 900)
			r[0] = byte('A' + i)
			recs = append(recs, r)
		}
		f := &sqFile{}
		if _, err := f.buildIndex(recs); err != nil {
			t.Errorf("%d records: %v", n, err)
		}
	}
}
