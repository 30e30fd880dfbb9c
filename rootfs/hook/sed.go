package hook

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// sed supports what hooks use: sed -i with s/RE/REPL/FLAGS and /RE/d
// commands (several with -e or ';'), basic or extended (-E, -r) regexps.
func (h *hookRun) sed(o opts, rest []string) error {
	if !o.has("i") {
		return errors.New("only sed -i is supported")
	}
	var script string
	if e, ok := o['e']; ok {
		script = e
	} else {
		if len(rest) == 0 {
			return errors.New("missing script")
		}
		script, rest = rest[0], rest[1:]
	}
	cmds, err := parseSed(script, o.has("Er"))
	if err != nil {
		return err
	}
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	for _, p := range ps {
		data, err := h.t.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(data)
		trailing := strings.HasSuffix(text, "\n")
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		var out []string
		for _, l := range lines {
			keep := true
			for _, c := range cmds {
				if c.del {
					if c.re.MatchString(l) {
						keep = false
						break
					}
					continue
				}
				if c.global {
					l = c.re.ReplaceAllString(l, c.repl)
				} else if loc := c.re.FindStringSubmatchIndex(l); loc != nil {
					var b []byte
					b = c.re.ExpandString(b, c.repl, l, loc)
					l = l[:loc[0]] + string(b) + l[loc[1]:]
				}
			}
			if keep {
				out = append(out, l)
			}
		}
		res := strings.Join(out, "\n")
		if trailing && len(out) > 0 {
			res += "\n"
		}
		if err := h.t.WriteFile(p, []byte(res), 0o644); err != nil {
			return err
		}
	}
	return nil
}

type sedCmd struct {
	re     *regexp.Regexp
	repl   string
	global bool
	del    bool
}

func parseSed(script string, ere bool) ([]sedCmd, error) {
	var cmds []sedCmd
	for _, part := range strings.Split(script, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		switch {
		case strings.HasPrefix(part, "s") && len(part) > 1:
			delim := string(part[1])
			f := strings.Split(part[2:], delim)
			if len(f) != 3 {
				return nil, fmt.Errorf("unsupported sed command %q", part)
			}
			re, err := sedRegexp(f[0], ere)
			if err != nil {
				return nil, err
			}
			repl := strings.ReplaceAll(f[1], "$", "$$")
			repl = regexp.MustCompile(`\\([0-9])`).ReplaceAllString(repl, "$${$1}")
			repl = strings.ReplaceAll(repl, "&", "${0}")
			if strings.Trim(f[2], "g") != "" {
				return nil, fmt.Errorf("unsupported sed flags %q", f[2])
			}
			cmds = append(cmds, sedCmd{re: re, repl: repl, global: f[2] == "g"})
		case strings.HasPrefix(part, "/") && strings.HasSuffix(part, "/d"):
			re, err := sedRegexp(part[1:len(part)-2], ere)
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, sedCmd{re: re, del: true})
		default:
			return nil, fmt.Errorf("unsupported sed command %q", part)
		}
	}
	return cmds, nil
}

// sedRegexp converts a POSIX basic regexp to Go syntax when needed.
func sedRegexp(s string, ere bool) (*regexp.Regexp, error) {
	if !ere {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				n := s[i+1]
				if strings.IndexByte("(){}|+?", n) >= 0 {
					b.WriteByte(n)
				} else {
					b.WriteByte('\\')
					b.WriteByte(n)
				}
				i++
				continue
			}
			if strings.IndexByte("(){}|+?", c) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		s = b.String()
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("sed regexp %q: %w", s, err)
	}
	return re, nil
}
