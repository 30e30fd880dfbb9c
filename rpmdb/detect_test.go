package rpmdb

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/internal/testrepo"
)

func TestDetect(t *testing.T) {
	f := func(data string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(data)} }
	for _, c := range []struct {
		name string
		fs   fstest.MapFS
		want Format
		err  string
	}{
		{"no rpm", fstest.MapFS{"usr/bin/bash": f("")}, None, ""},
		{"photon 2.0", fstest.MapFS{"usr/bin/rpm": f(""), "usr/lib/librpm.so.8": f(""), "usr/lib/rpm/macros": f("%_dbpath\t%{_var}/lib/rpm\n%_db_backend\t      bdb\n")}, BDB, ""},
		{"sqlite", fstest.MapFS{"usr/bin/rpm": f(""), "usr/lib/rpm/macros": f("%_db_backend sqlite\n")}, SQLite, ""},
		{"etc overrides", fstest.MapFS{"usr/bin/tdnf": f(""), "usr/lib/rpm/macros": f("%_db_backend sqlite\n"), "etc/rpm/macros.db": f("%_db_backend bdb\n")}, BDB, ""},
		{"old librpm only", fstest.MapFS{"usr/lib64/librpm.so.3": f("")}, BDB, ""},
		{"new librpm, no macro", fstest.MapFS{"usr/lib/librpm.so.9.1.3": f(""), "usr/lib/rpm/macros": f("%_dbpath /var/lib/rpm\n")}, None, "cannot be determined"},
		{"ndb", fstest.MapFS{"usr/bin/rpm": f(""), "usr/lib/rpm/macros": f("%_db_backend ndb\n")}, None, `"ndb"`},
		{"rpm without macros", fstest.MapFS{"usr/bin/rpm": f("")}, None, "/usr/bin/rpm"},
	} {
		got, err := Detect(c.fs)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want one saying %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

// TestDetectHost checks Detect on this machine's own rpm against what rpm
// itself says its backend is.
func TestDetectHost(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	out, err := exec.Command("rpm", "--eval", "%_db_backend").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Format{"sqlite": SQLite, "bdb": BDB, "bdb_ro": BDB}[strings.TrimSpace(string(out))]
	got, err := Detect(os.DirFS("/"))
	if err != nil || got != want {
		t.Fatalf("Detect(/) = %v, %v; rpm says %q", got, err, out)
	}
}
