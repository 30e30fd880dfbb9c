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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/resolver"
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
	// Mirrors are the build's --mirror flags: not part of the ISO (the
	// same packages from elsewhere give the same bytes), but an offline
	// verify needs them to find the cached metadata.
	Mirrors map[string]string `json:"mirrors,omitempty"`
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
	spdx, err := SPDX(img.name, img.sha256, vendor(src.def.Name), opts.ToolVersion, epoch, sbom(pl.locked(), src.repos, pl.kernel))
	if err != nil {
		return nil, nil, err
	}
	rep := buildReport{Hooks: root.hooks, Tether: lay.tether, Tree: root.db.Report(), Appliance: lay.appliance, RPMDB: lay.rpmdb, Mirrors: opts.Mirrors}
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
// set, or no ISO (issue 14): every file is written to a temp file (locked
// while this build holds it) and flushed first; then the old ISO goes, the
// sidecars are renamed, and the ISO is renamed last. On error the temp
// files are removed.
func publish(img *image, outs []output) error {
	tmps := make([]*atomicfile.File, len(outs))
	defer func() {
		for _, t := range tmps {
			if t != nil {
				t.Discard()
			}
		}
	}()
	for i, o := range outs {
		t, err := atomicfile.Create(o.p)
		if err != nil {
			return err
		}
		tmps[i] = t
		if _, err := t.Write(o.data); err != nil {
			return fmt.Errorf("write %s: %w", o.p, err)
		}
		if err := t.Flush(0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.p, err)
		}
	}
	dir := filepath.Dir(img.path)
	testPause()
	if err := os.Remove(img.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the previous %s: %w", img.path, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	for i, o := range outs {
		testPause()
		if err := tmps[i].Rename(o.p); err != nil {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	testPause()
	if err := img.tmp.Rename(img.path); err != nil {
		return err
	}
	return syncDir(dir)
}

// removeStaleOutputs removes the temp files that killed builds left in the
// out dir for the ISO name and its sidecars: those no running build holds
// locked.
func removeStaleOutputs(dir, isoName string, log *slog.Logger) {
	removed, err := atomicfile.RemoveStale(dir, func(n string) bool {
		if atomicfile.IsTempOf(n, isoName) {
			return true
		}
		for _, suf := range SidecarSuffixes {
			if atomicfile.IsTempOf(n, isoName+suf) {
				return true
			}
		}
		return false
	})
	for _, p := range removed {
		log.Info("removed a temp file a killed build left", "path", p)
	}
	if err != nil {
		log.Warn("removing stale temp files", "err", err)
	}
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

// mirrorHint explains an offline rebuild's missing metadata when the ISO's
// report (beside it, naming it) records --mirror flags other than those
// given: the cache finds metadata by the URL it was fetched from. It is ""
// otherwise.
func mirrorHint(isoPath string, given map[string]string) string {
	data, err := os.ReadFile(isoPath + ".report.json")
	if err != nil {
		return ""
	}
	var rep struct {
		SHA256  string            `json:"sha256"`
		Mirrors map[string]string `json:"mirrors"`
	}
	if json.Unmarshal(data, &rep) != nil || len(rep.Mirrors) == 0 || maps.Equal(rep.Mirrors, given) {
		return ""
	}
	if sum, err := fileSHA256(isoPath); err != nil || sum != rep.SHA256 {
		return ""
	}
	var flags []string
	for _, id := range slices.Sorted(maps.Keys(rep.Mirrors)) {
		flags = append(flags, "--mirror "+id+"="+rep.Mirrors[id])
	}
	return fmt.Sprintf("\n%s was built from the mirrors %s (its report %s.report.json says): offline, the cache finds a repository's metadata by the URL it came from, so give the same --mirror flags", isoPath, strings.Join(flags, " "), isoPath)
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

func sbom(pkgs []*rpmrepo.Package, rs *repoSet, kernel *KernelFile) []SBOMPackage {
	var out []SBOMPackage
	for _, p := range pkgs {
		sp := SBOMPackage{
			Name: p.Name, Epoch: p.Epoch, Version: p.Version, Release: p.Release, Arch: p.Arch,
			SHA256: checksumHex(p, "sha256"), License: p.License, SourceRPM: p.SourceRPM,
			URL: rs.url(p),
		}
		if kernel != nil && p == kernel.Package {
			sp.Comment, sp.Annotation = kernel.sbomNotes()
		}
		out = append(out, sp)
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
