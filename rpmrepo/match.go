package rpmrepo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// ErrHeaderMismatch is wrapped by MatchHeader's error: the repository
// metadata says something about a package that its (verified) header does
// not.
var ErrHeaderMismatch = errors.New("metadata does not match the package header")

// Main header tags MatchHeader reads (rpmtag.h).
const (
	tagOldFilenames    = 1027
	tagRequireFlags    = 1048
	tagRequireName     = 1049
	tagRequireVersion  = 1050
	tagConflictFlags   = 1053
	tagConflictName    = 1054
	tagConflictVersion = 1055
	tagProvideName     = 1047
	tagObsoleteName    = 1090
	tagSourcePackage   = 1106
	tagProvideFlags    = 1112
	tagProvideVersion  = 1113
	tagObsoleteFlags   = 1114
	tagObsoleteVersion = 1115
	tagDirIndexes      = 1116
	tagBasenames       = 1117
	tagDirnames        = 1118
	tagRecommendName   = 5046
	tagSuggestName     = 5049
	tagSupplementName  = 5052
	tagEnhanceName     = 5055
)

// rpmsenseCompare is the comparison bits of a dependency's flags
// (RPMSENSE_LESS|GREATER|EQUAL); the other bits (pre, script, rpmlib, ...)
// are not part of what the dependency matches.
const rpmsenseCompare = 2 | 4 | 8

// senseFlags maps the comparison bits to primary.xml's flags, as
// createrepo_c writes them.
var senseFlags = map[uint32]Flags{0: FlagsNone, 2: FlagsLT, 2 | 8: FlagsLE, 8: FlagsEQ, 4 | 8: FlagsGE, 4: FlagsGT}

// depKinds are the dependency lists of primary.xml and the header tags
// (name; flags and version follow in rpm's numbering) they come from.
var depKinds = []struct {
	what                 string
	name, flags, version uint32
	list                 func(*Package) []Dep
}{
	{"provides", tagProvideName, tagProvideFlags, tagProvideVersion, func(p *Package) []Dep { return p.Provides }},
	{"requires", tagRequireName, tagRequireFlags, tagRequireVersion, func(p *Package) []Dep { return p.Requires }},
	{"conflicts", tagConflictName, tagConflictFlags, tagConflictVersion, func(p *Package) []Dep { return p.Conflicts }},
	{"obsoletes", tagObsoleteName, tagObsoleteFlags, tagObsoleteVersion, func(p *Package) []Dep { return p.Obsoletes }},
	{"recommends", tagRecommendName, tagRecommendName + 2, tagRecommendName + 1, func(p *Package) []Dep { return p.Recommends }},
	{"suggests", tagSuggestName, tagSuggestName + 2, tagSuggestName + 1, func(p *Package) []Dep { return p.Suggests }},
	{"supplements", tagSupplementName, tagSupplementName + 2, tagSupplementName + 1, func(p *Package) []Dep { return p.Supplements }},
	{"enhances", tagEnhanceName, tagEnhanceName + 2, tagEnhanceName + 1, func(p *Package) []Dep { return p.Enhances }},
}

// MatchHeader checks what the repository metadata says about p against
// h, the package's main header (read from the verified file): the name,
// epoch, version, release and arch must be equal, and every dependency the
// metadata lists (provides, requires, conflicts, obsoletes, the weak ones)
// and every file must be in the header, compared as rpm compares them:
// name, comparison, epoch:version-release. The metadata may list less than
// the header: createrepo_c leaves out rpmlib() requires, requires the
// package itself satisfies, duplicates, and puts most files in
// filelists.xml only; the Pre marker is not compared. file names p's file
// in the error, which wraps ErrHeaderMismatch and names each difference.
func MatchHeader(file string, p *Package, h *rpmhdr.Header) error {
	diffs, err := headerDiffs(p, h)
	if err != nil {
		return fmt.Errorf("%s: %w: %v", file, ErrMalformedRPM, err)
	}
	if len(diffs) == 0 {
		return nil
	}
	const max = 8
	more := ""
	if len(diffs) > max {
		more = fmt.Sprintf("; and %d more", len(diffs)-max)
		diffs = diffs[:max]
	}
	return fmt.Errorf("%s: %w: %s%s", file, ErrHeaderMismatch, strings.Join(diffs, "; "), more)
}

func headerDiffs(p *Package, h *rpmhdr.Header) ([]string, error) {
	nv, err := h.NEVRA()
	if err != nil {
		return nil, err
	}
	arch := nv.Arch
	if h.Has(tagSourcePackage) {
		arch = "src"
	}
	var diffs []string
	for _, d := range []struct{ what, meta, hdr string }{
		{"name", p.Name, nv.Name},
		{"epoch", normEpoch(p.Epoch), strconv.FormatUint(nv.Epoch, 10)},
		{"version", p.Version, nv.Version},
		{"release", p.Release, nv.Release},
		{"arch", p.Arch, arch},
	} {
		if d.meta != d.hdr {
			diffs = append(diffs, fmt.Sprintf("%s %q in the metadata, %q in the header", d.what, d.meta, d.hdr))
		}
	}
	for _, k := range depKinds {
		meta := k.list(p)
		if len(meta) == 0 {
			continue
		}
		have, err := headerDeps(h, k.name, k.flags, k.version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.what, err)
		}
		for _, d := range meta {
			if !have[depKey(d)] {
				diffs = append(diffs, fmt.Sprintf("%s %q in the metadata, not in the header", k.what, d.String()))
			}
		}
	}
	if len(p.Files) > 0 {
		files, err := headerFiles(h)
		if err != nil {
			return nil, err
		}
		for _, f := range p.Files {
			if !files[f] {
				diffs = append(diffs, fmt.Sprintf("file %q in the metadata, not in the header", f))
			}
		}
	}
	return diffs, nil
}

// normEpoch is the epoch as a number's decimal spelling: "" and "0" (and
// "00") are all 0, as rpm reads them.
func normEpoch(e string) string {
	if e == "" {
		return "0"
	}
	if n, err := strconv.ParseUint(e, 10, 64); err == nil {
		return strconv.FormatUint(n, 10)
	}
	return e
}

// depKey is a dependency as compared: name, comparison, and for a
// versioned one the normalized epoch and version[-release] (where the
// release starts does not matter: the string is compared whole).
func depKey(d Dep) string {
	if d.Flags == FlagsNone {
		return d.Name + "\x00"
	}
	vr := d.EVR.Version
	if d.EVR.Release != "" {
		vr += "-" + d.EVR.Release
	}
	return d.Name + "\x00" + d.Flags.String() + "\x00" + normEpoch(d.EVR.Epoch) + ":" + vr
}

// headerDeps reads one dependency list of h as a set of depKeys.
func headerDeps(h *rpmhdr.Header, nameTag, flagsTag, versionTag uint32) (map[string]bool, error) {
	deps, err := headerDepList(h, nameTag, flagsTag, versionTag)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(deps))
	for _, d := range deps {
		out[depKey(d)] = true
	}
	return out, nil
}

// headerDepList reads one dependency list of h, in header order, each
// versioned entry's EVR split as rpm splits it ([epoch:]version[-release]).
func headerDepList(h *rpmhdr.Header, nameTag, flagsTag, versionTag uint32) ([]Dep, error) {
	names, _, err := h.Strings(nameTag)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, nil
	}
	flags, _, err := h.Uint32s(flagsTag)
	if err != nil {
		return nil, err
	}
	versions, _, err := h.Strings(versionTag)
	if err != nil {
		return nil, err
	}
	if len(flags) != len(names) || len(versions) != len(names) {
		return nil, fmt.Errorf("%w: tag %d: %d names, %d flags, %d versions", rpmhdr.ErrMalformed, nameTag, len(names), len(flags), len(versions))
	}
	out := make([]Dep, 0, len(names))
	for i, n := range names {
		fl, ok := senseFlags[flags[i]&rpmsenseCompare]
		if !ok {
			return nil, fmt.Errorf("%w: dependency %q has flags %#x", rpmhdr.ErrMalformed, n, flags[i])
		}
		d := Dep{Name: n, Flags: fl}
		if fl != FlagsNone {
			v := versions[i]
			if j := strings.IndexByte(v, ':'); j >= 0 && isDigits(v[:j]) {
				d.EVR.Epoch, v = v[:j], v[j+1:]
			}
			if j := strings.LastIndexByte(v, '-'); j >= 0 {
				d.EVR.Version, d.EVR.Release = v[:j], v[j+1:]
			} else {
				d.EVR.Version = v
			}
		}
		out = append(out, d)
	}
	return out, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// headerFiles is the set of paths h lists: dirnames[dirindexes[i]] +
// basenames[i], or the old-style filenames.
func headerFiles(h *rpmhdr.Header) (map[string]bool, error) {
	out := map[string]bool{}
	old, _, err := h.Strings(tagOldFilenames)
	if err != nil {
		return nil, err
	}
	for _, f := range old {
		out[f] = true
	}
	base, _, err := h.Strings(tagBasenames)
	if err != nil {
		return nil, err
	}
	if len(base) == 0 {
		return out, nil
	}
	idx, _, err := h.Uint32s(tagDirIndexes)
	if err != nil {
		return nil, err
	}
	dirs, _, err := h.Strings(tagDirnames)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(base) {
		return nil, fmt.Errorf("%w: %d basenames, %d dir indexes", rpmhdr.ErrMalformed, len(base), len(idx))
	}
	for i, b := range base {
		if int(idx[i]) >= len(dirs) {
			return nil, fmt.Errorf("%w: file %q: dir index %d of %d", rpmhdr.ErrMalformed, b, idx[i], len(dirs))
		}
		out[dirs[idx[i]]+b] = true
	}
	return out, nil
}
