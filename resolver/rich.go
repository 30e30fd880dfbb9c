package resolver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// RichOp is the operator of a rich (boolean) dependency node.
type RichOp uint8

// The operators of rpm's boolean dependencies (rpm 4.13 and later).
const (
	RichDep     RichOp = iota // a leaf: a plain dependency
	RichAnd                   // (A and B): both
	RichOr                    // (A or B): at least one
	RichIf                    // (A if B [else C]): A or not B [else: B ? A : C]
	RichUnless                // (A unless B [else C]): A and not B [else: B ? C : A]
	RichWith                  // (A with B): one package satisfying both
	RichWithout               // (A without B): one package satisfying A and not B

	// richNot negates Left; the solver uses it for rich Conflicts. The
	// parser never produces it.
	richNot RichOp = 100
)

var richOpNames = [...]string{"", "and", "or", "if", "unless", "with", "without"}

func (o RichOp) String() string {
	if o == richNot {
		return "not"
	}
	if int(o) < len(richOpNames) {
		return richOpNames[o]
	}
	return fmt.Sprintf("RichOp(%d)", o)
}

// Rich is a parsed boolean dependency. A leaf (Op == RichDep) holds Dep; an
// inner node holds Left and Right, and Else for "if ... else" and
// "unless ... else". Chains such as (A and B and C) nest to the left.
type Rich struct {
	Op          RichOp
	Dep         rpmrepo.Dep
	Left, Right *Rich
	Else        *Rich
}

// ErrRichSyntax is wrapped by every error ParseRich returns.
var ErrRichSyntax = errors.New("malformed rich dependency")

// maxRichDepth bounds nesting so that hostile metadata cannot exhaust the
// stack; rpm itself has no deeper real-world use than a handful.
const maxRichDepth = 64

// IsRich reports whether a dependency name is a rich dependency, which
// primary.xml stores whole in the name attribute.
func IsRich(name string) bool { return strings.HasPrefix(name, "(") }

// ParseRich parses a rich dependency such as
// "(foo >= 1.2 if (bar or baz) else qux)".
func ParseRich(s string) (*Rich, error) {
	p := richParser{s: s}
	p.skipSpace()
	if p.pos >= len(s) || s[p.pos] != '(' {
		return nil, p.errf("must start with '('")
	}
	r, err := p.group(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(s) {
		return nil, p.errf("unexpected %q after the closing ')'", s[p.pos:])
	}
	return r, nil
}

type richParser struct {
	s   string
	pos int
}

func (p *richParser) errf(format string, args ...any) error {
	return fmt.Errorf("%w %q at offset %d: %s", ErrRichSyntax, p.s, p.pos, fmt.Sprintf(format, args...))
}

func (p *richParser) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// group parses "( operand op operand ... )" with p at the '('.
func (p *richParser) group(depth int) (*Rich, error) {
	if depth >= maxRichDepth {
		return nil, p.errf("nested deeper than %d", maxRichDepth)
	}
	p.pos++ // '('
	left, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == ')' {
		// A lone operand in parentheses: "(foo)" is allowed and means foo.
		p.pos++
		return left, nil
	}
	op, err := p.operator()
	if err != nil {
		return nil, err
	}
	right, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	node := &Rich{Op: op, Left: left, Right: right}
	for {
		p.skipSpace()
		if p.pos >= len(p.s) {
			return nil, p.errf("missing ')'")
		}
		if p.s[p.pos] == ')' {
			p.pos++
			return node, nil
		}
		start := p.pos
		word := p.word()
		switch {
		case word == "else" && (op == RichIf || op == RichUnless) && node.Else == nil:
			if node.Else, err = p.operand(depth); err != nil {
				return nil, err
			}
		case word == op.String() && (op == RichAnd || op == RichOr || op == RichWith):
			right, err := p.operand(depth)
			if err != nil {
				return nil, err
			}
			node = &Rich{Op: op, Left: node, Right: right}
		default:
			p.pos = start
			return nil, p.errf("unexpected %q after a %q operand (mixing operators needs parentheses)", word, op)
		}
	}
}

func (p *richParser) operator() (RichOp, error) {
	p.skipSpace()
	start := p.pos
	w := p.word()
	for i, n := range richOpNames {
		if i > 0 && w == n {
			return RichOp(i), nil
		}
	}
	p.pos = start
	if w == "" {
		return 0, p.errf("missing operator")
	}
	return 0, p.errf("unknown operator %q (want and, or, if, unless, with, without)", w)
}

// word reads a run of non-space characters that are not parentheses.
func (p *richParser) word() string {
	start := p.pos
	for p.pos < len(p.s) && !isSpace(p.s[p.pos]) && p.s[p.pos] != '(' && p.s[p.pos] != ')' {
		p.pos++
	}
	return p.s[start:p.pos]
}

// operand is a nested group or a simple dependency "name [op evr]".
func (p *richParser) operand(depth int) (*Rich, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, p.errf("missing operand")
	}
	if p.s[p.pos] == '(' {
		return p.group(depth + 1)
	}
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	for _, n := range richOpNames[1:] {
		if name == n || name == "else" {
			return nil, p.errf("operator %q where a dependency was expected", name)
		}
	}
	d := rpmrepo.Dep{Name: name}
	save := p.pos
	p.skipSpace()
	opStart := p.pos
	for p.pos < len(p.s) && strings.IndexByte("<=>!", p.s[p.pos]) >= 0 {
		p.pos++
	}
	if opStart == p.pos {
		p.pos = save
		return &Rich{Op: RichDep, Dep: d}, nil
	}
	switch p.s[opStart:p.pos] {
	case "<":
		d.Flags = rpmrepo.FlagsLT
	case "<=", "=<":
		d.Flags = rpmrepo.FlagsLE
	case "=", "==":
		d.Flags = rpmrepo.FlagsEQ
	case ">=", "=>":
		d.Flags = rpmrepo.FlagsGE
	case ">":
		d.Flags = rpmrepo.FlagsGT
	default:
		p.pos = opStart
		return nil, p.errf("unknown comparison %q", p.s[opStart:p.pos])
	}
	p.skipSpace()
	v := p.word()
	if v == "" {
		return nil, p.errf("missing version after %q", d.Flags.Op())
	}
	d.EVR = ParseEVR(v)
	if d.EVR.Version == "" {
		return nil, p.errf("empty version in %q", v)
	}
	// rpm forbids ':' in versions and releases, and an epoch before ':'
	// must not be empty: otherwise "(a = :1:)" would not read back the
	// same from its own String.
	if strings.HasPrefix(v, ":") || strings.ContainsRune(d.EVR.Version, ':') || strings.ContainsRune(d.EVR.Release, ':') {
		return nil, p.errf("bad epoch or ':' in version %q", v)
	}
	// Nor may a version hold '-' or a '-' be followed by no release.
	if strings.ContainsRune(d.EVR.Version, '-') || strings.ContainsRune(v, '-') && d.EVR.Release == "" {
		return nil, p.errf("bad release in version %q", v)
	}
	return &Rich{Op: RichDep, Dep: d}, nil
}

// name reads a dependency name; balanced parentheses belong to it, as in
// "libc.so.6()(64bit)" or "perl(Foo::Bar)".
func (p *richParser) name() (string, error) {
	start, nest := p.pos, 0
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if isSpace(c) && nest == 0 {
			break
		}
		if c == '(' {
			nest++
		} else if c == ')' {
			if nest == 0 {
				break
			}
			nest--
		}
		p.pos++
	}
	if nest != 0 {
		return "", p.errf("unbalanced parentheses in name %q", p.s[start:p.pos])
	}
	if p.pos == start {
		return "", p.errf("missing dependency name")
	}
	return p.s[start:p.pos], nil
}

// ParseEVR splits "[epoch:]version[-release]" as rpm does: the epoch is
// what precedes the first ':' when it is all digits, the release what
// follows the last '-'.
func ParseEVR(s string) rpmrepo.EVR {
	var e rpmrepo.EVR
	if i := strings.IndexByte(s, ':'); i >= 0 && allDigits(s[:i]) {
		e.Epoch, s = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		e.Version, e.Release = s[:i], s[i+1:]
	} else {
		e.Version = s
	}
	return e
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// String formats the dependency in rpm's syntax, fully parenthesised.
func (r *Rich) String() string {
	var b strings.Builder
	r.write(&b, true)
	return b.String()
}

func (r *Rich) write(b *strings.Builder, top bool) {
	if r.Op == richNot {
		b.WriteString("(not ")
		r.Left.write(b, false)
		b.WriteByte(')')
		return
	}
	if r.Op == RichDep {
		if top {
			b.WriteByte('(')
		}
		b.WriteString(r.Dep.Name)
		if r.Dep.Flags != rpmrepo.FlagsNone {
			b.WriteString(" " + r.Dep.Flags.Op() + " ")
			if r.Dep.EVR.Epoch != "" {
				b.WriteString(r.Dep.EVR.Epoch + ":")
			}
			b.WriteString(r.Dep.EVR.Version)
			if r.Dep.EVR.Release != "" {
				b.WriteString("-" + r.Dep.EVR.Release)
			}
		}
		if top {
			b.WriteByte(')')
		}
		return
	}
	b.WriteByte('(')
	r.Left.write(b, false)
	b.WriteString(" " + r.Op.String() + " ")
	r.Right.write(b, false)
	if r.Else != nil {
		b.WriteString(" else ")
		r.Else.write(b, false)
	}
	b.WriteByte(')')
}

// leaves calls fn for every plain dependency in the expression.
func (r *Rich) leaves(fn func(rpmrepo.Dep)) {
	if r == nil {
		return
	}
	if r.Op == RichDep {
		fn(r.Dep)
		return
	}
	r.Left.leaves(fn)
	r.Right.leaves(fn)
	r.Else.leaves(fn)
}
