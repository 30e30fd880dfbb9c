package rpmrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FilelistEntry is one <package> of filelists.xml.
type FilelistEntry struct {
	PkgID string
	Name  string
	Arch  string
	EVR   EVR
	// Files are all paths, directories and ghosts included, in document
	// order.
	Files []string
}

// ParseFilelists reads an uncompressed filelists.xml stream and calls fn
// for each package, one at a time, with the same streaming scanner as
// ParsePrimary. name is used in errors.
func ParseFilelists(r io.Reader, name string, fn func(FilelistEntry) error) error {
	s := newXMLScanner(r)
	var stack []int // offsets into arena of the open elements' names
	var arena []byte
	top := func() []byte { return arena[stack[len(stack)-1]:] }
	n := 0
	var cur *FilelistEntry
	var text []byte
	inFile := false
	seenRoot := false
	fail := func(err error) error {
		if cur != nil {
			return fmt.Errorf("rpmrepo: %s: package #%d (%s): %w: %v", name, n, cur.Name, ErrMalformed, err)
		}
		return fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrMalformed, err)
	}
	end := func(ln []byte) error {
		switch string(ln) {
		case "file":
			if inFile {
				cur.Files = append(cur.Files, string(text))
				inFile = false
			}
		case "package":
			if cur != nil {
				if err := fn(*cur); err != nil {
					return err
				}
				cur = nil
			}
		}
		return nil
	}
	for {
		if err := s.next(); err != nil {
			return fail(err)
		}
		switch s.kind {
		case tokEOF:
			if len(stack) > 0 {
				return fail(fmt.Errorf("unexpected end of file inside <%s>", top()))
			}
			if !seenRoot {
				return fail(errors.New("no XML element in the document"))
			}
			return nil
		case tokText:
			if inFile {
				text = append(text, s.text...)
			}
		case tokEnd:
			if len(stack) == 0 || !bytes.Equal(top(), s.name) {
				return fail(fmt.Errorf("end tag </%s> does not match the open element", s.name))
			}
			arena = arena[:stack[len(stack)-1]]
			stack = stack[:len(stack)-1]
			if err := end(localName(s.name)); err != nil {
				return err
			}
		case tokStart:
			seenRoot = true
			ln := localName(s.name)
			switch string(ln) {
			case "package":
				if cur != nil {
					return fail(errors.New("nested <package>"))
				}
				n++
				cur = &FilelistEntry{}
				for _, a := range s.attrs {
					v, err := s.attrValue(a.value)
					if err != nil {
						return fail(err)
					}
					switch string(localName(a.name)) {
					case "pkgid":
						cur.PkgID = strings.ToLower(v)
					case "name":
						cur.Name = v
					case "arch":
						cur.Arch = v
					}
				}
				if cur.PkgID == "" || cur.Name == "" {
					return fail(errors.New("missing pkgid or name"))
				}
			case "version":
				if cur != nil {
					for _, a := range s.attrs {
						v, err := s.attrValue(a.value)
						if err != nil {
							return fail(err)
						}
						switch string(localName(a.name)) {
						case "epoch":
							cur.EVR.Epoch = v
						case "ver":
							cur.EVR.Version = v
						case "rel":
							cur.EVR.Release = v
						}
					}
				}
			case "file":
				if cur == nil {
					return fail(errors.New("<file> outside <package>"))
				}
				inFile = true
				text = text[:0]
			}
			if s.selfClose {
				if err := end(ln); err != nil {
					return err
				}
			} else {
				stack = append(stack, len(arena))
				arena = append(arena, s.name...)
			}
		}
	}
}
