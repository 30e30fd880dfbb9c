package resolver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Lock pins a plan: every package by NEVRA and checksum, with where it
// came from. It is plain data, written as JSON. Given back in
// Request.Lock, it makes Solve choose exactly the locked package for every
// name it lists, so the same request gives the same plan; a locked package
// that the repositories no longer offer is an error (ErrLockedGone) naming
// it, never a silent substitute.
type Lock struct {
	Version int `json:"version"`
	// ISOSHA256 is set in the lock written beside an ISO: the SHA-256 of
	// the ISO it belongs to, so that a stale lock can be told.
	ISOSHA256 string          `json:"iso_sha256,omitempty"`
	Packages  []LockedPackage `json:"packages"`
}

// LockedPackage is one pinned package. Resolve fills Name, NEVRA,
// Checksum, Repo and Location; the build fills URL (where it was fetched)
// and Key (the fingerprint of the key that verified its signature).
type LockedPackage struct {
	Name     string `json:"name"`
	NEVRA    string `json:"nevra"`
	Checksum string `json:"checksum"` // "sha256:<hex>", primary.xml's pkgid
	Repo     string `json:"repo"`
	Location string `json:"location,omitempty"`
	URL      string `json:"url,omitempty"`
	Key      string `json:"key,omitempty"`
	// Erased marks a package the build installed and a staging command
	// erased later (the appliance's toybox): pinned like the others, so
	// that a locked rebuild installs and erases the same one, but not in
	// the image.
	Erased bool `json:"erased,omitempty"`
}

// LockVersion is the format version Lock.Marshal writes.
const LockVersion = 1

// ErrLockedGone is wrapped when a locked package is missing (or changed)
// in the repositories.
var ErrLockedGone = errors.New("locked package is gone from the repositories")

// ErrLockSyntax is wrapped by every ParseLock error.
var ErrLockSyntax = errors.New("malformed lock")

func (l *Lock) sort() {
	sort.Slice(l.Packages, func(i, j int) bool { return l.Packages[i].NEVRA < l.Packages[j].NEVRA })
}

// Marshal writes the lock as indented JSON with packages sorted by NEVRA.
func (l *Lock) Marshal() ([]byte, error) {
	c := *l
	c.Packages = append([]LockedPackage(nil), l.Packages...)
	c.sort()
	if c.Version == 0 {
		c.Version = LockVersion
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseLock reads a lock written by Marshal; name is used in errors.
func ParseLock(data []byte, name string) (*Lock, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var l Lock
	if err := d.Decode(&l); err != nil {
		return nil, fmt.Errorf("resolver: lock %s: %w: %v", name, ErrLockSyntax, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("resolver: lock %s: %w: version %d, want %d", name, ErrLockSyntax, l.Version, LockVersion)
	}
	seen := map[string]bool{}
	for i, p := range l.Packages {
		switch {
		case p.Name == "" || p.NEVRA == "":
			return nil, fmt.Errorf("resolver: lock %s: %w: packages[%d]: missing name or nevra", name, ErrLockSyntax, i)
		case !strings.HasPrefix(p.NEVRA, p.Name+"-"):
			return nil, fmt.Errorf("resolver: lock %s: %w: packages[%d]: nevra %q does not start with name %q", name, ErrLockSyntax, i, p.NEVRA, p.Name)
		case p.Checksum != "" && !strings.Contains(p.Checksum, ":"):
			return nil, fmt.Errorf("resolver: lock %s: %w: packages[%d] (%s): checksum %q is not type:hex", name, ErrLockSyntax, i, p.NEVRA, p.Checksum)
		case seen[p.NEVRA]:
			return nil, fmt.Errorf("resolver: lock %s: %w: packages[%d]: %s listed twice", name, ErrLockSyntax, i, p.NEVRA)
		}
		seen[p.NEVRA] = true
	}
	return &l, nil
}

// LockError lists the locked packages the repositories no longer have.
type LockError struct {
	Gone    []LockedPackage
	Changed []LockedPackage // same NEVRA, different checksum
}

func (e *LockError) Error() string {
	var parts []string
	for _, p := range e.Gone {
		parts = append(parts, fmt.Sprintf("%s (%s from %s) is gone", p.NEVRA, p.Checksum, p.Repo))
	}
	for _, p := range e.Changed {
		parts = append(parts, fmt.Sprintf("%s changed: the lock has %s, the repositories have another build", p.NEVRA, p.Checksum))
	}
	return "resolver: " + ErrLockedGone.Error() + ": " + strings.Join(parts, "; ")
}

func (e *LockError) Unwrap() error { return ErrLockedGone }

// applyLock finds each locked package among avail and returns the set of
// allowed packages for the locked names (nil without a lock).
func (s *solver) applyLock(l *Lock, avail []*rpmrepo.Package) (map[*rpmrepo.Package]bool, error) {
	if l == nil {
		return nil, nil
	}
	byNEVRA := map[string][]*rpmrepo.Package{}
	for _, p := range avail {
		byNEVRA[p.NEVRA()] = append(byNEVRA[p.NEVRA()], p)
	}
	ok := map[*rpmrepo.Package]bool{}
	var le LockError
	for _, lp := range l.Packages {
		s.lockedName[lp.Name] = true
		found, changed := false, false
		for _, p := range byNEVRA[lp.NEVRA] {
			if lp.Checksum != "" && p.Checksum.String() != lp.Checksum {
				changed = true
				continue
			}
			ok[p] = true
			found = true
		}
		switch {
		case found:
		case changed:
			le.Changed = append(le.Changed, lp)
		default:
			le.Gone = append(le.Gone, lp)
		}
	}
	if len(le.Gone)+len(le.Changed) > 0 {
		return nil, &le
	}
	return ok, nil
}
