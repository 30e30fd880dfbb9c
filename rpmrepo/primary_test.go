package rpmrepo_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vicroot/vicroot/rpmrepo"
)

// fixtures returns ../shared/fixtures, or skips when the folder is absent
// (it is present in CI).
func fixtures(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("../../shared/fixtures")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		if os.Getenv("VICROOT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("fixtures folder %s missing", d)
		}
		t.Skipf("fixtures folder %s missing", d)
	}
	return d
}

func TestParsePrimaryBazeldnf(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtures(t), "bazeldnf/sat/bash-fc32.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkgs []*rpmrepo.Package
	if err := rpmrepo.ParsePrimary(f, "bash-fc32.xml", func(p *rpmrepo.Package) error {
		pkgs = append(pkgs, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no packages")
	}
	p := pkgs[0]
	if p.Name != "fedora-release-soas" || p.Arch != "noarch" || p.EVR.String() != "0:32-1" && p.EVR.String() != "32-1" {
		t.Errorf("first package = %s", p.NEVRA())
	}
	if p.Checksum.Value != "83b03517f32907739fb73d0dd31f0f51d97f74653aff8cee064dbdcf6474a576" || p.BuildTime != 1586489304 {
		t.Errorf("checksum/buildtime = %v %d", p.Checksum, p.BuildTime)
	}
}
