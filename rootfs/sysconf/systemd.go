package sysconf

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// systemd's effects done natively: what `systemctl --root` would do for
// preset-all, enable, disable and set-default, and the empty machine-id
// VIC leaves. Links are written as systemctl writes them: in
// /etc/systemd/system, pointing at the unit file's absolute path.

// unitDirs are searched in systemd's order of precedence, /lib before
// /usr/lib as in a split-usr build (Debian's, the oracle of the tests, and
// the path VIC's own links use). Links name the unit by the directory it
// was found in, not by its canonical path, as systemctl does.
var unitDirs = []string{"etc/systemd/system", "usr/local/lib/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"}

var presetDirs = []string{"etc/systemd/system-preset", "usr/local/lib/systemd/system-preset", "usr/lib/systemd/system-preset", "lib/systemd/system-preset"}

type unitFile struct {
	name     string // foo.service
	path     string // canonical tree path
	wantedBy []string
	required []string
	alias    []string
	also     []string
	instance string // DefaultInstance=
	hasInst  bool   // has an [Install] section with something to do
}

// findUnit locates a unit file by name in the unit directories (the first
// directory holding it wins, as in systemd), following symlinks, and reads
// its [Install] section. The values of WantedBy=, RequiredBy=, Alias= and Also= must be unit
// names, and DefaultInstance= an instance name, as systemctl requires: a
// "/" or ".." in one would place a link outside /etc/systemd/system.
func (sys *System) findUnit(name string) (*unitFile, error) {
	if !validUnitName(name) {
		return nil, fmt.Errorf("%q is not a unit name", name)
	}
	for _, d := range unitDirs {
		fi, err := sys.fs.Stat(d + "/" + name)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		u := &unitFile{name: name, path: d + "/" + name}
		data, err := sys.fs.ReadFile(d + "/" + name)
		if err != nil {
			return nil, err
		}
		section := ""
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			if line[0] == '[' {
				section = strings.Trim(line, "[]")
				continue
			}
			if section != "Install" {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			vals := strings.Fields(v)
			k = strings.TrimSpace(k)
			switch k {
			case "WantedBy", "RequiredBy", "Alias", "Also":
				for _, n := range vals {
					if !validUnitName(n) {
						return nil, fmt.Errorf("%s line %d: %s=%s: not a unit name", u.path, i+1, k, n)
					}
				}
			case "DefaultInstance":
				// systemctl ignores it in a unit that is not a template.
				if inst := strings.TrimSpace(v); inst != "" && strings.Contains(name, "@.") && !validUnitChars(inst, false) {
					return nil, fmt.Errorf("%s line %d: DefaultInstance=%s: not an instance name", u.path, i+1, inst)
				}
			}
			switch k {
			case "WantedBy":
				u.wantedBy = append(u.wantedBy, vals...)
			case "RequiredBy":
				u.required = append(u.required, vals...)
			case "Alias":
				u.alias = append(u.alias, vals...)
			case "Also":
				u.also = append(u.also, vals...)
			case "DefaultInstance":
				u.instance = strings.TrimSpace(v)
			}
		}
		u.hasInst = len(u.wantedBy)+len(u.required)+len(u.alias)+len(u.also) > 0
		return u, nil
	}
	return nil, fmt.Errorf("unit %s %w", name, errNoUnit)
}

// errNoUnit says a unit file is in none of the unit directories.
var errNoUnit = errors.New("not found")

// unitTypes are the suffixes of systemd's unit types.
var unitTypes = []string{".service", ".socket", ".target", ".device", ".mount", ".automount", ".swap", ".timer", ".path", ".slice", ".scope"}

// validUnitName reports whether n is a unit name as systemd's
// unit_name_is_valid accepts it: a known type suffix after a non-empty
// prefix of letters, digits and ":-_.\\", with at most one "@" (a
// template or instance) that does not begin it, under 256 bytes.
func validUnitName(n string) bool {
	if len(n) >= 256 {
		return false
	}
	for _, t := range unitTypes {
		if prefix, ok := strings.CutSuffix(n, t); ok {
			at := strings.IndexByte(prefix, '@')
			if at == 0 || strings.Count(prefix, "@") > 1 {
				return false
			}
			return prefix != "" && validUnitChars(prefix, true)
		}
	}
	return false
}

// validUnitChars reports whether s holds only the characters of a unit
// name (with "@" when at), or "%", which starts a specifier systemctl
// expands and vicroot leaves as it is.
func validUnitChars(s string, at bool) bool {
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte(":-_.\\%", c) >= 0:
		case c == '@' && at:
		default:
			return false
		}
	}
	return true
}

// unitLinks returns the links enabling u creates: link path -> target.
func unitLinks(u *unitFile) map[string]string {
	links := map[string]string{}
	name := u.name
	if strings.Contains(name, "@.") {
		if u.instance == "" {
			return links
		}
		i := strings.Index(name, "@.")
		name = name[:i+1] + u.instance + name[i+1:]
	}
	target := "/" + u.path
	for _, w := range u.wantedBy {
		links["etc/systemd/system/"+w+".wants/"+name] = target
	}
	for _, r := range u.required {
		links["etc/systemd/system/"+r+".requires/"+name] = target
	}
	for _, a := range u.alias {
		links["etc/systemd/system/"+a] = target
	}
	return links
}

// Enable creates the [Install] links of the named units (and their Also=).
func (sys *System) Enable(units ...string) error {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	return sys.enable(units, map[string]bool{}, false)
}

// enable enables units (see eachUnit).
func (sys *System) enable(units []string, seen map[string]bool, also bool) error {
	return sys.eachUnit("enable", units, seen, also, func(name string, u *unitFile) error {
		links := unitLinks(u)
		for _, l := range sortedKeys(links) {
			if err := sys.placeLink(l, links[l]); err != nil {
				return fmt.Errorf("sysconf: enable %s: %w", name, err)
			}
		}
		return nil
	})
}

// eachUnit runs do on each named unit and then, recursively, on its Also=
// units, each once (seen); also says the units are the Also= units of
// another, which systemctl skips when they do not exist.
func (sys *System) eachUnit(verb string, units []string, seen map[string]bool, also bool, do func(name string, u *unitFile) error) error {
	for _, name := range units {
		if seen[name] {
			continue
		}
		seen[name] = true
		u, err := sys.findUnit(name)
		if also && errors.Is(err, errNoUnit) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sysconf: %s: %w", verb, err)
		}
		if err := do(name, u); err != nil {
			return err
		}
		if err := sys.eachUnit(verb, u.also, seen, true, do); err != nil {
			return fmt.Errorf("%w (Also= of %s)", err, u.path)
		}
	}
	return nil
}

func (sys *System) placeLink(name, target string) error {
	if err := sys.fs.MkdirAll(parentOf(name), 0o755); err != nil {
		return err
	}
	if fi, err := sys.fs.Lstat(name); err == nil {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s exists and is not a symlink", name)
		}
		if old, err := sys.fs.ReadLink(name); err == nil && old == target {
			return nil
		}
		if err := sys.fs.Remove(name); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return sys.fs.Symlink(target, name)
}

// Disable removes the links of the named units under /etc/systemd/system
// (and of their Also= units).
func (sys *System) Disable(units ...string) error {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	return sys.disable(units, map[string]bool{}, false)
}

// disable disables units (see eachUnit).
func (sys *System) disable(units []string, seen map[string]bool, also bool) error {
	return sys.eachUnit("disable", units, seen, also, func(_ string, u *unitFile) error {
		// Any symlink in /etc/systemd/system named after the unit or its
		// aliases goes, wherever it is (systemctl disable does the same).
		names := map[string]bool{path.Base(u.name): true}
		for _, a := range u.alias {
			names[a] = true
		}
		sys.removeLinks("etc/systemd/system", names, "/"+u.path)
		return nil
	})
}

func (sys *System) removeLinks(dir string, names map[string]bool, target string) {
	ents, err := sys.fs.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		k := e.Name()
		switch {
		case e.IsDir():
			sys.removeLinks(dir+"/"+k, names, target)
		case e.Type()&fs.ModeSymlink != 0:
			if t, err := sys.fs.ReadLink(dir + "/" + k); err == nil && (names[k] || t == target) {
				sys.fs.Remove(dir + "/" + k)
			}
		}
	}
}

// SetDefault makes /etc/systemd/system/default.target point at target.
func (sys *System) SetDefault(target string) error {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	u, err := sys.findUnit(target)
	if err != nil {
		return fmt.Errorf("sysconf: set-default: %w", err)
	}
	return sys.placeLink("etc/systemd/system/default.target", "/"+u.path)
}

// presetRule is one line of a *.preset file.
type presetRule struct {
	enable  bool
	pattern string
}

func (sys *System) presetRules() []presetRule {
	files := map[string]string{} // name -> tree path
	for _, d := range presetDirs {
		ents, err := sys.fs.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if !strings.HasSuffix(name, ".preset") {
				continue
			}
			if _, seen := files[name]; seen {
				continue // an earlier directory overrides by name
			}
			files[name] = d + "/" + name
		}
	}
	var rules []presetRule
	for _, name := range sortedKeys(files) {
		fi, err := sys.fs.Stat(files[name])
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := sys.fs.ReadFile(files[name])
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
				continue
			}
			switch f[0] {
			case "enable":
				rules = append(rules, presetRule{true, f[1]})
			case "disable":
				rules = append(rules, presetRule{false, f[1]})
			}
		}
	}
	return rules
}

// PresetAll applies `systemctl preset-all`: every unit file with an
// [Install] section is enabled or disabled by the first matching rule of
// the *.preset files (enabled when none matches). It returns the units it
// enabled, sorted.
func (sys *System) PresetAll() ([]string, error) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	rules := sys.presetRules()
	names := map[string]bool{}
	for _, d := range unitDirs {
		ents, err := sys.fs.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() && isUnitName(e.Name()) {
				names[e.Name()] = true
			}
		}
	}
	// Like systemctl, all disables are done first, then all enables, so a
	// disabled unit's Also= cannot undo an enabled one.
	var enabled, disabled []string
	for _, name := range sortedBoolKeys(names) {
		u, err := sys.findUnit(name)
		if err != nil {
			return nil, fmt.Errorf("sysconf: preset-all: %w", err)
		}
		if !u.hasInst {
			continue
		}
		on := true
		for _, r := range rules {
			if ok, _ := path.Match(r.pattern, name); ok {
				on = r.enable
				break
			}
		}
		if on {
			enabled = append(enabled, name)
		} else {
			disabled = append(disabled, name)
		}
	}
	if err := sys.disable(disabled, map[string]bool{}, false); err != nil {
		return nil, err
	}
	if err := sys.enable(enabled, map[string]bool{}, false); err != nil {
		return nil, err
	}
	return enabled, nil
}

func isUnitName(n string) bool {
	for _, s := range []string{".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount", ".swap", ".slice"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// EmptyMachineID leaves /etc/machine-id empty (mode 0444), as VIC does
// after systemd-machine-id-setup, so each VM gets its own id at boot.
func (sys *System) EmptyMachineID() error {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	if err := sys.fs.MkdirAll("etc", 0o755); err != nil {
		return err
	}
	return sys.fs.WriteFile("etc/machine-id", []byte{}, 0o444)
}

// CleanCaches removes the package managers' caches, as VIC's `clean all`
// does (rm -fr rootfs/var/cache/tdnf/*, and yum's).
func (sys *System) CleanCaches() error {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	for _, d := range []string{"var/cache/tdnf", "var/cache/yum", "var/cache/dnf"} {
		ents, err := sys.fs.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if err := sys.fs.RemoveAll(d + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedBoolKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
