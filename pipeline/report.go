package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs"
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
	Tree         rootfs.Report     `json:"tree"`
	Warnings     []string          `json:"warnings,omitempty"`
	Inputs       map[string]string `json:"inputs,omitempty"`
}

type verifyReport struct {
	NEVRA       string `json:"nevra"`
	Signature   string `json:"signature,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// sidecars writes the lock, the manifest, the SBOM and the report beside
// the ISO and returns what the build wrote.
func sidecars(src *source, pl *plans, got *fetched, root *installed, lay *laidOut, img *image, epoch time.Time, opts Options, log *slog.Logger) (*Result, error) {
	res := &Result{ISO: img.path, SHA256: img.sha256, Epoch: epoch}
	for _, p := range pl.installed {
		res.Packages = append(res.Packages, p.NEVRA())
	}
	res.Lock, res.MTree, res.SPDX, res.Report = img.path+".lock.json", img.path+".mtree", img.path+".spdx.json", img.path+".report.json"
	spdx, err := SPDX(img.name, img.sha256, vendor(src.def.Name), opts.ToolVersion, epoch, sbom(pl.locked(), src.repos))
	if err != nil {
		return nil, err
	}
	rep := buildReport{Hooks: root.hooks, Tether: lay.tether, Tree: root.tree.Report()}
	warnings := append([]string(nil), root.warnings...)
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
		return nil, err
	}
	for _, w := range []struct {
		p    string
		data []byte
	}{{res.Lock, img.lockJSON}, {res.MTree, img.manifest}, {res.SPDX, spdx}, {res.Report, append(repJSON, '\n')}} {
		if err := writeFileAtomic(w.p, w.data); err != nil {
			return nil, err
		}
	}
	return res, nil
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

// writeFileAtomic writes through a temp file in the same directory,
// renamed into place, so an interrupted build leaves no half file.
func writeFileAtomic(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
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
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
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
