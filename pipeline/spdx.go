package pipeline

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// SBOMPackage is what the SPDX document says of one installed package; all
// of it comes from the verified RPM header and the lock.
type SBOMPackage struct {
	Name, Epoch, Version, Release, Arch string
	SHA256                              string // of the .rpm file
	License                             string
	SourceRPM                           string
	URL                                 string // where it was fetched from
	// Comment describes where the package came from when not from a
	// repository; Annotation, when set, is a warning about it (an
	// unsigned kernel RPM file), as an SPDX annotation.
	Comment, Annotation string
}

type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
	ExtractedLicenses []spdxExtracted    `json:"hasExtractedLicensingInfos,omitempty"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo,omitempty"`
	Supplier         string         `json:"supplier"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
	LicenseConcluded string         `json:"licenseConcluded"`
	LicenseDeclared  string         `json:"licenseDeclared"`
	CopyrightText    string         `json:"copyrightText"`
	SourceInfo       string         `json:"sourceInfo,omitempty"`
	ExternalRefs     []spdxRef      `json:"externalRefs,omitempty"`
	PrimaryPurpose   string         `json:"primaryPackagePurpose,omitempty"`
	Comment          string         `json:"comment,omitempty"`
	Annotations      []spdxNote     `json:"annotations,omitempty"`
}

type spdxNote struct {
	Date      string `json:"annotationDate"`
	Type      string `json:"annotationType"`
	Annotator string `json:"annotator"`
	Comment   string `json:"comment"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type spdxExtracted struct {
	LicenseID string `json:"licenseId"`
	Text      string `json:"extractedText"`
	Name      string `json:"name"`
}

// Purl is the package URL of an RPM (purl-spec's rpm type): the namespace
// is the vendor, taken from the repo definition's name ("photon-2.0" ->
// "photon").
func Purl(vendor string, p SBOMPackage) string {
	v := p.Version
	if p.Release != "" {
		v += "-" + p.Release
	}
	q := url.Values{}
	if p.Arch != "" {
		q.Set("arch", p.Arch)
	}
	if p.Epoch != "" && p.Epoch != "0" {
		q.Set("epoch", p.Epoch)
	}
	s := "pkg:rpm/" + url.PathEscape(strings.ToLower(vendor)) + "/" + url.PathEscape(p.Name) + "@" + url.PathEscape(v)
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// licenseRef turns an RPM License tag into an SPDX LicenseRef id; RPM's
// license strings ("GPLv2+ and LGPLv2+") are not SPDX expressions, so the
// text is carried verbatim as an extracted licence.
func licenseRef(s string) string {
	return "LicenseRef-rpm-" + sanitizeID(s)
}

// SPDX renders an SPDX 2.3 JSON document describing image (the ISO's file
// name, with its SHA-256) and the packages installed into it. It is
// deterministic: created is the build's epoch, the namespace derives from
// the image digest, packages keep the given order.
func SPDX(image, imageSHA256, vendor, toolVersion string, epoch time.Time, pkgs []SBOMPackage) ([]byte, error) {
	doc := spdxDoc{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              image,
		DocumentNamespace: "https://spdx.org/spdxdocs/vicroot/" + image + "-" + imageSHA256,
		CreationInfo: spdxCreation{
			Created:  epoch.UTC().Format("2006-01-02T15:04:05Z"),
			Creators: []string{"Tool: vicroot-" + toolVersion},
		},
	}
	imgID := "SPDXRef-Image"
	doc.Packages = append(doc.Packages, spdxPackage{
		Name: image, SPDXID: imgID, Supplier: "NOASSERTION", DownloadLocation: "NOASSERTION",
		Checksums:        []spdxChecksum{{"SHA256", imageSHA256}},
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
		PrimaryPurpose: "OPERATING-SYSTEM",
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", imgID})
	seenLic := map[string]bool{}
	for i, p := range pkgs {
		id := fmt.Sprintf("SPDXRef-Package-%d-%s", i+1, sanitizeID(p.Name))
		v := p.Version
		if p.Release != "" {
			v += "-" + p.Release
		}
		if p.Epoch != "" && p.Epoch != "0" {
			v = p.Epoch + ":" + v
		}
		dl := p.URL
		if dl == "" {
			dl = "NOASSERTION"
		}
		lic := "NOASSERTION"
		if p.License != "" {
			lic = licenseRef(p.License)
			if !seenLic[lic] {
				seenLic[lic] = true
				doc.ExtractedLicenses = append(doc.ExtractedLicenses, spdxExtracted{LicenseID: lic, Text: p.License, Name: p.License})
			}
		}
		sp := spdxPackage{
			Name: p.Name, SPDXID: id, VersionInfo: v, Supplier: "NOASSERTION", DownloadLocation: dl,
			LicenseConcluded: "NOASSERTION", LicenseDeclared: lic, CopyrightText: "NOASSERTION",
			ExternalRefs: []spdxRef{{"PACKAGE-MANAGER", "purl", Purl(vendor, p)}},
		}
		if p.SHA256 != "" {
			sp.Checksums = []spdxChecksum{{"SHA256", p.SHA256}}
		}
		if p.SourceRPM != "" {
			sp.SourceInfo = "built from source RPM " + p.SourceRPM
		}
		sp.Comment = p.Comment
		if p.Annotation != "" {
			sp.Annotations = []spdxNote{{Date: doc.CreationInfo.Created, Type: "OTHER", Annotator: doc.CreationInfo.Creators[0], Comment: p.Annotation}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, spdxRelationship{imgID, "CONTAINS", id})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// sanitizeID keeps what an SPDX idstring may hold (letters, digits, '.',
// '-') and turns anything else into '-'.
func sanitizeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}
