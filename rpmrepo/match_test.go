package rpmrepo_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// readHeader is the main header of an .rpm file.
func readHeader(t *testing.T, file string) *rpmhdr.Header {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := rpmhdr.ReadFile(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h.Main
}

// No false mismatch: createrepo_c's metadata (primary.xml with the complete
// file lists of filelists.xml) of real headers is the oracle — every
// package of the test repository and every RPM of the PGDG fixture (built
// and indexed by others) matches its header. A changed dependency of a real
// package (comparison, epoch, release) is then caught.
func TestMatchHeaderRealMetadata(t *testing.T) {
	dirs := []string{filepath.Join(testrepo.Fixtures(t), "real", "pgdg-common-rhel8")}
	if testing.Short() {
		t.Log("-short: the test repository is not built")
	} else {
		d := testrepo.Dir(t)
		dirs = append(dirs, filepath.Join(d, "photon"), filepath.Join(d, "photon-updates"))
	}
	var pkgs, deps int
	for _, dir := range dirs {
		r, err := rpmrepo.Open(context.Background(), &rpmrepo.RepoConfig{ID: filepath.Base(dir), BaseURLs: []string{"file://" + dir + "/"}, Enabled: true},
			rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.LoadFilelists(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, p := range r.Packages() {
			file := filepath.Join(dir, p.Location)
			if _, err := os.Stat(file); err != nil {
				continue // the fixture holds 12 of the index's RPMs
			}
			h := readHeader(t, file)
			if err := rpmrepo.MatchHeader(file, p, h); err != nil {
				t.Errorf("false mismatch: %v", err)
			}
			pkgs++
			deps += len(p.Provides) + len(p.Requires) + len(p.Conflicts) + len(p.Obsoletes) + len(p.Recommends) + len(p.Suggests) + len(p.Supplements) + len(p.Enhances)
		}
	}
	t.Logf("%d packages, %d dependencies matched", pkgs, deps)
	if want := 12; pkgs < want {
		t.Fatalf("%d packages matched, the PGDG fixture alone has %d", pkgs, want)
	}

	// A real versioned requirement, changed in each part rpm compares.
	dir := dirs[0]
	r, err := rpmrepo.Open(context.Background(), &rpmrepo.RepoConfig{ID: "pgdg", BaseURLs: []string{"file://" + dir + "/"}, Enabled: true},
		rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	var p *rpmrepo.Package
	var at int
	for _, q := range r.Packages() {
		if _, err := os.Stat(filepath.Join(dir, q.Location)); err != nil {
			continue
		}
		for i, d := range q.Requires {
			if d.Flags != rpmrepo.FlagsNone && d.EVR.Release != "" && p == nil {
				p, at = q, i
			}
		}
	}
	if p == nil {
		t.Fatal("no fetched PGDG package has a versioned requirement with a release")
	}
	h := readHeader(t, filepath.Join(dir, p.Location))
	orig := p.Requires[at]
	for name, change := range map[string]func(*rpmrepo.Dep){
		"flags":   func(d *rpmrepo.Dep) { d.Flags = rpmrepo.FlagsGT },
		"epoch":   func(d *rpmrepo.Dep) { d.EVR.Epoch = "7" },
		"version": func(d *rpmrepo.Dep) { d.EVR.Version += ".1" },
		"release": func(d *rpmrepo.Dep) { d.EVR.Release = "" },
		"name":    func(d *rpmrepo.Dep) { d.Name += "-x" },
	} {
		d := orig
		change(&d)
		p.Requires = append([]rpmrepo.Dep{d}, p.Requires...)
		err := rpmrepo.MatchHeader("x.rpm", p, h)
		p.Requires = p.Requires[1:]
		if !errors.Is(err, rpmrepo.ErrHeaderMismatch) || !strings.Contains(err.Error(), `requires "`+d.String()+`" in the metadata, not in the header`) {
			t.Errorf("%s of %s changed to %s: %v", name, orig, d, err)
		}
	}
	if err := rpmrepo.MatchHeader("x.rpm", p, h); err != nil {
		t.Errorf("restored: %v", err)
	}
}

// FuzzMatchHeader: any main header, compared with a package that has
// dependencies of every kind and files, is a match, a mismatch or a
// malformed header — never a panic. Seeded with real headers.
func FuzzMatchHeader(f *testing.F) {
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
	dep := []rpmrepo.Dep{{Name: "a"}, {Name: "b", Flags: rpmrepo.FlagsGE, EVR: rpmrepo.EVR{Epoch: "1", Version: "2", Release: "3"}}}
	p := &rpmrepo.Package{Name: "n", Arch: "noarch", EVR: rpmrepo.EVR{Version: "1", Release: "1"},
		Provides: dep, Requires: dep, Conflicts: dep, Obsoletes: dep, Recommends: dep, Suggests: dep, Supplements: dep, Enhances: dep,
		Files: []string{"/usr/bin/a", "/etc"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := rpmhdr.Read(bytes.NewReader(data), rpmhdr.MaxData, int64(len(data)), "main header")
		if err != nil {
			return
		}
		err = rpmrepo.MatchHeader("fuzz.rpm", p, h)
		if err != nil && !errors.Is(err, rpmrepo.ErrHeaderMismatch) && !errors.Is(err, rpmrepo.ErrMalformedRPM) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
