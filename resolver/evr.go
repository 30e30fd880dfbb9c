package resolver

import (
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Vercmp compares two version (or release) strings exactly as rpm's
// rpmvercmp does: it returns -1 if a is older than b, 0 if they are equal
// and 1 if a is newer.
//
// The string is cut into segments of digits or of ASCII letters; anything
// else is a separator and only separates. Numeric segments compare as
// numbers (leading zeros ignored, no overflow: longer wins), alphabetic ones
// with strcmp, and a numeric segment is newer than an alphabetic one. '~'
// sorts before everything, even the end of the string (1.0~rc1 < 1.0); '^'
// sorts after the end of the string but before any further segment
// (1.0 < 1.0^git1 < 1.0.1).
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		// Skip separators: everything that is not alphanumeric, '~' or '^'.
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// Tilde: the side with it is older, even at the end of the other.
		at, bt := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if at || bt {
			if !at {
				return 1
			}
			if !bt {
				return -1
			}
			i++
			j++
			continue
		}
		// Caret: like tilde, except that the end of the other string is older.
		ac, bc := i < len(a) && a[i] == '^', j < len(b) && b[j] == '^'
		if ac || bc {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ac {
				return 1
			}
			if !bc {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		// Take one segment from each side, of the kind a's segment is.
		si, sj := i, j
		numeric := isDigit(a[i])
		if numeric {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		sa, sb := a[si:i], b[sj:j]
		if sb == "" {
			// Segments of different kinds: numeric is newer.
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			sa = strings.TrimLeft(sa, "0")
			sb = strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	// Equal so far: the side with segments left is newer.
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	default:
		return 1
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// CompareEVR compares two epoch:version-release triples as rpm does: epoch
// first (empty means 0, compared as a number), then version, then release.
// When either release is empty the releases are not compared, so that a
// requirement "foo >= 1.2" matches every release of 1.2.
func CompareEVR(a, b rpmrepo.EVR) int {
	if c := compareEpoch(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	if a.Release == "" || b.Release == "" {
		return 0
	}
	return Vercmp(a.Release, b.Release)
}

// compareFullEVR orders two packages' EVRs; a missing release is older
// than any release (packages always have one, so this only keeps the order
// total).
func compareFullEVR(a, b rpmrepo.EVR) int {
	if c := CompareEVR(a, b); c != 0 {
		return c
	}
	switch {
	case a.Release == "" && b.Release != "":
		return -1
	case a.Release != "" && b.Release == "":
		return 1
	}
	return 0
}

func compareEpoch(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// sense bits of a comparison, as rpm's RPMSENSE_LESS/GREATER/EQUAL.
const (
	senseLT = 1 << iota
	senseGT
	senseEQ
)

func sense(f rpmrepo.Flags) int {
	switch f {
	case rpmrepo.FlagsLT:
		return senseLT
	case rpmrepo.FlagsLE:
		return senseLT | senseEQ
	case rpmrepo.FlagsEQ:
		return senseEQ
	case rpmrepo.FlagsGE:
		return senseGT | senseEQ
	case rpmrepo.FlagsGT:
		return senseGT
	}
	return 0
}

// Overlap reports whether the ranges of two dependencies with the same
// name intersect, as rpm's rpmdsCompare decides it: an unversioned side
// matches everything; otherwise the EVRs are compared (release ignored
// when either side has none) and the operators decide.
func Overlap(a, b rpmrepo.Dep) bool {
	sa, sb := sense(a.Flags), sense(b.Flags)
	if sa == 0 || sb == 0 {
		return true
	}
	c := CompareEVR(a.EVR, b.EVR)
	switch {
	case c < 0:
		return sa&senseGT != 0 || sb&senseLT != 0
	case c > 0:
		return sa&senseLT != 0 || sb&senseGT != 0
	}
	return (sa&senseEQ != 0 && sb&senseEQ != 0) ||
		(sa&senseLT != 0 && sb&senseLT != 0) ||
		(sa&senseGT != 0 && sb&senseGT != 0)
}

// Satisfies reports whether provide p satisfies requirement r (same name,
// overlapping ranges).
func Satisfies(p, r rpmrepo.Dep) bool {
	return p.Name == r.Name && Overlap(p, r)
}
