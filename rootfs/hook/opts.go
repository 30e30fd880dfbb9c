package hook

import (
	"fmt"
	"strings"
)

// opts are an applet's parsed options: each short option given, with its
// value for those that take one.
type opts map[byte]string

// has reports whether any of the options in cs was given.
func (o opts) has(cs string) bool {
	for i := 0; i < len(cs); i++ {
		if _, ok := o[cs[i]]; ok {
			return true
		}
	}
	return false
}

// parseFlags splits leading options ("-rf", "-m 755", "--force") from
// operands. withArg lists the short options that take a value.
func parseFlags(args []string, withArg string) (opts, []string, error) {
	o := opts{}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return o, args[1:], nil
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		if strings.HasPrefix(a, "--") {
			long := map[string]byte{"force": 'f', "recursive": 'r', "parents": 'p', "symbolic": 's',
				"archive": 'a', "no-dereference": 'P', "dereference": 'L', "mode": 'm',
				"in-place": 'i', "no-clobber": 'n', "verbose": 'v', "directory": 'd'}
			k, v, hasV := strings.Cut(a[2:], "=")
			c, ok := long[k]
			if !ok {
				return nil, nil, fmt.Errorf("unsupported option %s", a)
			}
			o[c] = v
			if strings.IndexByte(withArg, c) >= 0 && !hasV {
				if len(args) == 0 {
					return nil, nil, fmt.Errorf("option %s needs a value", a)
				}
				o[c], args = args[0], args[1:]
			}
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if strings.IndexByte(withArg, c) >= 0 {
				v := a[j+1:]
				if v == "" {
					if len(args) == 0 {
						return nil, nil, fmt.Errorf("option -%c needs a value", c)
					}
					v, args = args[0], args[1:]
				}
				o[c] = v
				break
			}
			o[c] = ""
		}
	}
	return o, args, nil
}
