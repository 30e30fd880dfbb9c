package mtree_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// bsdtar (libarchive) reads our manifest as an mtree archive: its listing is
// the oracle that the format is right.
func TestLibarchiveReadsManifest(t *testing.T) {
	testrepo.NeedTools(t, "bsdtar")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a file"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	es := []mtree.Entry{
		{Path: ".", Mode: fs.ModeDir | 0o755},
		{Path: "bin", Mode: fs.ModeSymlink | 0o777, Link: "usr/bin"},
		{Path: "a file", Mode: 0o644, Size: 5, SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", Package: "x-1-1.noarch"},
		{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Major: 1, Minor: 3},
		{Path: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
	}
	var buf bytes.Buffer
	if err := mtree.Write(&buf, es); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), " package=x-1-1.noarch\n") {
		t.Errorf("package keyword missing:\n%s", buf.String())
	}
	// libarchive rejects keywords it does not know, and package= is ours:
	// drop it for the oracle.
	plain := regexp.MustCompile(` package=\S+`).ReplaceAllString(buf.String(), "")
	mf := filepath.Join(dir, "m.mtree")
	if err := os.WriteFile(mf, []byte(plain), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bsdtar", "-tvf", mf)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bsdtar: %v\n%s\n%s", err, out, plain)
	}
	got := string(out)
	for _, want := range []string{"./bin -> usr/bin", "./a file", "drwxrwxrwt", "crw-rw-rw-"} {
		if !strings.Contains(got, want) {
			t.Errorf("bsdtar listing lacks %q:\n%s", want, got)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "a b", "[", "x\\y", "tab\there", "#=*?", "\xff\x01", `\1`, `\777`} {
		if got := mtree.Unescape(mtree.Escape(s)); got != s {
			t.Errorf("Unescape(Escape(%q)) = %q", s, got)
		}
	}
}
