package mtree_test

import (
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/mtree"
)

// FuzzUnescape: paths as an mtree manifest from an untrusted ISO spells
// them. Unescape never fails, undoes Escape exactly, and only shortens.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{
		`./etc/pki/ca-trust/source/anchors/Root\040CA\040\0432.pem`, // as bsdtar --format=mtree writes it
		`./usr/share/doc/a\134b`, `\0`, `\400`, `\377\000\`, `\\\`, `x\07`, `./a=b`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := mtree.Unescape(s)
		if len(u) > len(s) {
			t.Fatalf("Unescape(%q) = %q is longer", s, u)
		}
		if !strings.Contains(s, `\`) && u != s {
			t.Fatalf("Unescape(%q) = %q changed a string without escapes", s, u)
		}
		e := mtree.Escape(s)
		if strings.ContainsAny(e, " \t\n#=") {
			t.Fatalf("Escape(%q) = %q holds white space, '#' or '='", s, e)
		}
		if got := mtree.Unescape(e); got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, got)
		}
	})
}
