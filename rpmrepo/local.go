package rpmrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// Main header tags a local package's description reads (rpmtag.h).
const (
	tagSummary   = 1004
	tagBuildTime = 1006
	tagSize      = 1009
	tagLicense   = 1014
	tagSourceRPM = 1044
)

// VerifyLocalRPM verifies an .rpm that no repository lists (a kernel given
// by path) exactly as Fetch verifies a repository's packages, with
// gpgcheck on: VerifyRPM against kr. It also describes the file as a
// Package, read from its main header: name, EVR, arch, every dependency
// list, the complete file list, build time, licence, source RPM, summary;
// Checksum is sum (the caller's digest of the file), Size the file's size,
// Location name, Repo repo.
//
// The package is returned whenever the header could be read, also when
// the signature does not hold (the caller may accept an unsigned package,
// loudly); the error is VerifyRPM's. name is used in messages.
func VerifyLocalRPM(path, name, repo string, sum Checksum, kr *KeyRing) (*Package, *Verification, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Verification{Name: name}, fmt.Errorf("rpmrepo: %w", err)
	}
	defer f.Close()
	v, verr := VerifyRPM(f, name, kr, true)
	main := v.main
	v.main = nil
	if main == nil {
		return nil, v, verr
	}
	p, err := packageFromHeader(main)
	if err != nil {
		return nil, v, fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrMalformedRPM, err)
	}
	if st, err := f.Stat(); err == nil {
		p.Size = st.Size()
	}
	p.Checksum, p.Location, p.Repo = sum, name, repo
	return p, v, verr
}

// packageFromHeader describes a package by its main header.
func packageFromHeader(h *rpmhdr.Header) (*Package, error) {
	nv, err := h.NEVRA()
	if err != nil {
		return nil, err
	}
	p := &Package{Name: nv.Name, Arch: nv.Arch, EVR: EVR{Version: nv.Version, Release: nv.Release}}
	if h.Has(tagSourcePackage) {
		p.Arch = "src"
	}
	if nv.Epoch != 0 {
		p.Epoch = fmt.Sprint(nv.Epoch)
	}
	lists := map[string]*[]Dep{
		"provides": &p.Provides, "requires": &p.Requires, "conflicts": &p.Conflicts, "obsoletes": &p.Obsoletes,
		"recommends": &p.Recommends, "suggests": &p.Suggests, "supplements": &p.Supplements, "enhances": &p.Enhances,
	}
	for _, k := range depKinds {
		deps, err := headerDepList(h, k.name, k.flags, k.version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.what, err)
		}
		*lists[k.what] = deps
	}
	files, err := headerFiles(h)
	if err != nil {
		return nil, err
	}
	for f := range files {
		p.Files = append(p.Files, f)
	}
	sort.Strings(p.Files)
	p.FilesComplete = true
	for _, s := range []struct {
		tag uint32
		dst *string
	}{{tagLicense, &p.License}, {tagSourceRPM, &p.SourceRPM}, {tagSummary, &p.Summary}} {
		if v, ok, err := h.Strings(s.tag); err != nil {
			return nil, err
		} else if ok && len(v) > 0 {
			*s.dst = v[0]
		}
	}
	for _, s := range []struct {
		tag uint32
		dst *int64
	}{{tagBuildTime, &p.BuildTime}, {tagSize, &p.InstalledSize}} {
		if v, ok, err := h.Uint64s(s.tag); err != nil {
			return nil, err
		} else if ok && len(v) > 0 {
			*s.dst = int64(v[0])
		}
	}
	return p, nil
}

// Add stores what r holds in the cache through the same verified path
// downloads take (a locked temp file, fsynced, hashed again, checked and
// renamed into place) and returns its path and SHA-256. check, when not
// nil, is given the temp file's path and digest before the rename: an
// error from it leaves nothing in the cache, so the cache holds only what
// its caller verified. A local file enters the cache this way, so that it
// is later found by its digest.
func (c *Cache) Add(r io.Reader, check func(path string, sum Checksum) error) (string, Checksum, error) {
	tmp, err := c.tempFile()
	if err != nil {
		return "", Checksum{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		tmp.Discard()
		return "", Checksum{}, err
	}
	sum := Checksum{Type: "sha256", Value: hex.EncodeToString(h.Sum(nil))}
	var chk func(string) error
	if check != nil {
		chk = func(path string) error { return check(path, sum) }
	}
	p, err := c.commit(tmp, sum, n, chk)
	if err != nil {
		return "", sum, err
	}
	return p, sum, nil
}
