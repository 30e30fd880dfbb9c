package rpmrepo

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// parseFilelistsXML is the first, encoding/xml-based filelists parser, kept
// as the reference ParseFilelists is checked against. It reads an uncompressed filelists.xml stream and calls fn
// for each package, one at a time. name is used in errors.
func parseFilelistsXML(r io.Reader, name string, fn func(FilelistEntry) error) error {
	d := xml.NewDecoder(r)
	n := 0
	var cur *FilelistEntry
	var text strings.Builder
	inFile := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if cur != nil {
				return fmt.Errorf("rpmrepo: %s: package #%d: %w: unexpected end of file", name, n, ErrMalformed)
			}
			if n == 0 {
				// An empty document is an error; a filelists with no
				// packages still has its root element.
				if d.InputOffset() == 0 {
					return fmt.Errorf("rpmrepo: %s: %w: empty document", name, ErrMalformed)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "package":
				if cur != nil {
					return fmt.Errorf("rpmrepo: %s: package #%d: %w: nested <package>", name, n, ErrMalformed)
				}
				n++
				cur = &FilelistEntry{}
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "pkgid":
						cur.PkgID = strings.ToLower(a.Value)
					case "name":
						cur.Name = a.Value
					case "arch":
						cur.Arch = a.Value
					}
				}
				if cur.PkgID == "" || cur.Name == "" {
					return fmt.Errorf("rpmrepo: %s: package #%d: %w: missing pkgid or name", name, n, ErrMalformed)
				}
			case "version":
				if cur != nil {
					for _, a := range t.Attr {
						switch a.Name.Local {
						case "epoch":
							cur.EVR.Epoch = a.Value
						case "ver":
							cur.EVR.Version = a.Value
						case "rel":
							cur.EVR.Release = a.Value
						}
					}
				}
			case "file":
				if cur == nil {
					return fmt.Errorf("rpmrepo: %s: %w: <file> outside <package>", name, ErrMalformed)
				}
				inFile = true
				text.Reset()
			}
		case xml.CharData:
			if inFile {
				text.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "file":
				if inFile {
					cur.Files = append(cur.Files, text.String())
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
		}
	}
}
