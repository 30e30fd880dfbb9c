package rpmrepo

import (
	"fmt"
	"strings"
)

// Flags is the comparison of a versioned dependency, as primary.xml spells
// it in the flags attribute of an rpm:entry.
type Flags uint8

// The comparisons. FlagsNone is an unversioned dependency.
const (
	FlagsNone Flags = iota
	FlagsLT
	FlagsLE
	FlagsEQ
	FlagsGE
	FlagsGT
)

var flagNames = [...]string{"", "LT", "LE", "EQ", "GE", "GT"}
var flagOps = [...]string{"", "<", "<=", "=", ">=", ">"}

// ParseFlags reads the flags attribute of primary.xml ("EQ", "LT", ...).
// The empty string is FlagsNone.
func ParseFlags(s string) (Flags, error) {
	for i, n := range flagNames {
		if n == s {
			return Flags(i), nil
		}
	}
	return FlagsNone, fmt.Errorf("unknown dependency flags %q (want one of EQ, LT, LE, GT, GE)", s)
}

// String returns the primary.xml spelling ("EQ").
func (f Flags) String() string {
	if int(f) < len(flagNames) {
		return flagNames[f]
	}
	return fmt.Sprintf("Flags(%d)", f)
}

// Op returns rpm's operator spelling ("=", "<=", ...).
func (f Flags) Op() string {
	if int(f) < len(flagOps) {
		return flagOps[f]
	}
	return "?"
}

// EVR is an epoch, version and release. An empty Epoch means 0; an empty
// Release in a dependency matches any release.
type EVR struct {
	Epoch   string
	Version string
	Release string
}

// String formats the EVR as rpm does: [epoch:]version[-release], the epoch
// only when it is non-zero.
func (e EVR) String() string {
	var b strings.Builder
	if e.Epoch != "" && e.Epoch != "0" {
		b.WriteString(e.Epoch)
		b.WriteByte(':')
	}
	b.WriteString(e.Version)
	if e.Release != "" {
		b.WriteByte('-')
		b.WriteString(e.Release)
	}
	return b.String()
}

// Dep is one entry of a dependency list (provides, requires, ...). A rich
// (boolean) dependency has its whole expression in Name, starting with "(",
// and no Flags.
type Dep struct {
	Name  string
	Flags Flags
	EVR   EVR
	// Pre marks a pre-requirement (Requires(pre) and friends).
	Pre bool
}

// String formats the dependency as rpm prints it: "name >= 1.2-3".
func (d Dep) String() string {
	if d.Flags == FlagsNone {
		return d.Name
	}
	return d.Name + " " + d.Flags.Op() + " " + d.EVR.String()
}

// Checksum is a digest as repodata names it: Type is "sha256", "sha1",
// "sha512" (or "sha" meaning sha1); Value is lower-case hex.
type Checksum struct {
	Type  string
	Value string
}

func (c Checksum) String() string { return c.Type + ":" + c.Value }

// Package is one package of a repository's primary.xml: what the resolver
// and the fetcher need to know about it.
type Package struct {
	Name string
	Arch string
	EVR

	// Checksum is the digest of the whole .rpm file (primary's pkgid).
	Checksum Checksum
	// Size is the size of the .rpm file; InstalledSize the sum of its files.
	Size          int64
	InstalledSize int64
	// Location is the href of the .rpm relative to the repository's base
	// URL (or to LocationBase when primary.xml gives one).
	Location     string
	LocationBase string
	// Repo is the id of the repository the package came from ("photon-updates").
	Repo string

	Provides    []Dep
	Requires    []Dep
	Conflicts   []Dep
	Obsoletes   []Dep
	Recommends  []Dep
	Suggests    []Dep
	Supplements []Dep
	Enhances    []Dep

	// Files are the paths primary.xml lists for the package (its "primary"
	// subset: /etc, */bin/*, /usr/lib/sendmail), replaced by the complete
	// list of filelists.xml once that is loaded (FilesComplete).
	Files         []string
	FilesComplete bool

	BuildTime int64
	License   string
	SourceRPM string
	Summary   string
}

// NEVRA returns name-[epoch:]version-release.arch, the epoch only when
// non-zero, as dnf prints it.
func (p *Package) NEVRA() string {
	return p.Name + "-" + p.EVR.String() + "." + p.Arch
}

// String is the NEVRA.
func (p *Package) String() string { return p.NEVRA() }
