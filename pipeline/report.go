package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rpmrepo"
	"github.com/vicroot/vicroot/vic"
)

// buildReport is <iso>.report.json.
type buildReport struct {
	ISO          string            `json:"iso"`
	SHA256       string            `json:"sha256"`
	Epoch        int64             `json:"source_date_epoch"`
	Packages     []string          `json:"packages"`
	Verification []verifyReport    `json:"verification"`
	Hooks        []string          `json:"hooks,omitempty"`
	Tether       *vic.TetherReport `json:"tether"`
	// Target is "appliance" for the appliance (omitted for the bootstrap).
	Target string `json:"target,omitempty"`
	// ErasedAlong are the packages the appliance staging's erase removed
	// besides those it named.
	ErasedAlong []string `json:"erased_along,omitempty"`
	// Appliance is what the appliance layout did.
	Appliance *vic.ApplianceReport `json:"appliance,omitempty"`
	// RPMDB says what became of the appliance's rpm database.
	RPMDB    string            `json:"rpmdb,omitempty"`
	Tree     rpminstall.Report `json:"tree"`
	Warnings []string          `json:"warnings,omitempty"`
	Inputs   map[string]string `json:"inputs,omitempty"`
}

type verifyReport struct {
	NEVRA       string `json:"nevra"`
	Signature   string `json:"signature,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// sidecars writes the lock, the manifest, the SBOM and the report beside
// the ISO and returns what the build wrote.
func sidecars(src *source, pl *plans, got *fetched, root *installed, lay *laidOut, img *image, epoch time.Time, opts Options, log *slog.Logger) (*Result, []output, error) {
	res := &Result{ISO: img.path, SHA256: img.sha256, Epoch: epoch}
	for _, p := range pl.installed {
		res.Packages = append(res.Packages, p.NEVRA())
	}
	res.Lock, res.MTree, res.SPDX, res.Report = img.path+".lock.json", img.path+".mtree", img.path+".spdx.json", img.path+".report.json"
	spdx, err := SPDX(img.name, img.sha256, vendor(src.def.Name), opts.ToolVersion, epoch, sbom(pl.locked(), src.repos))
	if err != nil {
		return nil, nil, err
	}
	rep := buildReport{Hooks: root.hooks, Tether: lay.tether, Tree: root.db.Report(), Appliance: lay.appliance, RPMDB: lay.rpmdb}
	if pl.target == TargetAppliance {
		rep.Target = string(TargetAppliance)
	}
	for _, p := range pl.takenAlong {
		rep.ErasedAlong = append(rep.ErasedAlong, p.NEVRA())
	}
	warnings := append([]string(nil), pl.warnings...)
	for _, w := range pl.warnings {
		log.Warn(w)
	}
	warnings = append(warnings, root.warnings...)
	for _, p := range pl.locked() {
		v := got.verified[p]
		if v == nil {
			continue
		}
		vr := verifyReport{NEVRA: p.NEVRA(), Fingerprint: v.Fingerprint}
		if v.Verified != nil {
			vr.Signature = v.Verified.String()
		}
		for _, w := range v.Warnings {
			msg := fmt.Sprintf("%s: %s", p.NEVRA(), w)
			log.Warn(msg)
			warnings = append(warnings, msg)
		}
		rep.Verification = append(rep.Verification, vr)
	}
	rep.Warnings, res.Warnings = warnings, warnings
	rep.Packages = res.Packages
	rep.Epoch = epoch.Unix()
	rep.ISO = img.name
	rep.SHA256 = img.sha256
	repJSON, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	lk := *img.lock
	lk.ISOSHA256 = img.sha256
	lockJSON, err := lk.Marshal()
	if err != nil {
		return nil, nil, err
	}
	outs := []output{
		{res.Lock, lockJSON},
		{res.MTree, mtreeNamingISO(img.manifest, img.sha256)},
		{res.SPDX, spdx},
		{res.Report, append(repJSON, '\n')},
	}
	return res, outs, nil
}

// output is one sidecar: its final name and content.
type output struct {
	p    string
	data []byte
}

// mtreeISOComment starts the comment line by which a sidecar manifest
// names its ISO's SHA-256 (the manifest inside the ISO has none).
const mtreeISOComment = "# iso-sha256: "

// mtreeNamingISO is the manifest with a comment line after "#mtree"
// naming the ISO's SHA-256.
func mtreeNamingISO(manifest []byte, sum string) []byte {
	head, rest, _ := strings.Cut(string(manifest), "\n")
	return []byte(head + "\n" + mtreeISOComment + sum + "\n" + rest)
}

// publish puts the ISO and its sidecars in place so that the out dir
// holds, at every moment, the previous complete set, the new complete
// set, or no ISO (issue 14): every file is written to a temp file and
// flushed first; then the old ISO goes, the sidecars are renamed, and the
// ISO is renamed last. On error the temp files are removed.
func publish(img *image, outs []output) (err error) {
	tmps := map[string]string{img.path: img.tmp}
	defer func() {
		if err != nil {
			for _, t := range tmps {
				os.Remove(t)
			}
		}
	}()
	for _, o := range outs {
		t, err := writeTemp(o.p, o.data)
		if err != nil {
			return err
		}
		tmps[o.p] = t
	}
	dir := filepath.Dir(img.path)
	testPause()
	if err := os.Remove(img.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the previous %s: %w", img.path, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	for _, o := range outs {
		testPause()
		if err := os.Rename(tmps[o.p], o.p); err != nil {
			return err
		}
		delete(tmps, o.p)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	testPause()
	if err := os.Rename(img.tmp, img.path); err != nil {
		return err
	}
	delete(tmps, img.path)
	return syncDir(dir)
}

// writeTemp writes data to a temp file beside p, flushed to disk, and
// returns its name.
func writeTemp(p string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return f.Name(), nil
}

// syncDir flushes a directory's entries (renames, removals) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// SidecarSuffixes are the sidecars a build writes beside its ISO.
var SidecarSuffixes = []string{".lock.json", ".mtree", ".spdx.json", ".report.json"}

// StaleSidecars checks the sidecars beside isoPath (those present) against
// the ISO's SHA-256 and describes each that names another ISO, or none.
func StaleSidecars(isoPath string) ([]string, error) {
	var out []string
	sum := ""
	for _, suf := range SidecarSuffixes {
		p := isoPath + suf
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(f, 256<<20))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if sum == "" {
			if sum, err = fileSHA256(isoPath); err != nil {
				return nil, err
			}
		}
		named := sidecarISOSum(suf, data)
		switch {
		case named == "":
			out = append(out, fmt.Sprintf("stale sidecar %s: it names no ISO SHA-256 (not written with this ISO, or by an older vicroot)", p))
		case named != sum:
			out = append(out, fmt.Sprintf("stale sidecar %s: it belongs to an ISO with sha256 %s, but %s has sha256 %s", p, named, isoPath, sum))
		}
	}
	return out, nil
}

// sidecarISOSum is the ISO SHA-256 a sidecar names ("" when none).
func sidecarISOSum(suffix string, data []byte) string {
	switch suffix {
	case ".mtree":
		for _, line := range strings.Split(string(data), "\n") {
			if sum, ok := strings.CutPrefix(line, mtreeISOComment); ok {
				return strings.TrimSpace(sum)
			}
			if line != "" && line[0] != '#' {
				break
			}
		}
	case ".lock.json":
		var v struct {
			ISOSHA256 string `json:"iso_sha256"`
		}
		if json.Unmarshal(data, &v) == nil {
			return v.ISOSHA256
		}
	case ".report.json":
		var v struct {
			SHA256 string `json:"sha256"`
		}
		if json.Unmarshal(data, &v) == nil {
			return v.SHA256
		}
	case ".spdx.json":
		var v struct {
			Packages []struct {
				SPDXID    string         `json:"SPDXID"`
				Checksums []spdxChecksum `json:"checksums"`
			} `json:"packages"`
		}
		if json.Unmarshal(data, &v) == nil {
			for _, p := range v.Packages {
				if p.SPDXID != "SPDXRef-Image" {
					continue
				}
				for _, c := range p.Checksums {
					if c.Algorithm == "SHA256" {
						return c.Value
					}
				}
			}
		}
	}
	return ""
}

// newLock pins pkgs: NEVRA, checksum, repository, URL and, once fetched,
// the fingerprint of the key that verified each.
func newLock(pkgs []*rpmrepo.Package, rs *repoSet, got *fetched) *resolver.Lock {
	lk := &resolver.Lock{Version: 1}
	sorted := append([]*rpmrepo.Package(nil), pkgs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].NEVRA() < sorted[j].NEVRA() })
	for _, p := range sorted {
		lk.Packages = append(lk.Packages, resolver.LockedPackage{
			Name: p.Name, NEVRA: p.NEVRA(), Checksum: p.Checksum.Type + ":" + p.Checksum.Value,
			Repo: p.Repo, Location: p.Location, URL: rs.url(p), Key: got.keyOf(p),
		})
	}
	return lk
}

func sbom(pkgs []*rpmrepo.Package, rs *repoSet) []SBOMPackage {
	var out []SBOMPackage
	for _, p := range pkgs {
		out = append(out, SBOMPackage{
			Name: p.Name, Epoch: p.Epoch, Version: p.Version, Release: p.Release, Arch: p.Arch,
			SHA256: checksumHex(p, "sha256"), License: p.License, SourceRPM: p.SourceRPM,
			URL: rs.url(p),
		})
	}
	return out
}

func checksumHex(p *rpmrepo.Package, typ string) string {
	if p.Checksum.Type == typ {
		return p.Checksum.Value
	}
	return ""
}

func vendor(defName string) string {
	if i := strings.IndexByte(defName, '-'); i > 0 {
		return defName[:i]
	}
	return defName
}

// fileSHA256 is the SHA-256 of the file p.
func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, sum, err := readerSHA256(f)
	return sum, err
}

// readerSHA256 is the length and SHA-256 of what r holds.
func readerSHA256(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// testPause is the kill tests' hook: each call is one step of publishing
// the outputs, numbered from 0, and with VICROOT_TEST_PAUSE=N the build
// says so on stderr before step N and waits there to be killed.
func testPause() {
	n := pauseStep.Add(1) - 1
	if os.Getenv("VICROOT_TEST_PAUSE") == strconv.FormatInt(n, 10) {
		fmt.Fprintf(os.Stderr, "vicroot: test pause before publish step %d\n", n)
		for {
			time.Sleep(time.Hour)
		}
	}
}

var pauseStep atomic.Int64

// writeFileAtomic writes through a temp file in the same directory,
// renamed into place, so an interrupted build leaves no half file.
func writeFileAtomic(p string, data []byte) error {
	tmp, err := writeTemp(p, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// treeManifest lists the tree as mtree entries, with owning packages.
func treeManifest(t *rootfs.Tree) ([]mtree.Entry, error) {
	var out []mtree.Entry
	err := fs.WalkDir(t, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := t.Lstat(p)
		if err != nil {
			return err
		}
		e := mtree.Entry{Path: p, Mode: fi.Mode()}
		if m := fsmeta.Of(fi); m != nil {
			e.UID, e.GID, e.Major, e.Minor, e.Package = m.UID, m.GID, m.Major, m.Minor, m.Package
		}
		switch {
		case fi.Mode().IsRegular():
			// The tree stores content by its SHA-256: no second hash.
			e.Size = fi.Size()
			if m := fsmeta.Of(fi); m != nil && m.SHA256 != nil {
				e.SHA256 = hex.EncodeToString(m.SHA256)
			} else {
				data, err := t.ReadFile(p)
				if err != nil {
					return err
				}
				s := sha256.Sum256(data)
				e.SHA256 = hex.EncodeToString(s[:])
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = t.ReadLink(p); err != nil {
				return err
			}
		}
		out = append(out, e)
		return nil
	})
	return out, err
}
