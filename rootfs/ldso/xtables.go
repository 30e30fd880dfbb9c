package ldso

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// extensionPrefixes are the file name prefixes of iptables extensions
// (xtables' xtables_find_match/target try lib<family>_<name>.so).
var extensionPrefixes = []string{"libxt_", "libipt_", "libip6t_", "libebt_", "libarpt_"}

// XtablesDir returns libxtables' built-in extension directory (the
// XTABLES_LIBDIR it was configured with; Debian's is
// /usr/lib/x86_64-linux-gnu/xtables, Photon's /usr/lib/iptables), read out
// of the library at libxtables in fsys: the one absolute path string in the
// library (a ':'-separated list is split) that is a directory of the tree
// holding iptables extensions. No XTABLES_LIBDIR environment is involved:
// VIC's tether runs iptables without one.
func XtablesDir(ctx context.Context, fsys fs.FS, libxtables string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	t, err := newTree(fsys)
	if err != nil {
		return "", err
	}
	canon, fi, err := t.canon(libxtables)
	if err != nil {
		return "", fmt.Errorf("ldso: libxtables %s: %w", libxtables, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("ldso: libxtables %s is not a regular file", libxtables)
	}
	data, err := fs.ReadFile(fsys, rel(canon))
	if err != nil {
		return "", fmt.Errorf("ldso: reading libxtables %s: %w", libxtables, err)
	}
	if !bytes.HasPrefix(data, []byte("\x7fELF")) {
		return "", fmt.Errorf("ldso: libxtables %s: %w", libxtables, ErrNotELF)
	}
	var found []string
	seen := map[string]bool{}
	for i := 1; i < len(data); i++ {
		if data[i] != '/' || data[i-1] != 0 {
			continue
		}
		n := bytes.IndexByte(data[i:], 0)
		if n < 0 || n > 4096 {
			continue
		}
		s := string(data[i : i+n])
		for _, d := range strings.Split(s, ":") {
			if d == "" || seen[d] || strings.ContainsAny(d, " \t\n%") {
				continue
			}
			seen[d] = true
			if hasExtensions(t, d) {
				found = append(found, d)
			}
		}
	}
	switch len(found) {
	case 1:
		return strings.TrimRight(found[0], "/"), nil
	case 0:
		return "", fmt.Errorf("ldso: libxtables %s: no path string in it names a directory of iptables extensions in the tree", libxtables)
	}
	sort.Strings(found)
	return "", fmt.Errorf("ldso: libxtables %s: several path strings name extension directories: %s", libxtables, strings.Join(found, ", "))
}

func hasExtensions(t tree, dir string) bool {
	canon, fi, err := t.canon(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	ents, err := t.readDir(canon)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if isExtension(e.Name()) {
			return true
		}
	}
	return false
}

func isExtension(name string) bool {
	if !strings.HasSuffix(name, ".so") {
		return false
	}
	for _, p := range extensionPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Extensions lists every lib*.so in dir (as XtablesDir returns it) that is
// or leads to a regular file, sorted: the plugins iptables may dlopen.
func Extensions(ctx context.Context, fsys fs.FS, dir string) ([]string, error) {
	t, err := newTree(fsys)
	if err != nil {
		return nil, err
	}
	canon, fi, err := t.canon(dir)
	if err != nil {
		return nil, fmt.Errorf("ldso: extension directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("ldso: extension directory %s is not a directory", dir)
	}
	ents, err := t.readDir(canon)
	if err != nil {
		return nil, fmt.Errorf("ldso: extension directory %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := e.Name()
		if !strings.HasPrefix(n, "lib") || !strings.HasSuffix(n, ".so") {
			continue
		}
		p := strings.TrimRight(dir, "/") + "/" + n
		if _, fi, err := t.canon(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
