package rpmdb

import (
	"sort"
	"strings"
)

// richNames returns the extra index keys rpm (updateRichDep)
// adds for a rich dependency: every simple name inside it, those under an
// if/unless condition prefixed with '!', sorted and without duplicates,
// rpmlib() names left out. A string that does not parse gives none, as in
// rpm.
func richNames(s string) []string {
	toks := richTokens(s)
	var argv []string
	neg := false
	pos := 0
	var parse func() bool
	parse = func() bool {
		if pos >= len(toks) || toks[pos] != "(" {
			return false
		}
		pos++
		level := len(argv)
		op := ""
		for {
			if pos >= len(toks) {
				return false
			}
			if toks[pos] == "(" {
				if !parse() {
					return false
				}
			} else {
				name := toks[pos]
				if name == ")" || richOps[name] {
					return false
				}
				pos++
				if pos+1 < len(toks) && isCmp(toks[pos]) {
					pos += 2
				}
				if !(len(name) > 7 && strings.HasPrefix(name, "rpmlib(")) {
					p := " "
					if neg {
						p = "!"
					}
					argv = append(argv, p+name)
				}
			}
			if pos >= len(toks) {
				return false
			}
			if toks[pos] == ")" {
				pos++
				if op == "if" || op == "unless" {
					neg = !neg
				}
				return true
			}
			o := toks[pos]
			if !richOps[o] {
				return false
			}
			pos++
			switch o {
			case "if", "unless":
				level = len(argv)
				neg = !neg
				op = o
			case "else":
				n := len(argv)
				for i := level; i < n; i++ {
					a := argv[i]
					if a[0] == ' ' {
						a = "!" + a[1:]
					} else {
						a = " " + a[1:]
					}
					argv = append(argv, a)
				}
				neg = !neg
			default:
				if op == "" {
					op = o
				}
			}
		}
	}
	if !parse() || pos != len(toks) {
		return nil
	}
	sort.Strings(argv)
	var out []string
	for i, a := range argv {
		if i > 0 && argv[i-1] == a {
			continue
		}
		out = append(out, strings.TrimPrefix(a, " "))
	}
	return out
}

var richOps = map[string]bool{"and": true, "or": true, "if": true, "else": true, "unless": true, "with": true, "without": true}

func isCmp(s string) bool {
	switch s {
	case "<", ">", "=", "<=", ">=", "=<", "=>":
		return true
	}
	return false
}

// richTokens splits a rich dependency into "(", ")" and words; a name may
// itself contain balanced parentheses ("perl(Foo)").
func richTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			out = append(out, string(c))
			i++
		default:
			j, depth := i, 0
			for j < len(s) {
				d := s[j]
				if d == ' ' || d == '\t' || (d == ')' && depth == 0) {
					break
				}
				if d == '(' {
					depth++
				} else if d == ')' {
					depth--
				}
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}
