package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/vic"
)

// ErrDiffers is returned by Verify when the rebuilt image is not the same.
var ErrDiffers = errors.New("the rebuilt image differs")

// ErrStaleSidecar is returned by Verify when the ISO is identical to its
// rebuild but a sidecar beside it belongs to another ISO.
var ErrStaleSidecar = errors.New("stale sidecar")

// Record is what an ISO written by vicroot records of its build.
type Record struct {
	Inputs     Inputs
	Lock       []byte
	Definition map[string][]byte // the definition folder's files
	GPGKeys    map[string][]byte // --gpgkey files
}

func readISOFile(img *iso.Image, name string) ([]byte, error) {
	r, err := img.Open(name)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, 256<<20))
}

func openISO(p string) (*iso.Image, *os.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	img, err := iso.Open(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	return img, f, nil
}

// ReadRecord reads /boot/vicroot of an ISO.
func ReadRecord(ctx context.Context, isoPath string) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	img, f, err := openISO(isoPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rec := &Record{Definition: map[string][]byte{}, GPGKeys: map[string][]byte{}}
	in, err := readISOFile(img, RecordDir+"/inputs.json")
	if err != nil {
		return nil, fmt.Errorf("verify: %s records no build inputs (%s): was it built by vicroot? %w", isoPath, RecordDir, err)
	}
	if err := json.Unmarshal(in, &rec.Inputs); err != nil {
		return nil, fmt.Errorf("verify: %s: %s/inputs.json: %w", isoPath, RecordDir, err)
	}
	if rec.Lock, err = readISOFile(img, RecordDir+"/lock.json"); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
	}
	for dir, m := range map[string]map[string][]byte{RecordDir + "/definition": rec.Definition, RecordDir + "/gpgkeys": rec.GPGKeys} {
		ents, err := img.ReadDir(dir)
		if err != nil {
			if dir == RecordDir+"/gpgkeys" {
				continue
			}
			return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
		}
		for _, e := range ents {
			if !e.Mode.IsRegular() {
				continue
			}
			if m[e.Name], err = readISOFile(img, dir+"/"+e.Name); err != nil {
				return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
			}
		}
	}
	return rec, nil
}

// binFromISO is the tether and unpack the ISO's initramfs holds
// (/bin/tether, /bin/unpack) as a --bin folder, each checked against the
// digest the ISO records.
func binFromISO(isoPath string, in Inputs) (Dir, error) {
	img, f, err := openISO(isoPath)
	if err != nil {
		return Dir{}, err
	}
	defer f.Close()
	r, err := img.Open(iso.InitrdPath)
	if err != nil {
		return Dir{}, fmt.Errorf("%s: %s: %w", isoPath, iso.InitrdPath, err)
	}
	dr, _, err := initramfs.Decompress(r)
	if err != nil {
		return Dir{}, fmt.Errorf("%s: %s: %w", isoPath, iso.InitrdPath, err)
	}
	defer dr.Close()
	// /bin is usually a link to usr/bin: either path may hold them.
	want := map[string]string{"bin/tether": "tether-linux", "bin/unpack": "unpack", "usr/bin/tether": "tether-linux", "usr/bin/unpack": "unpack"}
	sums := map[string]string{"tether-linux": in.TetherSHA256, "unpack": in.UnpackSHA256}
	found := map[string][]byte{}
	cr := initramfs.NewReader(dr)
	for {
		h, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Dir{}, fmt.Errorf("%s: %s: %w", isoPath, iso.InitrdPath, err)
		}
		p := strings.TrimPrefix(h.Name, "./")
		if _, ok := want[p]; !ok || h.Mode&0o170000 != 0o100000 {
			continue
		}
		if found[p], err = io.ReadAll(io.LimitReader(cr, 256<<20)); err != nil {
			return Dir{}, fmt.Errorf("%s: %s: %s: %w", isoPath, iso.InitrdPath, h.Name, err)
		}
	}
	bin := fstest.MapFS{}
	for _, p := range []string{"bin/tether", "bin/unpack", "usr/bin/tether", "usr/bin/unpack"} {
		n, data := want[p], found[p]
		if data == nil || bin[n] != nil {
			continue
		}
		if got := bootFileSHA256(data, false); got != sums[n] {
			return Dir{}, fmt.Errorf("%s: the initramfs's /%s has sha256 %s, but the ISO records %s of sha256 %s: the ISO was altered; give --bin the binaries it was built with",
				isoPath, p, got, n, sums[n])
		}
		bin[n] = &fstest.MapFile{Data: data, Mode: 0o755}
	}
	for _, n := range []string{"tether-linux", "unpack"} {
		if bin[n] == nil {
			return Dir{}, fmt.Errorf("%s: the initramfs holds no /bin/%s for %s: give --bin", isoPath, strings.TrimSuffix(n, "-linux"), n)
		}
	}
	return Dir{FS: bin, Name: isoPath + ":/" + iso.InitrdPath}, nil
}

// isolinuxFromISO is the ISOLINUX files the ISO holds as an --isolinux
// folder, each checked against the digest the ISO records (isolinux.bin's
// with the boot-info table, bytes 8–63, masked).
func isolinuxFromISO(isoPath string, in Inputs) (Dir, error) {
	img, f, err := openISO(isoPath)
	if err != nil {
		return Dir{}, err
	}
	defer f.Close()
	dir := fstest.MapFS{}
	for _, c := range []struct {
		p, want  string
		bootInfo bool
	}{{iso.IsolinuxBin, in.IsolinuxSHA256, true}, {iso.LdlinuxC32, in.LdlinuxSHA256, false}} {
		if c.want == "" {
			continue
		}
		data, err := readISOFile(img, c.p)
		if err != nil {
			return Dir{}, fmt.Errorf("%s: %s: %w", isoPath, c.p, err)
		}
		if got := bootFileSHA256(data, c.bootInfo); got != c.want {
			return Dir{}, fmt.Errorf("%s: /%s has sha256 %s, but the ISO records %s: the ISO was altered; give --isolinux the files it was built with", isoPath, c.p, got, c.want)
		}
		dir[path.Base(c.p)] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return Dir{FS: dir, Name: isoPath + ":/" + iso.IsolinuxDir}, nil
}

// checkApplianceBin checks that --bin holds the daemons and the
// vicadmin-home folder an appliance ISO was built with (their digests are
// recorded). The appliance's /home/vicadmin is chowned and merged with
// useradd's skeleton, so its inputs are not taken back from the ISO:
// --bin is required.
func checkApplianceBin(isoPath string, bin Dir, in Inputs) error {
	if bin.FS == nil {
		return fmt.Errorf("%s is an appliance image: give --bin the folder with VIC's daemons and %s it was built with", isoPath, vic.VicadminHomeDir)
	}
	for _, d := range vic.ApplianceDaemons {
		_, got, err := readBin(bin, d.Name)
		if err != nil {
			return err
		}
		if want := in.Daemons[d.Name]; got != want {
			return fmt.Errorf("%s has sha256 %s, but %s was built with one of sha256 %s: give --bin the same binaries",
				filepath.Join(bin.Name, d.Name), got, isoPath, want)
		}
	}
	home, err := fs.Sub(bin.FS, vic.VicadminHomeDir)
	if err != nil {
		return err
	}
	got, err := dirSHA256(home)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(bin.Name, vic.VicadminHomeDir), err)
	}
	if got != in.VicadminHomeSHA256 {
		return fmt.Errorf("%s differs from the folder %s was built with", filepath.Join(bin.Name, vic.VicadminHomeDir), isoPath)
	}
	return nil
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Rebuilt    *Result
	Same       bool
	Difference *Difference
	Stale      []string // sidecars beside the ISO that name another ISO
}

// Verify rebuilds an ISO from what it records (the definition, the lock,
// the --gpgkey keys, the epoch, the version, the inputs' digests) with
// opts' repositories, cache and --bin, and compares the two byte for byte.
// opts.Definition, GPGKeys and Lock are ignored: the ISO's own are used. A
// difference is reported by package and by file, and the error wraps
// ErrDiffers.
func Verify(ctx context.Context, isoPath string, opts Options) (*VerifyResult, error) {
	rec, err := ReadRecord(ctx, isoPath)
	if err != nil {
		return nil, err
	}
	defFS := fstest.MapFS{}
	for n, data := range rec.Definition {
		defFS[path.Base(n)] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	label := isoPath + ":" + RecordDir + "/definition"
	if opts.Definition, err = repos.LoadFS(defFS, label, false); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	names := make([]string, 0, len(rec.GPGKeys))
	for n := range rec.GPGKeys {
		names = append(names, n)
	}
	sort.Strings(names)
	opts.GPGKeys = nil
	for _, n := range names {
		opts.GPGKeys = append(opts.GPGKeys, KeyFile{Name: path.Base(n), Data: rec.GPGKeys[n]})
	}
	if opts.Lock, err = resolver.ParseLock(rec.Lock, isoPath+":"+RecordDir+"/lock.json"); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	target := TargetBootstrap
	if rec.Inputs.Target == string(TargetAppliance) {
		target = TargetAppliance
		if err := checkApplianceBin(isoPath, opts.Bin, rec.Inputs); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	} else if opts.Bin.FS == nil {
		if opts.Bin, err = binFromISO(isoPath, rec.Inputs); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	for _, c := range []struct{ name, want string }{{"tether-linux", rec.Inputs.TetherSHA256}, {"unpack", rec.Inputs.UnpackSHA256}} {
		if target == TargetAppliance {
			break
		}
		_, got, err := readBin(opts.Bin, c.name)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if got != c.want {
			return nil, fmt.Errorf("verify: %s has sha256 %s, but %s was built with one of sha256 %s: give --bin the same binaries",
				filepath.Join(opts.Bin.Name, c.name), got, isoPath, c.want)
		}
	}
	if opts.Isolinux.FS == nil && rec.Inputs.IsolinuxSHA256 != "" {
		if opts.Isolinux, err = isolinuxFromISO(isoPath, rec.Inputs); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	work, err := os.MkdirTemp("", "vicroot-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	epoch := time.Unix(rec.Inputs.SourceDateEpoch, 0).UTC()
	opts.SourceDateEpoch = &epoch
	opts.Version, opts.BootArgs, opts.NoWeakDeps = rec.Inputs.Version, rec.Inputs.BootArgs, rec.Inputs.NoWeakDeps
	opts.Out = work
	opts.Target = target
	res, err := Build(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("verify: rebuilding %s: %w", isoPath, err)
	}
	orig, err := fileSHA256(isoPath)
	if err != nil {
		return nil, err
	}
	vr := &VerifyResult{Rebuilt: res, Same: orig == res.SHA256}
	if vr.Stale, err = StaleSidecars(isoPath); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if vr.Same {
		if len(vr.Stale) > 0 {
			return vr, fmt.Errorf("verify: %s is identical to its rebuild, but %s: %w", isoPath, strings.Join(vr.Stale, "; "), ErrStaleSidecar)
		}
		return vr, nil
	}
	if vr.Difference, err = Diff(ctx, isoPath, res.ISO); err != nil {
		return nil, err
	}
	return vr, fmt.Errorf("verify: %s (sha256 %s) and its rebuild (sha256 %s): %w", isoPath, orig, res.SHA256, ErrDiffers)
}

// Difference lists how two images differ: by package (from their locks),
// then by file of the initramfs tree and of the ISO itself.
type Difference struct {
	PackagesAdded, PackagesRemoved []string
	PackagesChanged                []string // "name: A-NEVRA -> B-NEVRA"
	Files                          []FileChange
}

// FileChange is one path that differs.
type FileChange struct {
	Path    string // initramfs paths as they are; ISO paths prefixed "iso:/"
	Change  string // "added", "removed", or what differs ("content", "mode", ...)
	Package string
}

// Empty reports whether no difference was found.
func (d *Difference) Empty() bool {
	return len(d.PackagesAdded)+len(d.PackagesRemoved)+len(d.PackagesChanged)+len(d.Files) == 0
}

// Diff compares two ISOs built by vicroot.
func Diff(ctx context.Context, a, b string) (*Difference, error) {
	d := &Difference{}
	la, err := isoLock(a)
	if err != nil {
		return nil, err
	}
	lb, err := isoLock(b)
	if err != nil {
		return nil, err
	}
	for name, na := range la {
		nb, ok := lb[name]
		switch {
		case !ok:
			d.PackagesRemoved = append(d.PackagesRemoved, na)
		case na != nb:
			d.PackagesChanged = append(d.PackagesChanged, name+": "+na+" -> "+nb)
		}
	}
	for name, nb := range lb {
		if _, ok := la[name]; !ok {
			d.PackagesAdded = append(d.PackagesAdded, nb)
		}
	}
	ma, err := isoManifest(ctx, a)
	if err != nil {
		return nil, err
	}
	mb, err := isoManifest(ctx, b)
	if err != nil {
		return nil, err
	}
	for p, ea := range ma {
		eb, ok := mb[p]
		if !ok {
			d.Files = append(d.Files, FileChange{p, "removed", ea.Package})
			continue
		}
		var what []string
		if ea.Mode != eb.Mode {
			what = append(what, fmt.Sprintf("mode %v -> %v", ea.Mode, eb.Mode))
		}
		if ea.UID != eb.UID || ea.GID != eb.GID {
			what = append(what, fmt.Sprintf("owner %d:%d -> %d:%d", ea.UID, ea.GID, eb.UID, eb.GID))
		}
		if ea.SHA256 != eb.SHA256 || ea.Size != eb.Size {
			what = append(what, "content")
		}
		if ea.Link != eb.Link {
			what = append(what, fmt.Sprintf("link %s -> %s", ea.Link, eb.Link))
		}
		if ea.Major != eb.Major || ea.Minor != eb.Minor {
			what = append(what, "device")
		}
		if len(what) > 0 {
			pkg := eb.Package
			if pkg == "" {
				pkg = ea.Package
			}
			d.Files = append(d.Files, FileChange{p, strings.Join(what, ", "), pkg})
		}
	}
	for p, eb := range mb {
		if _, ok := ma[p]; !ok {
			d.Files = append(d.Files, FileChange{p, "added", eb.Package})
		}
	}
	sort.Strings(d.PackagesAdded)
	sort.Strings(d.PackagesRemoved)
	sort.Strings(d.PackagesChanged)
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Path < d.Files[j].Path })
	return d, nil
}

func isoLock(p string) (map[string]string, error) {
	img, f, err := openISO(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readISOFile(img, RecordDir+"/lock.json")
	if err != nil {
		return nil, fmt.Errorf("diff: %s records no lock: %w", p, err)
	}
	lk, err := resolver.ParseLock(data, p+":"+RecordDir+"/lock.json")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, lp := range lk.Packages {
		key := lp.Name
		if _, dup := m[key]; dup {
			key = lp.NEVRA // installonly packages: several of one name
		}
		m[key] = lp.NEVRA
	}
	return m, nil
}

// isoManifest is the initramfs tree plus the ISO's own files ("iso:/…").
func isoManifest(ctx context.Context, p string) (map[string]mtree.Entry, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	entries, err := Inspect(ctx, f, fi.Size(), p)
	if err != nil {
		return nil, err
	}
	m := map[string]mtree.Entry{}
	for _, e := range entries {
		m[e.Path] = e
	}
	img, err := iso.Open(f)
	if err != nil {
		return nil, err
	}
	err = img.Walk(func(name string, e iso.Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		me := mtree.Entry{Path: "iso:/" + strings.TrimPrefix(name, "/"), Mode: e.Mode, UID: e.UID, GID: e.GID, Link: e.Target}
		if e.Mode.IsRegular() {
			r, err := img.Open(name)
			if err != nil {
				return err
			}
			me.Size, me.SHA256, err = readerSHA256(r)
			if err != nil {
				return err
			}
		}
		m[me.Path] = me
		return nil
	})
	return m, err
}
