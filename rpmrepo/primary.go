package rpmrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error about repodata that cannot be read.
var ErrMalformed = errors.New("malformed repodata")

// ParsePrimary reads an uncompressed primary.xml stream and calls fn for
// each package in document order. It keeps only one package in memory at a
// time (plus an intern table of the strings packages share: dependency
// names, versions, arches). name is used in errors ("primary.xml.gz of
// photon-updates"). Element names are matched without their namespace
// prefix, so both createrepo's "rpm:entry" and re-serialized "entry" work.
func ParsePrimary(r io.Reader, name string, fn func(*Package) error) error {
	p := &primaryParser{s: newXMLScanner(r), intern: map[string]string{}}
	return p.run(name, fn)
}

type primaryParser struct {
	s      *xmlScanner
	intern map[string]string
	stack  []elem
	arena  []byte
}

// elem is an open element: its name in arena.
type elem struct{ off, n int }

func (p *primaryParser) str(b []byte) string {
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.intern) < 1<<20 {
		p.intern[s] = s
	}
	return s
}

// textField says where the character data of the current element goes.
type textField int

const (
	textNone textField = iota
	textName
	textArch
	textChecksum
	textSummary
	textLicense
	textSourceRPM
	textFile
)

func (p *primaryParser) run(name string, fn func(*Package) error) error {
	s := p.s
	var pkg *Package
	pkgDepth := -1
	n := 0
	var deps *[]Dep
	var want textField
	wantDepth := -1 // depth of the element whose text is wanted
	var text []byte
	fail := func(err error) error {
		if pkg != nil {
			return fmt.Errorf("rpmrepo: %s: package #%d (%s): %w: %v", name, n, printable(pkg.Name), ErrMalformed, err)
		}
		return fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrMalformed, err)
	}
	seenRoot := false
	for {
		if err := s.next(); err != nil {
			return fail(err)
		}
		switch s.kind {
		case tokEOF:
			if len(p.stack) > 0 {
				return fail(fmt.Errorf("unexpected end of file inside <%s>", p.top()))
			}
			if !seenRoot {
				return fail(errors.New("no XML element in the document"))
			}
			return nil
		case tokText:
			// Only the element's own character data, as encoding/xml
			// collects it for a string field.
			if want != textNone && len(p.stack) == wantDepth+1 {
				text = append(text, s.text...)
			}
		case tokEnd:
			if len(p.stack) == 0 || !bytes.Equal(p.top(), s.name) {
				top := []byte(nil)
				if len(p.stack) > 0 {
					top = p.top()
				}
				return fail(fmt.Errorf("end tag </%s> does not match <%s>", s.name, top))
			}
			p.pop()
			d := len(p.stack) // depth of the element just closed
			if pkg == nil {
				continue
			}
			if want != textNone {
				if d == wantDepth {
					if err := p.setText(pkg, want, text); err != nil {
						return fail(err)
					}
					want, wantDepth, text = textNone, -1, text[:0]
				}
				continue
			}
			if d == pkgDepth+2 {
				deps = nil
			}
			if d == pkgDepth {
				if err := checkPackage(pkg); err != nil {
					return fail(err)
				}
				if err := fn(pkg); err != nil {
					return err
				}
				pkg, pkgDepth, deps = nil, -1, nil
			}
		case tokStart:
			if !seenRoot {
				if err := p.checkRoot(); err != nil {
					return fail(err)
				}
			}
			seenRoot = true
			d := len(p.stack) // depth of this element
			if !s.selfClose {
				p.push(s.name)
			}
			ln := localName(s.name)
			if pkg == nil {
				if string(ln) != "package" {
					continue
				}
				n++
				pkg = &Package{}
				pkgDepth = d
				for _, a := range s.attrs {
					if string(localName(a.name)) == "type" {
						if v, err := s.attrValue(a.value); err != nil {
							return fail(err)
						} else if v != "rpm" {
							return fail(fmt.Errorf("package type %q, want rpm", v))
						}
					}
				}
				if s.selfClose {
					return fail(errors.New("empty <package/>"))
				}
				continue
			}
			if want != textNone {
				continue // markup inside a text element is skipped
			}
			text = text[:0]
			switch d - pkgDepth {
			case 1:
				if err := p.packageChild(pkg, ln, &want); err != nil {
					return fail(err)
				}
				if want != textNone {
					wantDepth = d
				}
			case 2:
				deps = nil
				if string(p.parentLocal()) != "format" {
					continue
				}
				switch string(ln) {
				case "license":
					want = textLicense
				case "sourcerpm":
					want = textSourceRPM
				case "file":
					want = textFile
				default:
					if !s.selfClose {
						deps = depList(pkg, ln)
					}
				}
				if want != textNone {
					wantDepth = d
				}
				if s.selfClose && want != textNone {
					if err := p.setText(pkg, want, nil); err != nil {
						return fail(err)
					}
					want, wantDepth = textNone, -1
				}
			case 3:
				if deps != nil && string(ln) == "entry" {
					dep, err := p.entry()
					if err != nil {
						return fail(err)
					}
					*deps = append(*deps, dep)
				}
			}
		}
	}
}

func (p *primaryParser) push(name []byte) {
	off := len(p.arena)
	p.arena = append(p.arena, name...)
	p.stack = append(p.stack, elem{off, len(name)})
}

func (p *primaryParser) pop() {
	e := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	p.arena = p.arena[:e.off]
}

func (p *primaryParser) top() []byte {
	e := p.stack[len(p.stack)-1]
	return p.arena[e.off : e.off+e.n]
}

// parentLocal is the local name of the element enclosing the current
// start tag (which has already been pushed unless self-closing).
func (p *primaryParser) parentLocal() []byte {
	i := len(p.stack) - 1
	if !p.s.selfClose {
		i--
	}
	if i < 0 {
		return nil
	}
	e := p.stack[i]
	return localName(p.arena[e.off : e.off+e.n])
}

func depList(pkg *Package, ln []byte) *[]Dep {
	switch string(ln) {
	case "provides":
		return &pkg.Provides
	case "requires":
		return &pkg.Requires
	case "conflicts":
		return &pkg.Conflicts
	case "obsoletes":
		return &pkg.Obsoletes
	case "recommends":
		return &pkg.Recommends
	case "suggests":
		return &pkg.Suggests
	case "supplements":
		return &pkg.Supplements
	case "enhances":
		return &pkg.Enhances
	}
	return nil
}

func (p *primaryParser) packageChild(pkg *Package, ln []byte, want *textField) error {
	s := p.s
	attr := func(f func(name string, v []byte) error) error {
		for _, a := range s.attrs {
			if err := f(string(localName(a.name)), a.value); err != nil {
				return err
			}
		}
		return nil
	}
	switch string(ln) {
	case "name":
		*want = textName
	case "arch":
		*want = textArch
	case "summary":
		*want = textSummary
	case "checksum":
		*want = textChecksum
		err := attr(func(n string, v []byte) error {
			if n == "type" {
				u, err := s.unescape(v)
				pkg.Checksum.Type = p.str(u)
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	case "version":
		return attr(func(n string, v []byte) error {
			u, err := s.unescape(v)
			if err != nil {
				return err
			}
			switch n {
			case "epoch":
				pkg.EVR.Epoch = p.str(u)
			case "ver":
				pkg.EVR.Version = p.str(u)
			case "rel":
				pkg.EVR.Release = p.str(u)
			}
			return nil
		})
	case "time":
		return attr(func(n string, v []byte) error {
			if n == "build" {
				x, err := optIntBytes(v, "time build")
				pkg.BuildTime = x
				return err
			}
			return nil
		})
	case "size":
		return attr(func(n string, v []byte) error {
			var err error
			switch n {
			case "package":
				pkg.Size, err = optIntBytes(v, "size package")
			case "installed":
				pkg.InstalledSize, err = optIntBytes(v, "size installed")
			}
			return err
		})
	case "location":
		return attr(func(n string, v []byte) error {
			switch n {
			case "href":
				u, err := s.attrValue(v)
				pkg.Location = u
				return err
			case "base":
				u, err := s.attrValue(v)
				pkg.LocationBase = u
				return err
			}
			return nil
		})
	}
	if s.selfClose && *want != textNone {
		err := p.setText(pkg, *want, nil)
		*want = textNone
		return err
	}
	return nil
}

func (p *primaryParser) setText(pkg *Package, f textField, t []byte) error {
	switch f {
	case textName:
		pkg.Name = p.str(t)
	case textArch:
		pkg.Arch = p.str(t)
	case textChecksum:
		pkg.Checksum.Value = string(t)
	case textSummary:
		pkg.Summary = string(t)
	case textLicense:
		pkg.License = p.str(t)
	case textSourceRPM:
		pkg.SourceRPM = string(t)
	case textFile:
		pkg.Files = append(pkg.Files, string(t))
	}
	return nil
}

// entry reads the attributes of an rpm:entry.
func (p *primaryParser) entry() (Dep, error) {
	var d Dep
	var flags []byte
	for _, a := range p.s.attrs {
		u, err := p.s.unescape(a.value)
		if err != nil {
			return d, err
		}
		switch string(localName(a.name)) {
		case "name":
			d.Name = p.str(u)
		case "flags":
			flags = append(flags[:0], u...)
		case "epoch":
			d.EVR.Epoch = p.str(u)
		case "ver":
			d.EVR.Version = p.str(u)
		case "rel":
			d.EVR.Release = p.str(u)
		case "pre":
			d.Pre = string(u) == "1"
		}
	}
	if d.Name == "" {
		return d, errors.New("rpm:entry without a name")
	}
	f, err := ParseFlags(string(flags))
	if err != nil {
		return d, fmt.Errorf("entry %q: %v", d.Name, err)
	}
	d.Flags = f
	return d, nil
}

// The namespaces of primary.xml (createrepo's).
const (
	nsCommon = "http://linux.duke.edu/metadata/common"
	nsRPM    = "http://linux.duke.edu/metadata/rpm"
)

// checkRoot refuses a document that is not primary metadata: its root must
// be <metadata>, in createrepo's namespace or in none (re-serialized
// metadata), and the rpm: prefix, when declared, must be rpm's.
func (p *primaryParser) checkRoot() error {
	s := p.s
	if string(localName(s.name)) != "metadata" {
		return fmt.Errorf("root element <%s>, want <metadata>", s.name)
	}
	for _, a := range s.attrs {
		var want string
		switch string(a.name) {
		case "xmlns":
			want = nsCommon
		case "xmlns:rpm":
			want = nsRPM
		default:
			continue
		}
		v, err := s.attrValue(a.value)
		if err != nil {
			return err
		}
		if v != "" && v != want {
			return fmt.Errorf("%s namespace %q, want %q", a.name, v, want)
		}
	}
	return nil
}

func checkPackage(pkg *Package) error {
	if pkg.Name == "" || pkg.Arch == "" || pkg.EVR.Version == "" {
		return errors.New("missing name, arch or version")
	}
	if pkg.Location == "" {
		return errors.New("missing location href")
	}
	// These reach file names, the lock and the terminal: rpm allows
	// neither white space nor control characters in them.
	for _, f := range []struct{ what, v string }{
		{"name", pkg.Name}, {"arch", pkg.Arch}, {"epoch", pkg.EVR.Epoch}, {"version", pkg.EVR.Version},
		{"release", pkg.EVR.Release}, {"location", pkg.Location},
	} {
		if !utf8.ValidString(f.v) || strings.IndexFunc(f.v, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
			return fmt.Errorf("%s %q holds white space, a control character or invalid UTF-8", f.what, f.v)
		}
	}
	return checkLocation(pkg.Location)
}

// checkLocation refuses a relative location that climbs out of the
// repository with "..", escaped or not. (A location that is a whole URL
// names its own server; the checksum still binds its content.)
func checkLocation(loc string) error {
	if strings.Contains(loc, "://") {
		return nil
	}
	depth := 0
	for _, seg := range strings.Split(loc, "/") {
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		switch seg {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return fmt.Errorf("location %q climbs outside the repository", loc)
			}
		default:
			depth++
		}
	}
	return nil
}

// printable quotes s when it holds anything a terminal would interpret.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}

func optIntBytes(b []byte, field string) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative integer", field, b)
	}
	return v, nil
}
