package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vicroot/vicroot/pipeline"
)

// The purl-spec's own rpm examples (PURL-TYPES.rst): pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386
// and pkg:rpm/centerim@4.22.10-1.el6?arch=i686&epoch=1 (with a vendor here).
func TestPurl(t *testing.T) {
	for _, c := range []struct {
		vendor string
		p      pipeline.SBOMPackage
		want   string
	}{
		{"fedora", pipeline.SBOMPackage{Name: "curl", Version: "7.50.3", Release: "1.fc25", Arch: "i386"}, "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386"},
		{"opensuse", pipeline.SBOMPackage{Name: "centerim", Epoch: "1", Version: "4.22.10", Release: "1.el6", Arch: "i686"}, "pkg:rpm/opensuse/centerim@4.22.10-1.el6?arch=i686&epoch=1"},
		{"Photon", pipeline.SBOMPackage{Name: "glibc", Epoch: "0", Version: "2.28", Release: "1.ph2", Arch: "x86_64"}, "pkg:rpm/photon/glibc@2.28-1.ph2?arch=x86_64"},
	} {
		if got := pipeline.Purl(c.vendor, c.p); got != c.want {
			t.Errorf("Purl(%s) = %s, want %s", c.p.Name, got, c.want)
		}
	}
}

func TestSPDXDocument(t *testing.T) {
	pkgs := []pipeline.SBOMPackage{
		{Name: "bash", Version: "5.2", Release: "1", Arch: "x86_64", SHA256: "ab", License: "GPLv3+", SourceRPM: "bash-5.2-1.src.rpm"},
		{Name: "toybox", Version: "0.8", Release: "2", Arch: "x86_64", SHA256: "cd", License: "GPLv3+"},
	}
	epoch := time.Unix(1700000000, 0)
	b1, err := pipeline.SPDX("bootstrap.iso", "ff", "photon", "v1", epoch, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := pipeline.SPDX("bootstrap.iso", "ff", "photon", "v1", epoch, pkgs)
	if string(b1) != string(b2) {
		t.Fatal("SPDX output not deterministic")
	}
	var doc map[string]any
	if err := json.Unmarshal(b1, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["spdxVersion"] != "SPDX-2.3" || doc["creationInfo"].(map[string]any)["created"] != "2023-11-14T22:13:20Z" {
		t.Errorf("header: %v %v", doc["spdxVersion"], doc["creationInfo"])
	}
	ps := doc["packages"].([]any)
	if len(ps) != 3 {
		t.Fatalf("%d packages, want image + 2", len(ps))
	}
	bash := ps[1].(map[string]any)
	if bash["licenseDeclared"] != "LicenseRef-rpm-GPLv3-" || bash["sourceInfo"] != "built from source RPM bash-5.2-1.src.rpm" {
		t.Errorf("bash: %v", bash)
	}
	if l := doc["hasExtractedLicensingInfos"].([]any); len(l) != 1 {
		t.Errorf("extracted licences: %v (one shared licence expected)", l)
	}
}
