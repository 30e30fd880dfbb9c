package hook

import (
	"strings"
	"testing"
)

// FuzzParseSed feeds sed scripts to the parser behind `sed -i`: an
// unsupported or malformed script is an error, never a panic.
func FuzzParseSed(f *testing.F) {
	for _, s := range []string{
		`s/^PermitRootLogin no/PermitRootLogin yes/`, `/^#Port/d`, `s/\(Use\)DNS yes/\1DNS no/g`,
		`s|a|b|g; /x/d`, `s/a+b?/&&/`, `s/(a)/\1/`, `s/a/b/x`, `/[/d`, `s`, `/d`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, script string, ere bool) {
		cmds, err := parseSed(script, ere)
		if err != nil {
			return
		}
		for _, c := range cmds {
			if c.re == nil {
				t.Fatalf("%q: command without a regexp", script)
			}
		}
	})
}

// FuzzParseMode feeds chmod modes to parseMode: errors are fine, and an
// accepted mode holds permission, setuid, setgid and sticky bits only.
func FuzzParseMode(f *testing.F) {
	for _, s := range []string{"755", "4755", "0644", "u+x,go-r", "g+w", "a=rX", "o-rwx", "u=rws,g=s,+t", "=", "8", "u+q"} {
		f.Add(s, uint32(0o644), false)
		f.Add(s, uint32(0o755), true)
	}
	f.Fuzz(func(t *testing.T, s string, old uint32, isDir bool) {
		m, err := parseMode(s, unixToMode(old), isDir)
		if err != nil {
			return
		}
		if m&^permBits != 0 {
			t.Fatalf("parseMode(%q) = %v: bits beyond the permissions", s, m)
		}
	})
}

// FuzzParseFlags feeds argument lists (split on spaces) to the applets'
// option parser: every option it returns was given, and the operands are
// a suffix of the arguments.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"-rf a b", "-m 755 -p d", "--mode=700 d", "--force -- -x", "-m", "--bogus", "-e s/a/b/ -i f", "a -r"} {
		f.Add(s, "me")
	}
	f.Fuzz(func(t *testing.T, line, withArg string) {
		args := strings.Fields(line)
		o, rest, err := parseFlags(args, withArg)
		if err != nil {
			return
		}
		if len(rest) > len(args) || strings.Join(args[len(args)-len(rest):], " ") != strings.Join(rest, " ") {
			t.Fatalf("parseFlags(%q): operands %q are not a suffix of the arguments", args, rest)
		}
		for c := range o {
			if strings.IndexByte(line, c) < 0 {
				t.Fatalf("parseFlags(%q): option %q not given", args, c)
			}
		}
	})
}
