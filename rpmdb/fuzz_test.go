package rpmdb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// fixtureRPMs are small real packages from ../shared/fixtures.
func fixtureRPMs(t testing.TB) []string {
	d := filepath.Join(testrepo.Fixtures(t), "rpm-software-management-rpm", "RPMS")
	var out []string
	for _, n := range []string{"hello-2.0-1.x86_64-signed.rpm", "foo-1.0-1.noarch.rpm", "hlinktest-1.0-1.noarch.rpm", "capstest-1.0-1.noarch.rpm"} {
		out = append(out, filepath.Join(d, n))
	}
	return out
}

func seedDBs(f *testing.F, format Format) {
	pkgs := loadPackages(f, fixtureRPMs(f))
	key, err := os.ReadFile(filepath.Join(testrepo.Fixtures(f), "rpm-software-management-rpm", "keys", "rpm.org-rsa-2048-test.pub"))
	if err != nil {
		f.Fatal(err)
	}
	db, err := Write(format, pkgs, Options{InstallTime: 1, Color: 3, Keys: [][]byte{key}})
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range db {
		f.Add(file.Data)
	}
	one, _ := Write(format, pkgs[:1], Options{InstallTime: 1})
	f.Add(one[0].Data)
}

func FuzzReadBDB(f *testing.F) {
	seedDBs(f, BDB)
	if b, err := os.ReadFile(filepath.Join(testrepo.Fixtures(f), "go-rpmdb", "libuuid", "Packages")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := ReadBDB("Packages", data)
		if err == nil {
			for _, in := range ins {
				if in.Header == nil {
					t.Fatal("nil header without an error")
				}
			}
		}
		ReadBDBIndex("Name", data)
	})
}

func FuzzReadSQLite(f *testing.F) {
	seedDBs(f, SQLite)
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := ReadSQLite("rpmdb.sqlite", data)
		if err == nil {
			for _, in := range ins {
				if in.Header == nil {
					t.Fatal("nil header without an error")
				}
			}
		}
	})
}

// FuzzRichNames: rich dependency parsing never panics.
func FuzzRichNames(f *testing.F) {
	for _, s := range []string{"(a and b)", "(a if b else c)", "(foo >= 1.0 or (bar unless baz))", "(rpmlib(x) with y)", "((", "(a b)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { richNames(s) })
}
