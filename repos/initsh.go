package repos

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// InitFile is the name of a definition's boot-time script; the bootstrap
// image carries it as /bin/repoinit.
const InitFile = "init.sh"

// The functions VIC's bootstrap calls from init.sh at boot.
const (
	FuncInstallEntropy  = "install-entropy"
	FuncInstallIptables = "install-iptables"
)

// InitScript is what vicroot reads out of init.sh. It is parsed, never run
// at build time. Only top-level statements count: an assignment inside a
// function or an if is a runtime matter.
type InitScript struct {
	// Drivers is the drivers array (kernel modules modprobe'd at boot), in
	// order; empty when the script does not set it.
	Drivers []string `json:"drivers"`
	// Vars are the other top-level assignments whose value is a plain
	// literal (no expansions, no command substitutions).
	Vars map[string]string `json:"vars,omitempty"`
	// Functions are the names of the top-level functions it defines, sorted.
	Functions []string `json:"functions,omitempty"`
	// Legacy is set by Load: init.sh defines install-entropy and
	// install-iptables and the spec has no tether section, so the script is
	// shipped verbatim and VIC's function names are called at boot.
	Legacy bool `json:"legacy"`
}

// Defines reports whether the script defines the named function.
func (s *InitScript) Defines(name string) bool {
	i := sort.SearchStrings(s.Functions, name)
	return i < len(s.Functions) && s.Functions[i] == name
}

var moduleRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseInit parses init.sh as bash. file is used in error messages. A
// syntax error, or a drivers array with an element that is not a plain
// module name, is an error naming file:line:col.
func ParseInit(file string, data []byte) (*InitScript, error) {
	p := syntax.NewParser(syntax.Variant(syntax.LangBash))
	f, err := p.Parse(bytes.NewReader(data), file)
	if err != nil {
		return nil, fmt.Errorf("repos: %w", err)
	}
	s := &InitScript{Drivers: []string{}}
	funcs := map[string]bool{}
	for _, st := range f.Stmts {
		var assigns []*syntax.Assign
		switch c := st.Cmd.(type) {
		case *syntax.FuncDecl:
			if c.Name != nil {
				funcs[c.Name.Value] = true
			}
			continue
		case *syntax.CallExpr:
			if len(c.Args) > 0 {
				continue // `x=1 cmd` sets x only for cmd
			}
			assigns = c.Assigns
		case *syntax.DeclClause:
			if v := c.Variant.Value; v != "declare" && v != "typeset" && v != "export" && v != "readonly" {
				continue
			}
			assigns = c.Args
		default:
			continue
		}
		for _, a := range assigns {
			if a.Name == nil || a.Naked || a.Index != nil {
				continue
			}
			name := a.Name.Value
			if name == "drivers" {
				if err := s.setDrivers(file, a); err != nil {
					return nil, err
				}
				continue
			}
			if a.Array != nil || a.Append {
				continue
			}
			if v, ok := literal(a.Value); ok {
				if s.Vars == nil {
					s.Vars = map[string]string{}
				}
				s.Vars[name] = v
			} else {
				delete(s.Vars, name) // a later non-literal assignment wins at run time
			}
		}
	}
	for n := range funcs {
		s.Functions = append(s.Functions, n)
	}
	sort.Strings(s.Functions)
	return s, nil
}

func (s *InitScript) setDrivers(file string, a *syntax.Assign) error {
	var words []*syntax.Word
	if a.Array != nil {
		for _, e := range a.Array.Elems {
			if e.Index != nil {
				return fmt.Errorf("repos: %s:%s: drivers: indexed elements are not supported; list module names", file, e.Pos())
			}
			words = append(words, e.Value)
		}
	} else if a.Value != nil {
		words = []*syntax.Word{a.Value}
	}
	var mods []string
	for _, w := range words {
		v, ok := literal(w)
		if !ok {
			return fmt.Errorf("repos: %s:%s: drivers: element is not a plain module name (expansions are not read at build time)", file, w.Pos())
		}
		for _, m := range strings.Fields(v) {
			if !moduleRE.MatchString(m) {
				return fmt.Errorf("repos: %s:%s: drivers: %q is not a kernel module name", file, w.Pos(), m)
			}
			mods = append(mods, m)
		}
	}
	if a.Append {
		s.Drivers = append(s.Drivers, mods...)
	} else {
		s.Drivers = append([]string{}, mods...)
	}
	return nil
}

// literal returns the value of a word made only of literal text and
// quotes, as the shell would see it.
func literal(w *syntax.Word) (string, bool) {
	if w == nil {
		return "", true
	}
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if strings.ContainsAny(p.Value, `\*?[`) {
				return "", false // escapes and globs: not plain
			}
			b.WriteString(p.Value)
		case *syntax.SglQuoted:
			if p.Dollar {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			if p.Dollar {
				return "", false
			}
			for _, q := range p.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok || strings.Contains(l.Value, `\`) {
					return "", false
				}
				b.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}
