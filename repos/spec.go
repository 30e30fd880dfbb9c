package repos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// SpecFile is the name of a definition's main file.
const SpecFile = "repo-spec.json"

// Package managers a definition may name. They decide only the details VIC
// varies by them (which configuration file the image carries, for one).
const (
	TDNF = "tdnf"
	Yum  = "yum"
)

// Stage names one of the three package sets of a definition.
type Stage string

// The stages of the VIC recipe that install packages.
const (
	StageBase      Stage = "base"
	StageBootstrap Stage = "bootstrap"
	StageAppliance Stage = "appliance"
)

// Spec is repo-spec.json, decoded and validated. The field names mirror the
// JSON keys; see README.md for the format.
type Spec struct {
	Name           string
	Description    string // optional one-line summary shown by `vicroot repos`
	PackageManager string // TDNF or Yum
	Releasever     string // as written in the file; "" when absent (see Definition.Releasever)
	Init           string // rdinit of the bootstrap image, an absolute path in the image
	Kernel         string // a package spec, or a path to an .rpm inside the definition folder
	Packages       Packages
	Staging        Staging
	// GPGKeys pins key fingerprints (upper-case hex, no spaces) by the
	// gpgkey URL or by the basename of a file:// key path.
	GPGKeys map[string][]string
	Tether  *Tether // nil when the section is absent
}

// Packages are the package sets installed by each stage, in file order.
type Packages struct {
	Base, Bootstrap, Appliance []string
}

// Staging holds the package-manager commands run before a stage's packages
// are installed; nil means "skip".
type Staging struct {
	Bootstrap, Appliance *StagingCommand
}

// SpecError is one problem with repo-spec.json: the file, where in it, the
// field (a dotted path such as "packages.base"; empty for the whole file)
// and what was expected.
type SpecError struct {
	File      string
	Line, Col int // 1-based; 0 when unknown
	Field     string
	Msg       string
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString("repos: ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// specFields are the known top-level keys, used for "did you mean".
var specFields = []string{"name", "description", "packagemanager", "releasever", "init", "kernel", "packages", "packages_script_staging", "gpgkeys", "tether"}

var (
	nameRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	releaseverRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]*$`)
	// A package spec as tdnf/yum take it on the command line: a name,
	// optionally with version, release, arch or a file path. No shell
	// metacharacters, no leading '-' (it would be read as an option).
	pkgRE = regexp.MustCompile(`^[A-Za-z0-9_./+:~^][A-Za-z0-9_./+:~^()=<>,-]*$`)
)

// specDecoder walks the parsed JSON tree and collects every problem, so a
// user fixing a definition sees all of them at once.
type specDecoder struct {
	file string
	data []byte
	errs []error
}

func (d *specDecoder) errorf(n *node, field, format string, args ...any) {
	e := &SpecError{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = lineCol(d.data, n.off)
	}
	d.errs = append(d.errs, e)
}

// ParseSpec decodes and validates repo-spec.json. file is used only in
// error messages. A leading UTF-8 byte order mark is skipped. Unknown keys, duplicate keys, JSON null and values of the
// wrong type are errors; every error is a *SpecError (joined with
// errors.Join when there are several).
func ParseSpec(file string, data []byte) (*Spec, error) {
	// A UTF-8 byte order mark (Windows editors write one) is not JSON but
	// says nothing either: skip it, as the .repo reader does.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	d := &specDecoder{file: file, data: data}
	root, err := parseJSON(data)
	if err != nil {
		e := &SpecError{File: file, Msg: "not valid JSON: " + err.Error()}
		var pe *posError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &pe):
			e.Line, e.Col = lineCol(data, pe.off)
		case errors.As(err, &se):
			// Offset is just past the offending byte.
			e.Line, e.Col = position(data, max(se.Offset-1, 0))
		}
		return nil, e
	}
	if root.kind != kindObject {
		d.errorf(root, "", "expected a JSON object, got %s", root.kind)
		return nil, errors.Join(d.errs...)
	}
	s := &Spec{}
	fields := d.object(root, "", map[string]func(*node, string){
		"name":           func(n *node, f string) { s.Name = d.str(n, f, true) },
		"description":    func(n *node, f string) { s.Description = d.str(n, f, false) },
		"packagemanager": func(n *node, f string) { s.PackageManager = d.str(n, f, true) },
		"releasever":     func(n *node, f string) { s.Releasever = d.str(n, f, false) },
		"init":           func(n *node, f string) { s.Init = d.str(n, f, true) },
		"kernel":         func(n *node, f string) { s.Kernel = d.str(n, f, true) },
		"packages": func(n *node, f string) {
			got := d.object(n, f, map[string]func(*node, string){
				"base":      func(n *node, f string) { s.Packages.Base = d.pkgs(n, f, true) },
				"bootstrap": func(n *node, f string) { s.Packages.Bootstrap = d.pkgs(n, f, false) },
				"appliance": func(n *node, f string) { s.Packages.Appliance = d.pkgs(n, f, false) },
			})
			d.require(n, f, got, "base", "bootstrap", "appliance")
		},
		"packages_script_staging": func(n *node, f string) {
			d.object(n, f, map[string]func(*node, string){
				"bootstrap": func(n *node, f string) { s.Staging.Bootstrap = d.staging(n, f) },
				"appliance": func(n *node, f string) { s.Staging.Appliance = d.staging(n, f) },
			})
		},
		"gpgkeys": func(n *node, f string) { s.GPGKeys = d.gpgkeys(n, f) },
		"tether":  func(n *node, f string) { s.Tether = d.tether(n, f) },
	})
	d.require(root, "", fields, "name", "packagemanager", "init", "kernel", "packages")

	// Value checks that go beyond the JSON type.
	if s.Name != "" && !nameRE.MatchString(s.Name) {
		d.errorf(d.at(root, "name"), "name", "%q: expected letters, digits, '.', '_', '+' or '-'", s.Name)
	}
	if s.PackageManager != "" && s.PackageManager != TDNF && s.PackageManager != Yum {
		d.errorf(d.at(root, "packagemanager"), "packagemanager", "%q: expected %q or %q", s.PackageManager, TDNF, Yum)
	}
	if s.Releasever != "" && !releaseverRE.MatchString(s.Releasever) {
		d.errorf(d.at(root, "releasever"), "releasever", "%q: expected a version such as \"2.0\"", s.Releasever)
	}
	if s.Init != "" && !isImagePath(s.Init) {
		d.errorf(d.at(root, "init"), "init", "%q: expected an absolute, clean path in the image such as /bin/init", s.Init)
	}
	if s.Kernel != "" && !strings.HasSuffix(s.Kernel, ".rpm") && !pkgRE.MatchString(s.Kernel) {
		d.errorf(d.at(root, "kernel"), "kernel", "%q: expected a package name such as linux-esx or a path to an .rpm file in the definition folder", s.Kernel)
	}
	if s.Releasever == "" && s.Name != "" {
		if _, err := deriveReleasever(s.Name); err != nil {
			d.errorf(d.at(root, "name"), "name", "%v; add a \"releasever\" field", err)
		}
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return s, nil
}

// at returns the member value named key of an object node, or the object.
func (d *specDecoder) at(n *node, key string) *node {
	for _, m := range n.members {
		if m.key == key {
			return m.val
		}
	}
	return n
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// object decodes an object with a fixed set of keys. Unknown keys are
// errors (a typo must not pass silently). It returns the keys seen.
func (d *specDecoder) object(n *node, field string, known map[string]func(*node, string)) map[string]bool {
	seen := map[string]bool{}
	if n.kind != kindObject {
		d.typeError(n, field, "an object")
		return seen
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, m := range n.members {
		f := join(field, m.key)
		fn, ok := known[m.key]
		if !ok {
			msg := "unknown field; expected one of " + strings.Join(names, ", ")
			if s := closest(m.key, names); s != "" {
				msg = fmt.Sprintf("unknown field (did you mean %q?)", s)
			}
			e := &SpecError{File: d.file, Field: f, Msg: msg}
			e.Line, e.Col = lineCol(d.data, m.koff)
			d.errs = append(d.errs, e)
			continue
		}
		seen[m.key] = true
		if m.val.kind == kindNull {
			d.errorf(m.val, f, `is null; omit the field or use "" to skip it`)
			continue
		}
		fn(m.val, f)
	}
	return seen
}

func (d *specDecoder) require(n *node, field string, seen map[string]bool, keys ...string) {
	if n.kind != kindObject {
		return
	}
	for _, k := range keys {
		if !seen[k] && !d.hasNull(n, k) {
			d.errorf(n, join(field, k), "required field is missing")
		}
	}
}

// hasNull reports whether key is present with a null value (already
// reported by object, so require stays quiet).
func (d *specDecoder) hasNull(n *node, key string) bool {
	for _, m := range n.members {
		if m.key == key && m.val.kind == kindNull {
			return true
		}
	}
	return false
}

func (d *specDecoder) typeError(n *node, field, want string) {
	got := n.kind.String()
	if n.kind == kindNumber || n.kind == kindBool {
		got += " (" + n.str + ")"
	}
	d.errorf(n, field, "expected %s, got %s", want, got)
}

func (d *specDecoder) str(n *node, field string, required bool) string {
	if n.kind != kindString {
		d.typeError(n, field, "a string")
		return ""
	}
	if required && strings.TrimSpace(n.str) == "" {
		d.errorf(n, field, "must not be empty")
		return ""
	}
	if n.str != strings.TrimSpace(n.str) {
		d.errorf(n, field, "%q: leading or trailing white space", n.str)
		return ""
	}
	if n.str == "null" {
		// VIC's jq printed a missing key as the word null; never take it as a value.
		d.errorf(n, field, `is the string "null"; omit the field or use "" to skip it`)
		return ""
	}
	return n.str
}

// pkgs decodes a package list: a string of names separated by white space
// (VIC's form) or an array of names.
func (d *specDecoder) pkgs(n *node, field string, nonEmpty bool) []string {
	var out []string
	switch n.kind {
	case kindString:
		out = strings.Fields(n.str)
	case kindArray:
		for i, e := range n.elems {
			f := fmt.Sprintf("%s[%d]", field, i)
			if e.kind != kindString {
				d.typeError(e, f, "a package name (string)")
				continue
			}
			if e.str == "" || len(strings.Fields(e.str)) != 1 || strings.TrimSpace(e.str) != e.str {
				d.errorf(e, f, "%q: expected one package name without white space", e.str)
				continue
			}
			out = append(out, e.str)
		}
	default:
		d.typeError(n, field, "a string of package names or an array of them")
		return nil
	}
	for _, p := range out {
		if p == "null" {
			d.errorf(n, field, `contains the word "null" (VIC's jq bug); use "" for none`)
			return nil
		}
		if !pkgRE.MatchString(p) {
			d.errorf(n, field, "%q: not a package name (letters, digits and ._+-:~^ expected; no leading '-')", p)
			return nil
		}
	}
	if nonEmpty && len(out) == 0 {
		d.errorf(n, field, "expected at least one package")
	}
	return out
}

func (d *specDecoder) staging(n *node, field string) *StagingCommand {
	if n.kind != kindString {
		d.typeError(n, field, `a package-manager command such as "erase toybox" (string)`)
		return nil
	}
	c, err := ParseStagingCommand(n.str)
	if err != nil {
		d.errorf(n, field, "%v", err)
		return nil
	}
	return c
}

func (d *specDecoder) gpgkeys(n *node, field string) map[string][]string {
	if n.kind != kindObject {
		d.typeError(n, field, `an object {"URL or key file basename": "FINGERPRINT"}`)
		return nil
	}
	out := map[string][]string{}
	for _, m := range n.members {
		f := join(field, m.key)
		if m.key == "" || strings.ContainsAny(m.key, " \t\n") {
			d.errorf(m.val, f, "expected a key URL or file basename as the name")
			continue
		}
		var raw []string
		var at []*node
		switch m.val.kind {
		case kindString:
			raw, at = []string{m.val.str}, []*node{m.val}
		case kindArray:
			if len(m.val.elems) == 0 {
				d.errorf(m.val, f, "expected at least one fingerprint")
				continue
			}
			for i, e := range m.val.elems {
				if e.kind != kindString {
					d.typeError(e, fmt.Sprintf("%s[%d]", f, i), "a fingerprint (string)")
					continue
				}
				raw, at = append(raw, e.str), append(at, e)
			}
		default:
			d.typeError(m.val, f, "a fingerprint (string) or an array of them")
			continue
		}
		for i, r := range raw {
			fp, err := NormalizeFingerprint(r)
			if err != nil {
				d.errorf(at[i], f, "%v", err)
				continue
			}
			out[m.key] = append(out[m.key], fp)
		}
	}
	return out
}

// closest returns the known name within edit distance 2 of s, if any.
func closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if dd := editDistance(strings.ToLower(s), n); dd < bestD {
			best, bestD = n, dd
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// isImagePath reports whether p is an absolute, clean path inside the image.
func isImagePath(p string) bool {
	return strings.HasPrefix(p, "/") && path.Clean(p) == p && p != "/" && !strings.ContainsAny(p, "\x00\n")
}

// deriveReleasever derives releasever from a definition name as VIC does
// (`cut -d- -f2`: photon-2.0 → 2.0). Unlike cut, a name without '-' is an
// error rather than the whole name.
func deriveReleasever(name string) (string, error) {
	parts := strings.Split(name, "-")
	if len(parts) < 2 || parts[1] == "" {
		return "", fmt.Errorf("cannot derive releasever from %q (VIC takes the text after the first '-')", name)
	}
	if !releaseverRE.MatchString(parts[1]) {
		return "", fmt.Errorf("cannot derive releasever from %q: %q is not a version", name, parts[1])
	}
	return parts[1], nil
}

// Releasever returns the spec's releasever, or the one derived from its
// name as VIC does (photon-2.0 → 2.0).
func (s *Spec) ReleaseverOrDerived() string {
	if s.Releasever != "" {
		return s.Releasever
	}
	r, _ := deriveReleasever(s.Name)
	return r
}

// PackageList returns the packages of one stage.
func (s *Spec) PackageList(st Stage) ([]string, error) {
	switch st {
	case StageBase:
		return s.Packages.Base, nil
	case StageBootstrap:
		return s.Packages.Bootstrap, nil
	case StageAppliance:
		return s.Packages.Appliance, nil
	}
	return nil, fmt.Errorf("repos: unknown stage %q (expected base, bootstrap or appliance)", st)
}

// StagingCommand returns the staging command of a stage, nil when the
// definition has none (base never has one).
func (s *Spec) StagingCommand(st Stage) *StagingCommand {
	switch st {
	case StageBootstrap:
		return s.Staging.Bootstrap
	case StageAppliance:
		return s.Staging.Appliance
	}
	return nil
}
