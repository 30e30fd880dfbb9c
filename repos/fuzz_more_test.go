package repos_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/repos"
)

// FuzzParseStagingCommand: a packages_script_staging value. An accepted
// command reads back from its String, names packages that are not options,
// and a refused one is an error, never a panic.
func FuzzParseStagingCommand(f *testing.F) {
	// The embedded definitions' values, and VIC's.
	for _, s := range []string{"erase toybox", "", "remove toybox vim", "install iptables", "null", " ", "erase -y toybox", "upgrade", "erase"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := repos.ParseStagingCommand(s)
		if err != nil || c == nil {
			if c != nil {
				t.Fatalf("%q: command %v with error %v", s, c, err)
			}
			return
		}
		if len(c.Packages) == 0 {
			t.Fatalf("%q: accepted without packages", s)
		}
		for _, p := range c.Packages {
			if p == "" || strings.HasPrefix(p, "-") || strings.ContainsAny(p, " \t\n") {
				t.Fatalf("%q: package %q accepted", s, p)
			}
		}
		again, err := repos.ParseStagingCommand(c.String())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("%q: String %q reads back as %v, %v", s, c.String(), again, err)
		}
	})
}
