package pipeline

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
	"github.com/vicroot/vicroot/vic"
)

// ErrDiffers is returned by Verify when the rebuilt image is not the same.
var ErrDiffers = errors.New("the rebuilt image differs")

// ErrStaleSidecar is returned by Verify when the ISO is identical to its
// rebuild but a sidecar beside it belongs to another ISO.
var ErrStaleSidecar = errors.New("stale sidecar")

// Record is what an ISO written by vicroot records of its build.
type Record struct {
	Inputs Inputs
	// EffectiveDefinition is definition.json: the definition with its
	// defaults, and the kernel RPM file's digest when the kernel is one.
	EffectiveDefinition []byte
	Lock                []byte
	Definition          map[string][]byte // the definition folder's files
	GPGKeys             map[string][]byte // --gpgkey files
}

// maxRecordFile bounds what is read of one file of an ISO's records.
const maxRecordFile = 256 << 20

// ReadRecord reads /boot/vicroot of an ISO.
func ReadRecord(ctx context.Context, isoPath string) (*Record, error) {
	img, err := openISOFile(ctx, isoPath, false)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer img.Close()
	return readRecord(img.iso, isoPath)
}

func readRecord(img fs.FS, isoPath string) (*Record, error) {
	rec := &Record{Definition: map[string][]byte{}, GPGKeys: map[string][]byte{}}
	in, err := readFile(img, RecordDir+"/inputs.json", maxRecordFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("verify: %s records no build inputs (%s): was it built by vicroot? %w", isoPath, RecordDir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
	}
	if err := json.Unmarshal(in, &rec.Inputs); err != nil {
		return nil, fmt.Errorf("verify: %s: %s/inputs.json: %w", isoPath, RecordDir, err)
	}
	if err := checkInputs(rec.Inputs); err != nil {
		return nil, fmt.Errorf("verify: %s: %s/inputs.json: %w", isoPath, RecordDir, err)
	}
	if rec.Lock, err = readFile(img, RecordDir+"/lock.json", maxRecordFile); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
	}
	if rec.EffectiveDefinition, err = readFile(img, RecordDir+"/definition.json", maxRecordFile); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
	}
	for dir, m := range map[string]map[string][]byte{RecordDir + "/definition": rec.Definition, RecordDir + "/gpgkeys": rec.GPGKeys} {
		ents, err := fs.ReadDir(img, dir)
		if err != nil {
			if dir == RecordDir+"/gpgkeys" && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			if m[e.Name()], err = readFile(img, dir+"/"+e.Name(), maxRecordFile); err != nil {
				return nil, fmt.Errorf("verify: %s: %w", isoPath, err)
			}
		}
	}
	return rec, nil
}

// Kernel is the kernel definition.json records: a package, or an RPM
// file by path and SHA-256 (zero when the record cannot be read; loading
// the definition then says what is wrong).
func (r *Record) Kernel() repos.EffectiveKernel {
	var eff struct {
		Kernel repos.EffectiveKernel `json:"kernel"`
	}
	if json.Unmarshal(r.EffectiveDefinition, &eff) != nil {
		return repos.EffectiveKernel{}
	}
	return eff.Kernel
}

// recordedKernel is the kernel RPM file an ISO was built with, which it
// records by SHA-256 only: --kernel FILE when given (refused when its
// digest differs), else the copy the build put in the cache.
func recordedKernel(isoPath string, k repos.EffectiveKernel, opts Options) (string, error) {
	if opts.KernelFile != "" {
		sum, err := fileSHA256(opts.KernelFile)
		if err != nil {
			return "", fmt.Errorf("--kernel: %w", err)
		}
		if sum != k.SHA256 {
			return "", fmt.Errorf("--kernel %s has sha256 %s, but %s was built with the kernel RPM file %s of sha256 %s", opts.KernelFile, sum, isoPath, k.File, k.SHA256)
		}
		return opts.KernelFile, nil
	}
	cache := &rpmrepo.Cache{Dir: filepath.Clean(opts.CacheDir)}
	if p, ok := cache.Lookup(rpmrepo.Checksum{Type: "sha256", Value: k.SHA256}, -1); ok {
		return p, nil
	}
	return "", fmt.Errorf("%s was built with the kernel RPM file %s (sha256 %s), which is not in the cache %s: give --kernel FILE", isoPath, k.File, k.SHA256, opts.CacheDir)
}

// binFromISO is the tether and unpack the ISO's initramfs holds
// (/bin/tether, /bin/unpack) as a --bin folder, each checked against the
// digest the ISO records.
func binFromISO(ctx context.Context, isoPath string, in Inputs) (Dir, error) {
	img, err := openISOFile(ctx, isoPath, true)
	if err != nil {
		return Dir{}, err
	}
	defer img.Close()
	// /bin is usually a link to usr/bin: the tree resolves it.
	sums := map[string]string{"tether-linux": in.TetherSHA256, "unpack": in.UnpackSHA256}
	bin := fstest.MapFS{}
	for p, n := range map[string]string{"bin/tether": "tether-linux", "bin/unpack": "unpack"} {
		data, err := readFile(img.initrd, p, maxRecordFile)
		if errors.Is(err, fs.ErrNotExist) {
			return Dir{}, fmt.Errorf("%s: the initramfs holds no /bin/%s for %s: give --bin", isoPath, path.Base(p), n)
		}
		if err != nil {
			return Dir{}, fmt.Errorf("%s: %s: %w", isoPath, iso.InitrdPath, err)
		}
		if got := bootFileSHA256(data, false); got != sums[n] {
			return Dir{}, fmt.Errorf("%s: the initramfs's /%s has sha256 %s, but the ISO records %s of sha256 %s: the ISO was altered; give --bin the binaries it was built with",
				isoPath, p, got, n, sums[n])
		}
		bin[n] = &fstest.MapFile{Data: data, Mode: 0o755}
	}
	return Dir{FS: bin, Name: isoPath + ":/" + iso.InitrdPath}, nil
}

// isolinuxFromISO is the ISOLINUX files the ISO holds as an --isolinux
// folder, each checked against the digest the ISO records (isolinux.bin's
// with the boot-info table, bytes 8–63, masked).
func isolinuxFromISO(ctx context.Context, isoPath string, in Inputs) (Dir, error) {
	img, err := openISOFile(ctx, isoPath, false)
	if err != nil {
		return Dir{}, err
	}
	defer img.Close()
	dir := fstest.MapFS{}
	for _, c := range []struct {
		p, want  string
		bootInfo bool
	}{{iso.IsolinuxBin, in.IsolinuxSHA256, true}, {iso.LdlinuxC32, in.LdlinuxSHA256, false}} {
		if c.want == "" {
			continue
		}
		data, err := readFile(img.iso, c.p, maxRecordFile)
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

// checkInputs rejects an appliance's records that verify could not use:
// daemons not named by ApplianceDaemons or without a SHA-256, and
// vicadmin-home entries that are not the folder itself first, then
// unique valid paths of files (with a SHA-256) and folders.
func checkInputs(in Inputs) error {
	for name, sum := range in.Daemons {
		if !slices.ContainsFunc(vic.ApplianceDaemons, func(d struct{ Name, Path string }) bool { return d.Name == name }) {
			return fmt.Errorf("daemons: %q is not one of VIC's daemons", name)
		}
		if !isSHA256Hex(sum) {
			return fmt.Errorf("daemons: %s: %q is not a SHA-256", name, sum)
		}
	}
	seen := map[string]bool{}
	for i, e := range in.VicadminHome {
		typ := e.Mode & fsmeta.S_IFMT
		switch {
		case i == 0 && (e.Path != "." || typ != fsmeta.S_IFDIR):
			return fmt.Errorf("vicadmin_home[0] is %q (mode %o), not the folder \".\"", e.Path, e.Mode)
		case i > 0 && (e.Path == "." || !fs.ValidPath(e.Path)):
			return fmt.Errorf("vicadmin_home[%d]: %q is not a path inside the folder", i, e.Path)
		case seen[e.Path]:
			return fmt.Errorf("vicadmin_home[%d]: %q is listed twice", i, e.Path)
		case e.Mode&^(fsmeta.S_IFMT|0o7777) != 0 || typ != fsmeta.S_IFDIR && typ != fsmeta.S_IFREG:
			return fmt.Errorf("vicadmin_home[%d]: %q has mode %o: only files and folders are copied", i, e.Path, e.Mode)
		case typ == fsmeta.S_IFREG && !isSHA256Hex(e.SHA256):
			return fmt.Errorf("vicadmin_home[%d]: file %q has sha256 %q", i, e.Path, e.SHA256)
		case typ == fsmeta.S_IFDIR && e.SHA256 != "":
			return fmt.Errorf("vicadmin_home[%d]: folder %q has a sha256", i, e.Path)
		}
		seen[e.Path] = true
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// applianceBinFromISO is VIC's daemons and the vicadmin-home folder an
// appliance ISO holds (/sbin/vic-init, …, /bin/unpack, /home/vicadmin) as
// a --bin folder: each daemon checked against the SHA-256 the ISO records,
// vicadmin-home rebuilt from the entries it records (useradd's skeleton
// files, which /home/vicadmin holds too, are not among them), each file
// checked against its SHA-256 and the whole against the folder's digest.
func applianceBinFromISO(ctx context.Context, isoPath string, in Inputs) (Dir, error) {
	if len(in.Daemons) == 0 || len(in.VicadminHome) == 0 {
		return Dir{}, fmt.Errorf("%s does not record its daemons and %s entries (built by an older vicroot): give --bin the folder it was built with", isoPath, vic.VicadminHomeDir)
	}
	img, err := openISOFile(ctx, isoPath, true)
	if err != nil {
		return Dir{}, err
	}
	defer img.Close()
	bin := fstest.MapFS{}
	altered := func(p, got, what, want string) error {
		return fmt.Errorf("%s: the initramfs's /%s has sha256 %s, but the ISO records %s of sha256 %s: the ISO was altered; give --bin the folder it was built with",
			isoPath, p, got, what, want)
	}
	read := func(p string) ([]byte, error) {
		data, err := readFile(img.initrd, p, maxRecordFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: the initramfs holds no /%s: give --bin", isoPath, p)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", isoPath, iso.InitrdPath, err)
		}
		return data, nil
	}
	for _, d := range vic.ApplianceDaemons {
		data, err := read(d.Path)
		if err != nil {
			return Dir{}, err
		}
		if got := bootFileSHA256(data, false); got != in.Daemons[d.Name] {
			return Dir{}, altered(d.Path, got, d.Name, in.Daemons[d.Name])
		}
		bin[d.Name] = &fstest.MapFile{Data: data, Mode: 0o755}
	}
	for _, e := range in.VicadminHome {
		name := path.Join(vic.VicadminHomeDir, e.Path)
		f := &fstest.MapFile{Mode: fsmeta.FileMode(e.Mode)}
		if f.Mode.IsRegular() {
			p := path.Join("home/vicadmin", e.Path)
			if f.Data, err = read(p); err != nil {
				return Dir{}, err
			}
			if got := bootFileSHA256(f.Data, false); got != e.SHA256 {
				return Dir{}, altered(p, got, vic.VicadminHomeDir+"/"+e.Path, e.SHA256)
			}
		}
		bin[name] = f
	}
	home, err := fs.Sub(bin, vic.VicadminHomeDir)
	if err != nil {
		return Dir{}, err
	}
	if got, err := dirSHA256(home); err != nil || got != in.VicadminHomeSHA256 {
		return Dir{}, fmt.Errorf("%s: the %s entries it records do not make the folder of sha256 %s it records (%v): give --bin the folder it was built with",
			isoPath, vic.VicadminHomeDir, in.VicadminHomeSHA256, err)
	}
	return Dir{FS: bin, Name: isoPath + ":/"}, nil
}

// checkApplianceBin checks that --bin holds the daemons and the
// vicadmin-home folder an appliance ISO was built with (their digests are
// recorded).
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
// opts' repositories, cache and --bin (without --bin, the tether and unpack
// or, for an appliance, VIC's daemons and vicadmin-home that the ISO
// holds, each checked against its recorded digest), and compares the two
// byte for byte.
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
	kernel := rec.Kernel()
	if opts.Definition, err = repos.LoadFSWith(defFS, label, false, repos.LoadOptions{KernelFile: kernel.File, KernelSHA256: kernel.SHA256}); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if kernel.File != "" {
		if opts.KernelFile, err = recordedKernel(isoPath, kernel, opts); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		opts.AllowUnsignedKernel = rec.Inputs.AllowUnsignedKernel
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
		if opts.Bin.FS == nil {
			if opts.Bin, err = applianceBinFromISO(ctx, isoPath, rec.Inputs); err != nil {
				return nil, fmt.Errorf("verify: %w", err)
			}
		}
		if err := checkApplianceBin(isoPath, opts.Bin, rec.Inputs); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	} else if opts.Bin.FS == nil {
		if opts.Bin, err = binFromISO(ctx, isoPath, rec.Inputs); err != nil {
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
		if opts.Isolinux, err = isolinuxFromISO(ctx, isoPath, rec.Inputs); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	if opts.CacheDir == "" {
		return nil, errors.New("verify: no cache directory")
	}
	// The rebuild goes to a locked temp folder in the cache, which a later
	// run removes if this one is killed.
	work, err := (&rpmrepo.Cache{Dir: filepath.Clean(opts.CacheDir)}).TempDir("verify-*")
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer work.Remove()
	epoch := time.Unix(rec.Inputs.SourceDateEpoch, 0).UTC()
	opts.SourceDateEpoch = &epoch
	opts.Version, opts.BootArgs, opts.NoWeakDeps = rec.Inputs.Version, rec.Inputs.BootArgs, rec.Inputs.NoWeakDeps
	opts.Out = work.Path
	opts.Target = target
	res, err := Build(ctx, opts)
	if err != nil {
		hint := ""
		if errors.Is(err, rpmrepo.ErrOffline) {
			hint = mirrorHint(isoPath, opts.Mirrors)
		}
		return nil, fmt.Errorf("verify: rebuilding %s: %w%s", isoPath, err, hint)
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
	ia, err := openISOFile(ctx, a, true)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	defer ia.Close()
	ib, err := openISOFile(ctx, b, true)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	defer ib.Close()
	d := &Difference{}
	la, err := isoLock(ia)
	if err != nil {
		return nil, err
	}
	lb, err := isoLock(ib)
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
	ma, err := isoManifest(ctx, ia)
	if err != nil {
		return nil, err
	}
	mb, err := isoManifest(ctx, ib)
	if err != nil {
		return nil, err
	}
	d.Files = compareManifests(ma, mb)
	sort.Strings(d.PackagesAdded)
	sort.Strings(d.PackagesRemoved)
	sort.Strings(d.PackagesChanged)
	return d, nil
}

// compareManifests lists the paths that differ between two trees' manifests.
func compareManifests(ma, mb map[string]Entry) []FileChange {
	var out []FileChange
	for p, ea := range ma {
		eb, ok := mb[p]
		if !ok {
			out = append(out, FileChange{p, "removed", ea.Package})
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
			out = append(out, FileChange{p, strings.Join(what, ", "), pkg})
		}
	}
	for p, eb := range mb {
		if _, ok := ma[p]; !ok {
			out = append(out, FileChange{p, "added", eb.Package})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func isoLock(img *openedImage) (map[string]string, error) {
	data, err := readFile(img.iso, RecordDir+"/lock.json", maxRecordFile)
	if err != nil {
		return nil, fmt.Errorf("diff: %s records no lock: %w", img.name, err)
	}
	lk, err := resolver.ParseLock(data, img.name+":"+RecordDir+"/lock.json")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, lp := range lk.Packages {
		if lp.Erased {
			continue // installed and erased by the build: not in the image
		}
		key := lp.Name
		if _, dup := m[key]; dup {
			key = lp.NEVRA // installonly packages: several of one name
		}
		m[key] = lp.NEVRA
	}
	return m, nil
}

// isoManifest is the initramfs tree plus the ISO's own files ("iso:/…"),
// with the initramfs paths' packages as the ISO records them.
func isoManifest(ctx context.Context, img *openedImage) (map[string]Entry, error) {
	owners, err := readOwners(img.iso)
	if err != nil {
		return nil, fmt.Errorf("diff: %s: %w", img.name, err)
	}
	initrd, err := manifest(ctx, img.initrd, "")
	if err != nil {
		return nil, fmt.Errorf("diff: %s: /%s: %w", img.name, iso.InitrdPath, err)
	}
	own, err := manifest(ctx, img.iso, "iso:/")
	if err != nil {
		return nil, fmt.Errorf("diff: %s: %w", img.name, err)
	}
	m := map[string]Entry{}
	for _, e := range initrd {
		e.Package = owners[e.Path]
		m[e.Path] = e
	}
	for _, e := range own {
		m[e.Path] = e
	}
	return m, nil
}
