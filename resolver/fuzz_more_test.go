package resolver_test

import (
	"strings"
	"testing"

	"github.com/vicroot/vicroot/resolver"
)

// FuzzParseEVR: "[epoch:]version[-release]" from a request or a lock. The
// parts put back together give the input: the epoch is digits, the
// release holds no '-', and nothing is lost.
func FuzzParseEVR(f *testing.F) {
	for _, s := range []string{"1.9.14-1.ph2", "0:4.4.18-1.ph2", "2:1.0-1", "1.0", "1:2", "a:1-2", "1-2-3", ":1", "1:", "-", "", "01:1.0~rc1^git-3.el8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := resolver.ParseEVR(s)
		if strings.Trim(e.Epoch, "0123456789") != "" {
			t.Fatalf("ParseEVR(%q): epoch %q is not digits", s, e.Epoch)
		}
		if strings.Contains(e.Release, "-") {
			t.Fatalf("ParseEVR(%q): release %q holds '-'", s, e.Release)
		}
		rest := s
		if e.Epoch != "" || strings.HasPrefix(s, ":") {
			rest = strings.TrimPrefix(s[len(e.Epoch):], ":")
		}
		back := e.Version
		if strings.Contains(rest, "-") {
			back += "-" + e.Release
		}
		if back != rest {
			t.Fatalf("ParseEVR(%q) = %+v does not put back together (%q, want %q)", s, e, back, rest)
		}
	})
}
