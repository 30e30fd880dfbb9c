package rpmrepo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrRepoFile is wrapped by every error about a .repo file.
var ErrRepoFile = errors.New("bad .repo file")

// Vars are the variables a .repo file may use: releasever, basearch, arch
// (and any other the caller defines), written $name or ${name}.
type Vars map[string]string

// RepoConfig is one [section] of a .repo file, as dnf reads it.
type RepoConfig struct {
	ID   string
	Name string
	// BaseURLs are tried in order (failover), then the mirrors that
	// MirrorList and Metalink name (Open fetches them); Options.Mirror
	// replaces them all.
	BaseURLs   []string
	MirrorList string
	Metalink   string
	Enabled    bool
	// GPGCheck defaults to true (fail closed; dnf.conf on every
	// distribution sets it); RepoGPGCheck to false.
	GPGCheck          bool
	RepoGPGCheck      bool
	GPGKeys           []string
	Priority          int // default 99, lower wins
	Cost              int // default 1000
	Exclude           []string
	IncludePkgs       []string
	SkipIfUnavailable bool
	// Source is "file:line" of the section header.
	Source string
	// Unknown lists keys dnf would accept but this package ignores
	// ("metadata_expire", ...), as "file:line: key", for the build report.
	Unknown []string
}

// keys we parse; other well-known dnf keys are accepted and recorded as
// Unknown so that real .repo files load.
var ignoredKeys = map[string]bool{
	"metadata_expire": true, "type": true, "sslverify": true, "sslcacert": true, "sslclientcert": true,
	"sslclientkey": true, "module_hotfixes": true, "countme": true, "deltarpm": true, "fastestmirror": true,
	"timeout": true, "retries": true, "minrate": true, "throttle": true, "bandwidth": true, "proxy": true,
	"proxy_username": true, "proxy_password": true, "username": true, "password": true, "enabled_metadata": true,
	"localpkg_gpgcheck": true, "max_parallel_downloads": true, "ip_resolve": true, "keepcache": true,
	"gpgcakey": true, "mediaid": true, "failovermethod": true, "deltarpm_percentage": true, "repo_gpgkey": true,
}

// ParseRepoFile reads a .repo file. name is used in errors and in each
// config's Source. Variables are expanded in every value. Sections come
// back in file order.
func ParseRepoFile(name string, data []byte, vars Vars) ([]*RepoConfig, error) {
	type kv struct {
		key, val string
		line     int
	}
	type section struct {
		id   string
		line int
		kvs  []kv
	}
	var secs []*section
	seen := map[string]int{}
	var cur *section
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ln := 0
	errf := func(line int, key, format string, a ...any) error {
		where := fmt.Sprintf("%s:%d", name, line)
		if key != "" {
			where += fmt.Sprintf(": key %q", key)
		}
		return fmt.Errorf("rpmrepo: %s: %w: %s", where, ErrRepoFile, fmt.Sprintf(format, a...))
	}
	for sc.Scan() {
		ln++
		raw := sc.Text()
		if ln == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		// A line that starts with white space continues the previous
		// value (multi-line baseurl and gpgkey lists).
		if raw[0] == ' ' || raw[0] == '\t' {
			if cur != nil && len(cur.kvs) > 0 {
				last := &cur.kvs[len(cur.kvs)-1]
				last.val += "\n" + line
				continue
			}
			return nil, errf(ln, "", "continuation line without a key")
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, errf(ln, "", "section header %q not closed with ]", line)
			}
			id := strings.TrimSpace(line[1 : len(line)-1])
			if id == "" {
				return nil, errf(ln, "", "empty section name")
			}
			if strings.ContainsAny(id, " \t/") {
				return nil, errf(ln, "", "section name %q contains white space or /", id)
			}
			if prev, ok := seen[id]; ok {
				return nil, errf(ln, "", "section [%s] already defined at line %d", id, prev)
			}
			seen[id] = ln
			cur = &section{id: id, line: ln}
			secs = append(secs, cur)
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, errf(ln, "", "want key=value, got %q", line)
		}
		if cur == nil {
			return nil, errf(ln, strings.TrimSpace(line[:i]), "key outside any [section]")
		}
		cur.kvs = append(cur.kvs, kv{strings.ToLower(strings.TrimSpace(line[:i])), strings.TrimSpace(line[i+1:]), ln})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rpmrepo: %s:%d: %w: %v", name, ln+1, ErrRepoFile, err)
	}
	var out []*RepoConfig
	for _, s := range secs {
		if s.id == "main" {
			continue // dnf.conf's [main] carries no repository
		}
		c := &RepoConfig{ID: s.id, Enabled: true, GPGCheck: true, Priority: 99, Cost: 1000, Source: fmt.Sprintf("%s:%d", name, s.line)}
		keyLine := map[string]int{}
		for _, e := range s.kvs {
			if prev, ok := keyLine[e.key]; ok {
				return nil, errf(e.line, e.key, "already set at line %d in [%s]", prev, s.id)
			}
			keyLine[e.key] = e.line
			v, err := expand(e.val, vars)
			if err != nil {
				return nil, errf(e.line, e.key, "%v", err)
			}
			var bad error
			switch e.key {
			case "name":
				c.Name = v
			case "baseurl":
				c.BaseURLs = splitList(v)
				for _, u := range c.BaseURLs {
					if !hasScheme(u) {
						bad = fmt.Errorf("%q is not a URL (want http://, https:// or file://)", u)
					}
				}
			case "mirrorlist":
				c.MirrorList = v
			case "metalink":
				c.Metalink = v
			case "enabled":
				c.Enabled, bad = parseBool(v)
			case "gpgcheck":
				c.GPGCheck, bad = parseBool(v)
			case "repo_gpgcheck":
				c.RepoGPGCheck, bad = parseBool(v)
			case "skip_if_unavailable":
				c.SkipIfUnavailable, bad = parseBool(v)
			case "gpgkey":
				c.GPGKeys = splitList(v)
				for _, u := range c.GPGKeys {
					if !hasScheme(u) {
						bad = fmt.Errorf("%q is not a URL (want file://, http:// or https://)", u)
					}
				}
			case "priority":
				c.Priority, bad = parseInt(v, 1, 99)
			case "cost":
				c.Cost, bad = parseInt(v, 0, 1<<31-1)
			case "exclude", "excludepkgs":
				c.Exclude = append(c.Exclude, splitList(v)...)
			case "includepkgs":
				c.IncludePkgs = append(c.IncludePkgs, splitList(v)...)
			default:
				if !ignoredKeys[e.key] {
					return nil, errf(e.line, e.key, "unknown key in [%s]", s.id)
				}
				c.Unknown = append(c.Unknown, fmt.Sprintf("%s:%d: %s", name, e.line, e.key))
			}
			if bad != nil {
				return nil, errf(e.line, e.key, "%v", bad)
			}
		}
		if len(c.BaseURLs) == 0 && c.MirrorList == "" && c.Metalink == "" {
			return nil, errf(s.line, "baseurl", "[%s] has none of baseurl, mirrorlist, metalink", s.id)
		}
		out = append(out, c)
	}
	return out, nil
}

func hasScheme(u string) bool {
	for _, p := range []string{"http://", "https://", "file://", "ftp://"} {
		if strings.HasPrefix(strings.ToLower(u), p) {
			return true
		}
	}
	return false
}

// splitList splits a dnf list value: white space, newlines or commas.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (want 1/0, yes/no, true/false, on/off)", v)
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not an integer in %d..%d", v, lo, hi)
	}
	return n, nil
}

// expand substitutes $name and ${name}. Names are letters, digits and _
// (with tdnf's reading of "$releasever_x", see below); an undefined variable
// is an error (dnf would leave it, and then fetch a
// URL with a literal "$releasever" in it).
func expand(s string, vars Vars) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		brace := j < len(s) && s[j] == '{'
		if brace {
			j++
		}
		k := j
		for k < len(s) && (s[k] == '_' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= '0' && s[k] <= '9') {
			k++
		}
		name := s[j:k]
		if brace {
			if k >= len(s) || s[k] != '}' {
				return "", fmt.Errorf("unterminated ${ in %q", s)
			}
			k++
		}
		if name == "" {
			b.WriteByte('$')
			i++
			continue
		}
		v, ok := vars[name]
		if !ok && !brace {
			// tdnf (Photon's) replaces known names wherever they occur, and
			// VIC's repo files rely on it: "$releasever_$basearch". Take
			// the longest defined name that starts the identifier.
			best := ""
			for n := range vars {
				if strings.HasPrefix(name, n) && len(n) > len(best) {
					best = n
				}
			}
			if best != "" {
				v, ok, k = vars[best], true, j+len(best)
			}
		}
		if !ok {
			known := make([]string, 0, len(vars))
			for n := range vars {
				known = append(known, "$"+n)
			}
			sort.Strings(known)
			return "", fmt.Errorf("undefined variable $%s in %q (defined: %s)", name, s, strings.Join(known, " "))
		}
		b.WriteString(v)
		i = k
	}
	return b.String(), nil
}
