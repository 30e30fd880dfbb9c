package resolver_test

import (
	"errors"
	"testing"

	"github.com/vicroot/vicroot/resolver"
)

func TestParseRich(t *testing.T) {
	tests := []struct{ in, want string }{
		{"(foo and bar)", "(foo and bar)"},
		{"(foo >= 1.2-3 or bar)", "(foo >= 1.2-3 or bar)"},
		{"(a and b and c)", "((a and b) and c)"},
		{"(pkgA if pkgB else pkgC)", "(pkgA if pkgB else pkgC)"},
		{"(pkgA unless pkgB else pkgC)", "(pkgA unless pkgB else pkgC)"},
		{"(libc.so.6()(64bit) with glibc >= 2:2.17)", "(libc.so.6()(64bit) with glibc >= 2:2.17)"},
		{"(kernel without kernel-rt)", "(kernel without kernel-rt)"},
		{"((a or b) and (c if d))", "((a or b) and (c if d))"},
		{"(  a   or   (b with c)  )", "(a or (b with c))"},
		{"(perl(Foo::Bar) >= 1 if (x or (y and z)))", "(perl(Foo::Bar) >= 1 if (x or (y and z)))"},
		{"(foo)", "(foo)"},
		// A real Fedora dependency.
		{"(glibc-langpack-en if (glibc and langpacks-en))", "(glibc-langpack-en if (glibc and langpacks-en))"},
	}
	for _, tt := range tests {
		r, err := resolver.ParseRich(tt.in)
		if err != nil {
			t.Errorf("ParseRich(%q): %v", tt.in, err)
			continue
		}
		if got := r.String(); got != tt.want {
			t.Errorf("ParseRich(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseRichErrors(t *testing.T) {
	for _, in := range []string{
		"", "foo", "(", "()", "(foo", "(foo and)", "(and foo)", "(foo bar)",
		"(a and b or c)",  // mixing needs parentheses
		"(a if b if c)",   // if does not chain
		"(a or b else c)", // else only after if/unless
		"(a if b else c else d)",
		"(a >= )", "(a >> 1)", "(a) b", "(foo(bar and x)", "(a with (b)",
	} {
		if _, err := resolver.ParseRich(in); err == nil {
			t.Errorf("ParseRich(%q) accepted", in)
		} else if !errors.Is(err, resolver.ErrRichSyntax) {
			t.Errorf("ParseRich(%q) error %v does not wrap ErrRichSyntax", in, err)
		}
	}
}

// FuzzParseRich: the parser never panics, and what it accepts prints to a
// string that parses back to the same expression.
func FuzzParseRich(f *testing.F) {
	for _, s := range []string{
		"(foo and bar)", "(a if b else c)", "(a unless (b or c) else d)",
		"(libc.so.6()(64bit) with glibc >= 2:2.17-1)", "(x without y < 3)",
		"(glibc-langpack-en if (glibc and langpacks-en))", "((a or b) and c and d)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := resolver.ParseRich(s)
		if err != nil {
			return
		}
		out := r.String()
		r2, err := resolver.ParseRich(out)
		if err != nil {
			t.Fatalf("ParseRich(%q) ok, but its String %q does not parse: %v", s, out, err)
		}
		if out2 := r2.String(); out2 != out {
			t.Fatalf("round trip of %q: %q then %q", s, out, out2)
		}
	})
}
