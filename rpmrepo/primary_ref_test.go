package rpmrepo

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// xmlPackage mirrors one <package> element of primary.xml.
type xmlPackage struct {
	Type    string `xml:"type,attr"`
	Name    string `xml:"name"`
	Arch    string `xml:"arch"`
	Version struct {
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
	} `xml:"version"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Summary string `xml:"summary"`
	Time    struct {
		Build string `xml:"build,attr"`
	} `xml:"time"`
	Size struct {
		Package   string `xml:"package,attr"`
		Installed string `xml:"installed,attr"`
	} `xml:"size"`
	Location struct {
		Href string `xml:"href,attr"`
		Base string `xml:"base,attr"`
	} `xml:"location"`
	Format struct {
		License     string     `xml:"license"`
		SourceRPM   string     `xml:"sourcerpm"`
		Provides    []xmlEntry `xml:"provides>entry"`
		Requires    []xmlEntry `xml:"requires>entry"`
		Conflicts   []xmlEntry `xml:"conflicts>entry"`
		Obsoletes   []xmlEntry `xml:"obsoletes>entry"`
		Recommends  []xmlEntry `xml:"recommends>entry"`
		Suggests    []xmlEntry `xml:"suggests>entry"`
		Supplements []xmlEntry `xml:"supplements>entry"`
		Enhances    []xmlEntry `xml:"enhances>entry"`
		Files       []xmlFile  `xml:"file"`
	} `xml:"format"`
}

type xmlEntry struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

type xmlFile struct {
	Type string `xml:"type,attr"`
	Path string `xml:",chardata"`
}

// parsePrimaryXML is the first, encoding/xml-based parser, kept as the
// reference the streaming scanner is checked against (TestPrimaryMatchesReference,
// FuzzPrimary). It reads an uncompressed primary.xml stream and calls fn for
// each package in document order. It keeps only one package in memory at a
// time. name is used in errors ("primary.xml.gz of photon-updates").
func parsePrimaryXML(r io.Reader, name string, fn func(*Package) error) error {
	d := xml.NewDecoder(r)
	n := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrMalformed, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		n++
		var xp xmlPackage
		if err := d.DecodeElement(&xp, &se); err != nil {
			return fmt.Errorf("rpmrepo: %s: package #%d: %w: %v", name, n, ErrMalformed, err)
		}
		p, err := xp.toPackage()
		if err != nil {
			return fmt.Errorf("rpmrepo: %s: package #%d (%s): %w: %v", name, n, xp.Name, ErrMalformed, err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}

func (xp *xmlPackage) toPackage() (*Package, error) {
	if xp.Type != "" && xp.Type != "rpm" {
		return nil, fmt.Errorf("package type %q, want rpm", xp.Type)
	}
	if xp.Name == "" || xp.Arch == "" || xp.Version.Ver == "" {
		return nil, errors.New("missing name, arch or version")
	}
	if xp.Location.Href == "" {
		return nil, errors.New("missing location href")
	}
	p := &Package{
		Name:         xp.Name,
		Arch:         xp.Arch,
		EVR:          EVR{Epoch: xp.Version.Epoch, Version: xp.Version.Ver, Release: xp.Version.Rel},
		Checksum:     Checksum{Type: xp.Checksum.Type, Value: xp.Checksum.Value},
		Location:     xp.Location.Href,
		LocationBase: xp.Location.Base,
		Summary:      xp.Summary,
		License:      xp.Format.License,
		SourceRPM:    xp.Format.SourceRPM,
	}
	var err error
	if p.Size, err = optIntRef(xp.Size.Package, "size package"); err != nil {
		return nil, err
	}
	if p.InstalledSize, err = optIntRef(xp.Size.Installed, "size installed"); err != nil {
		return nil, err
	}
	if p.BuildTime, err = optIntRef(xp.Time.Build, "time build"); err != nil {
		return nil, err
	}
	lists := []struct {
		dst *[]Dep
		src []xmlEntry
	}{
		{&p.Provides, xp.Format.Provides}, {&p.Requires, xp.Format.Requires},
		{&p.Conflicts, xp.Format.Conflicts}, {&p.Obsoletes, xp.Format.Obsoletes},
		{&p.Recommends, xp.Format.Recommends}, {&p.Suggests, xp.Format.Suggests},
		{&p.Supplements, xp.Format.Supplements}, {&p.Enhances, xp.Format.Enhances},
	}
	for _, l := range lists {
		for _, e := range l.src {
			d, err := e.toDep()
			if err != nil {
				return nil, err
			}
			*l.dst = append(*l.dst, d)
		}
	}
	for _, f := range xp.Format.Files {
		p.Files = append(p.Files, f.Path)
	}
	return p, nil
}

func (e xmlEntry) toDep() (Dep, error) {
	if e.Name == "" {
		return Dep{}, errors.New("rpm:entry without a name")
	}
	f, err := ParseFlags(e.Flags)
	if err != nil {
		return Dep{}, fmt.Errorf("entry %q: %v", e.Name, err)
	}
	return Dep{
		Name:  e.Name,
		Flags: f,
		EVR:   EVR{Epoch: e.Epoch, Version: e.Ver, Release: e.Rel},
		Pre:   e.Pre == "1",
	}, nil
}

func optIntRef(s, field string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative integer", field, s)
	}
	return v, nil
}
