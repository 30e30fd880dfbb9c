package rpmrepo_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

func collect(parse func(io.Reader, string, func(*rpmrepo.Package) error) error, b []byte) ([]*rpmrepo.Package, error) {
	var out []*rpmrepo.Package
	err := parse(bytes.NewReader(b), "x", func(p *rpmrepo.Package) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// TestPrimaryMatchesReference: the streaming scanner gives exactly what
// the encoding/xml reference parser gives on every real primary.xml of the
// fixtures (createrepo_c output and bazeldnf's re-serializations).
func TestPrimaryMatchesReference(t *testing.T) {
	fx := testrepo.Fixtures(t)
	files, _ := filepath.Glob(filepath.Join(fx, "bazeldnf/sat/*.xml"))
	gz, _ := filepath.Glob(filepath.Join(fx, "createrepo_c/*/repodata/*-primary.xml.gz"))
	files = append(files, gz...)
	if len(files) < 10 {
		t.Fatalf("only %d primary files", len(files))
	}
	total := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(f) == ".gz" {
			z, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(z); err != nil {
				t.Fatal(err)
			}
		}
		want, err := collect(rpmrepo.ParsePrimaryReference, b)
		if err != nil {
			t.Fatalf("%s: reference: %v", f, err)
		}
		got, err := collect(rpmrepo.ParsePrimary, b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: scanner and reference differ", f)
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("package %d:\n got %+v\nwant %+v", i, got[i], want[i])
					break
				}
			}
		}
		total += len(got)
	}
	t.Logf("%d files, %d packages", len(files), total)
}

func collectFL(parse func(io.Reader, string, func(rpmrepo.FilelistEntry) error) error, b []byte) ([]rpmrepo.FilelistEntry, error) {
	var out []rpmrepo.FilelistEntry
	err := parse(bytes.NewReader(b), "x", func(e rpmrepo.FilelistEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// TestFilelistsMatchesReference: the scanner-based ParseFilelists agrees
// with the encoding/xml reference on every createrepo_c filelists.
func TestFilelistsMatchesReference(t *testing.T) {
	fx := testrepo.Fixtures(t)
	files, _ := filepath.Glob(filepath.Join(fx, "createrepo_c/*/repodata/*-filelists*.xml.gz"))
	if len(files) < 5 {
		t.Fatalf("only %d filelists", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(z); err != nil {
			t.Fatal(err)
		}
		want, err := collectFL(rpmrepo.ParseFilelistsReference, b)
		if err != nil {
			t.Fatalf("%s: reference: %v", f, err)
		}
		got, err := collectFL(rpmrepo.ParseFilelists, b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", f, got, want)
		}
	}
}
