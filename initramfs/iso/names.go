package iso

import (
	"strconv"
	"strings"
)

// maxNameLen is the length xorriso allows ISO9660 file identifiers
// (without ";1") at level 3 with its isolinux settings.
const maxNameLen = 31

// isoChars maps a Rock Ridge name to the characters xorriso keeps in the
// plain ISO9660 name: printable ASCII except the separators; every other
// byte becomes "_" (what xorriso does in the C locale VIC builds in).
func isoChars(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '/' || c == ';' {
			b[i] = '_'
		}
	}
	return string(b)
}

// isoName returns the ISO9660 identifier of a tree name, made unique
// among taken (whose keys are identifiers without ";1"). Files always get
// a dot ("vmlinuz64.") and the version ";1"; directories neither.
func isoName(name string, dir bool, taken map[string]bool) string {
	n := isoChars(name)
	base, ext := n, ""
	if !dir {
		if i := strings.LastIndexByte(n, '.'); i >= 0 && len(n)-i-1 <= 8 {
			base, ext = n[:i], n[i:]
		} else if i < 0 {
			ext = "."
		}
	}
	cand := fit(base, ext, "")
	for i := 1; taken[cand]; i++ {
		cand = fit(base, ext, strconv.Itoa(i))
	}
	taken[cand] = true
	if dir {
		return cand
	}
	return cand + ";1"
}

// fit truncates base so that base+suffix+ext fits maxNameLen.
func fit(base, ext, suffix string) string {
	if len(ext) > maxNameLen/2 {
		base, ext = base+ext, ""
	}
	room := maxNameLen - len(ext) - len(suffix)
	if len(base) > room {
		base = base[:room]
	}
	return base + suffix + ext
}
