package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/depmod"
	"github.com/vicroot/vicroot/rootfs/ldso"
	"github.com/vicroot/vicroot/rpmrepo"
)

// Build makes the bootstrap image of a repo definition, following VIC's
// recipe (VIC.md §2): base (packages.base, then the kernel; modules
// decompressed and depmod; the kernel moved to the ISO's /boot) → staging
// (packages_script_staging.bootstrap, packages.bootstrap, staging.sh) →
// the bootstrap layout (VIC's files, the /.tether plan) → initramfs → ISO.
func Build(ctx context.Context, opts Options) (*Result, error) {
	b, err := newBuilder(opts)
	if err != nil {
		return nil, err
	}
	switch opts.Target {
	case "", TargetBootstrap:
	case TargetAppliance, TargetAll:
		return nil, fmt.Errorf("build: target %s: the appliance image is not built yet (only bootstrap)", opts.Target)
	default:
		return nil, fmt.Errorf("build: unknown target %q (want bootstrap, appliance or all)", opts.Target)
	}

	if err := b.load(ctx); err != nil {
		return nil, err
	}
	def := b.def
	lock, err := readLock(opts.LockFile)
	if err != nil {
		return nil, err
	}
	pl, err := b.plan(ctx, lock)
	if err != nil {
		return nil, err
	}
	basePlan, stagePlan, installed, syslinux := pl.base, pl.stage, pl.installed, pl.syslinux
	b.epoch = newestBuildTime(installed)
	if opts.SourceDateEpoch != nil {
		b.epoch = opts.SourceDateEpoch.UTC()
	}

	// Fetch and verify everything, the boot loader's package included.
	b.stage("fetch")
	files, err := b.repos.fetch(ctx, pl.fetch())
	if err != nil {
		return nil, err
	}

	// The tree: base.sh, the base set, the kernel's modules.
	b.stage("install")
	tree := rootfs.New()
	tree.SetDefaultTime(b.epoch)
	b.tree = tree
	if err := b.runHook(ctx, repos.BaseHookFile, def.BaseSH); err != nil {
		return nil, err
	}
	if err := b.install(ctx, basePlan.Packages, files); err != nil {
		return nil, err
	}
	kver, err := b.kernelModules(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.cleanCaches(); err != nil {
		return nil, err
	}
	bootfs := rootfs.New()
	bootfs.SetDefaultTime(b.epoch)
	if err := b.moveKernel(bootfs, kver); err != nil {
		return nil, err
	}
	if err := tree.WriteFile("etc/initrd-release", nil, 0o644); err != nil {
		return nil, err
	}

	// Staging.
	for _, p := range stagePlan.Erase {
		if err := tree.Erase(p.Name); err != nil {
			return nil, fmt.Errorf("build: staging: erase %s: %w", p.NEVRA(), err)
		}
	}
	if err := b.install(ctx, stagePlan.Packages, files); err != nil {
		return nil, err
	}
	if err := b.runHook(ctx, repos.StagingHookFile, def.StagingSH); err != nil {
		return nil, err
	}
	if err := b.cleanCaches(); err != nil {
		return nil, err
	}
	if err := b.scriptletEffects(ctx); err != nil {
		return nil, err
	}

	// VIC's bootstrap layout.
	b.stage("layout")
	rep, err := b.bootstrapLayout(ctx, kver)
	if err != nil {
		return nil, err
	}
	b.report.Tether = rep

	// The boot loader and the records verify needs.
	if err := b.bootLoader(ctx, bootfs, syslinux, files); err != nil {
		return nil, err
	}
	lk := b.lock(pl.locked())
	lockJSON, err := lk.Marshal()
	if err != nil {
		return nil, err
	}
	entries, err := treeManifest(tree)
	if err != nil {
		return nil, err
	}
	var mt bytes.Buffer
	if err := mtree.Write(&mt, entries); err != nil {
		return nil, err
	}
	if err := b.records(bootfs, lockJSON, mt.Bytes()); err != nil {
		return nil, err
	}

	// initramfs and ISO.
	b.stage("initramfs")
	var core bytes.Buffer
	if err := initramfs.Write(ctx, &core, tree, initramfs.Gzip, initramfs.Options{Epoch: b.epoch}); err != nil {
		return nil, fmt.Errorf("build: initramfs: %w", err)
	}
	if err := bootfs.WriteFile(iso.InitrdPath, core.Bytes(), 0o644); err != nil {
		return nil, err
	}
	b.stage("iso")
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	name := "bootstrap.iso"
	if def.Name != repos.DefaultName {
		name = "bootstrap-" + def.Name + ".iso"
	}
	isoPath := filepath.Join(opts.Out, name)
	if err := iso.Write(ctx, isoPath, bootfs, iso.VIC(b.version(), b.epoch)); err != nil {
		return nil, fmt.Errorf("build: %s: %w", isoPath, err)
	}
	sum, err := fileSHA256(isoPath)
	if err != nil {
		return nil, err
	}

	// Sidecars: lock, manifest, SBOM, report.
	res := &Result{ISO: isoPath, SHA256: sum, Epoch: b.epoch}
	for _, p := range installed {
		res.Packages = append(res.Packages, p.NEVRA())
	}
	res.Lock, res.MTree, res.SPDX, res.Report = isoPath+".lock.json", isoPath+".mtree", isoPath+".spdx.json", isoPath+".report.json"
	spdx, err := SPDX(name, sum, vendor(def.Name), opts.ToolVersion, b.epoch, b.sbom(pl.locked()))
	if err != nil {
		return nil, err
	}
	b.report.Tree = tree.Report()
	for _, p := range pl.locked() {
		v := b.repos.verified[p]
		if v == nil {
			continue
		}
		vr := verifyReport{NEVRA: p.NEVRA(), Fingerprint: v.Fingerprint}
		if v.Verified != nil {
			vr.Signature = v.Verified.String()
		}
		for _, w := range v.Warnings {
			b.warn("%s: %s", p.NEVRA(), w)
		}
		b.report.Verification = append(b.report.Verification, vr)
	}
	b.report.Warnings = b.warnings
	res.Warnings = b.warnings
	b.report.Packages = res.Packages
	b.report.Epoch = b.epoch.Unix()
	b.report.ISO = name
	b.report.SHA256 = sum
	repJSON, err := json.MarshalIndent(b.report, "", "  ")
	if err != nil {
		return nil, err
	}
	for _, w := range []struct {
		p    string
		data []byte
	}{{res.Lock, lockJSON}, {res.MTree, mt.Bytes()}, {res.SPDX, spdx}, {res.Report, append(repJSON, '\n')}} {
		if err := writeFileAtomic(w.p, w.data); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// load reads the definition (plus --gpgkey keys) and opens its
// repositories, verifying their metadata.
func (b *builder) load(ctx context.Context) error {
	b.stage("definition")
	def, err := repos.Load(b.opts.Repo)
	if err != nil {
		return err
	}
	for _, k := range b.opts.GPGKeys {
		if err := def.AddKeyFile(k); err != nil {
			return err
		}
	}
	b.def = def
	b.stage("metadata")
	rs, err := openRepositories(ctx, def, b.opts, b.log)
	if err != nil {
		return err
	}
	b.repos = rs
	return nil
}

func readLock(p string) (*resolver.Lock, error) {
	if p == "" {
		return nil, nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("build: --lock: %w", err)
	}
	return resolver.ParseLock(data, p)
}

// plans are a build's resolved package sets.
type plans struct {
	base, stage *resolver.Plan
	// installed is what the image ends up with, in install order.
	installed []*rpmrepo.Package
	// syslinux is the boot loader's package (nil with --isolinux).
	syslinux *rpmrepo.Package
}

// fetch is every package to download: both plans (staging may erase
// part of the base) and the boot loader.
func (p *plans) fetch() []*rpmrepo.Package {
	out := append(append([]*rpmrepo.Package(nil), p.base.Packages...), p.stage.Packages...)
	if p.syslinux != nil {
		out = append(out, p.syslinux)
	}
	return out
}

// locked is what the lock and the SBOM list: the installed packages and
// the boot loader's, which is in the ISO too.
func (p *plans) locked() []*rpmrepo.Package {
	out := append([]*rpmrepo.Package(nil), p.installed...)
	if p.syslinux != nil && !slices.Contains(out, p.syslinux) {
		out = append(out, p.syslinux)
	}
	return out
}

// plan resolves the base set and the kernel, then the bootstrap staging
// on top of it, as VIC's separate package-manager calls do.
func (b *builder) plan(ctx context.Context, lock *resolver.Lock) (*plans, error) {
	b.stage("resolve")
	def := b.def
	baseNames, err := def.PackageList(repos.StageBase)
	if err != nil {
		return nil, err
	}
	if def.KernelFile != "" {
		return nil, fmt.Errorf("build: %s: a kernel RPM file in the definition folder (%s) is not supported yet", def.Name, def.KernelFile)
	}
	base, err := b.solve(ctx, resolver.Request{Install: append(append([]string(nil), baseNames...), def.Spec.Kernel), Lock: lock})
	if err != nil {
		return nil, fmt.Errorf("build: base packages of %s: %w", def.Name, err)
	}
	stageReq := resolver.Request{Installed: base.Packages, Lock: lock}
	if sc := def.Spec.StagingCommand(repos.StageBootstrap); sc != nil {
		if sc.Erases() {
			stageReq.Erase = sc.Packages
		} else {
			stageReq.Install = append(stageReq.Install, sc.Packages...)
		}
	}
	bootNames, err := def.PackageList(repos.StageBootstrap)
	if err != nil {
		return nil, err
	}
	stageReq.Install = append(stageReq.Install, bootNames...)
	stage := &resolver.Plan{}
	if len(stageReq.Install)+len(stageReq.Erase) > 0 {
		if stage, err = b.solve(ctx, stageReq); err != nil {
			return nil, fmt.Errorf("build: bootstrap packages of %s: %w", def.Name, err)
		}
	}
	p := &plans{base: base, stage: stage}
	p.installed = append(append([]*rpmrepo.Package(nil), kept(base, stage)...), stage.Packages...)
	if b.opts.IsolinuxDir == "" {
		if p.syslinux, err = b.bootLoaderPackage(ctx, lock); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// builder carries one build's state between the stages of Build.
type builder struct {
	opts     Options
	log      *slog.Logger
	def      *repos.Definition
	repos    *repoSet
	tree     *rootfs.Tree
	epoch    time.Time
	warnings []string
	report   buildReport
	// tetherSum, unpackSum are the SHA-256 of the tether binaries.
	tetherSum, unpackSum string
}

// buildReport is <iso>.report.json.
type buildReport struct {
	ISO          string            `json:"iso"`
	SHA256       string            `json:"sha256"`
	Epoch        int64             `json:"source_date_epoch"`
	Packages     []string          `json:"packages"`
	Verification []verifyReport    `json:"verification"`
	Hooks        []string          `json:"hooks,omitempty"`
	Tether       *TetherReport     `json:"tether"`
	Tree         rootfs.Report     `json:"tree"`
	Warnings     []string          `json:"warnings,omitempty"`
	Inputs       map[string]string `json:"inputs,omitempty"`
}

type verifyReport struct {
	NEVRA       string `json:"nevra"`
	Signature   string `json:"signature,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

func newBuilder(opts Options) (*builder, error) {
	if opts.Repo == "" {
		opts.Repo = repos.DefaultName
	}
	if opts.Out == "" {
		return nil, errors.New("build: no output directory")
	}
	if opts.BinDir == "" {
		opts.BinDir = "bin"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &builder{opts: opts, log: log}, nil
}

func (b *builder) stage(name string) {
	b.log.Info("stage", "name", name)
	if b.opts.Progress != nil {
		b.opts.Progress.Stage(name)
	}
}

func (b *builder) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.log.Warn(msg)
	b.warnings = append(b.warnings, msg)
}

func (b *builder) version() string {
	if b.opts.Version != "" {
		return b.opts.Version
	}
	return DefaultVersion
}

func (b *builder) solve(ctx context.Context, rq resolver.Request) (*resolver.Plan, error) {
	return resolver.Solve(ctx, b.repos.pkgs, rq, resolver.Policy{
		NoWeakDeps: b.opts.NoWeakDeps,
		Priorities: b.repos.priorities,
		LoadFiles:  b.repos.loadFiles,
	})
}

// kept is the base set minus what staging erased, in install order.
func kept(base, stage *resolver.Plan) []*rpmrepo.Package {
	erased := map[*rpmrepo.Package]bool{}
	for _, p := range stage.Erase {
		erased[p] = true
	}
	var out []*rpmrepo.Package
	for _, p := range base.Packages {
		if !erased[p] {
			out = append(out, p)
		}
	}
	return out
}

func newestBuildTime(pkgs []*rpmrepo.Package) time.Time {
	var n int64
	for _, p := range pkgs {
		if p.BuildTime > n {
			n = p.BuildTime
		}
	}
	return time.Unix(n, 0).UTC()
}

func (b *builder) install(ctx context.Context, pkgs []*rpmrepo.Package, files map[*rpmrepo.Package]string) error {
	if len(pkgs) == 0 {
		return nil
	}
	rf := make([]rootfs.RPMFile, len(pkgs))
	for i, p := range pkgs {
		rf[i] = rootfs.RPMFile{Path: files[p], Key: p.Checksum.Type + ":" + p.Checksum.Value}
	}
	// Expanded payloads are kept in the cache beside the RPMs: a warm
	// build skips decompression (they are checked against the verified
	// header's digests on every use).
	payloads := filepath.Join(b.opts.CacheDir, "payload")
	if _, err := b.tree.Install(ctx, rf, rootfs.InstallOptions{Workers: b.opts.Jobs, Scriptlets: true, PayloadCache: payloads}); err != nil {
		return fmt.Errorf("build: install: %w", err)
	}
	return nil
}

// kernelModules decompresses the kernel's modules and runs depmod on
// them, as VIC's base.sh does; it returns the kernel version.
func (b *builder) kernelModules(ctx context.Context) (string, error) {
	ents, err := fs.ReadDir(b.tree, "lib/modules")
	if err != nil {
		return "", fmt.Errorf("build: the kernel package installed no lib/modules: %w", err)
	}
	var kvers []string
	for _, e := range ents {
		if e.IsDir() {
			kvers = append(kvers, e.Name())
		}
	}
	if len(kvers) != 1 {
		return "", fmt.Errorf("build: want exactly one kernel under /lib/modules, found %d (%s)", len(kvers), strings.Join(kvers, ", "))
	}
	kver := kvers[0]
	dec, err := b.decompressModules(ctx, kver)
	if err != nil {
		return "", err
	}
	for _, d := range dec {
		fi, err := b.tree.Lstat(d.Compressed)
		if err != nil {
			return "", err
		}
		if err := b.tree.WriteFile(d.Path, d.Data, fi.Mode().Perm()); err != nil {
			return "", err
		}
		if err := b.tree.Chtimes(d.Path, fi.ModTime()); err != nil {
			return "", err
		}
		if err := b.tree.Remove(d.Compressed); err != nil {
			return "", err
		}
	}
	out, err := depmod.Generate(ctx, b.tree, kver)
	if err != nil {
		return "", err
	}
	for _, f := range out {
		if err := b.tree.WriteFile("lib/modules/"+kver+"/"+f.Name, f.Data, 0o644); err != nil {
			return "", err
		}
	}
	return kver, nil
}

// decompressModules is depmod.Decompress with the results kept in the
// cache by the digest of the compressed module: a warm build does not
// decompress again. An entry's name carries the digest of its content,
// checked on every use.
func (b *builder) decompressModules(ctx context.Context, kver string) ([]depmod.Decompressed, error) {
	dir := filepath.Join(b.opts.CacheDir, "modules")
	base := "lib/modules/" + kver
	var out []depmod.Decompressed
	miss := rootfs.New() // the modules to decompress now
	missKey := map[string]string{}
	err := fs.WalkDir(b.tree, base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		ext := path.Ext(p)
		if ext != ".xz" && ext != ".gz" && ext != ".zst" || !strings.HasSuffix(strings.TrimSuffix(p, ext), ".ko") {
			return nil
		}
		data, err := b.tree.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		key := hex.EncodeToString(sum[:])
		if ents, _ := filepath.Glob(filepath.Join(dir, key+"-*")); len(ents) == 1 {
			if plain, err := os.ReadFile(ents[0]); err == nil {
				ps := sha256.Sum256(plain)
				if filepath.Base(ents[0]) == key+"-"+hex.EncodeToString(ps[:]) {
					out = append(out, depmod.Decompressed{Compressed: p, Path: strings.TrimSuffix(p, ext), Data: plain})
					return nil
				}
				os.Remove(ents[0])
			}
		}
		if err := miss.MkdirAll(path.Dir(p), 0o755); err != nil {
			return err
		}
		if err := miss.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		missKey[p] = key
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(missKey) > 0 {
		fresh, err := depmod.Decompress(ctx, miss, kver)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		for _, d := range fresh {
			ps := sha256.Sum256(d.Data)
			name := filepath.Join(dir, missKey[d.Compressed]+"-"+hex.EncodeToString(ps[:]))
			if err := writeFileAtomic(name, d.Data); err != nil {
				b.log.Warn("module cache", "err", err)
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Compressed < out[j].Compressed })
	return out, nil
}

// cleanCaches is VIC's `clean all`: the package managers' caches go.
func (b *builder) cleanCaches() error {
	if err := b.tree.CleanCaches(); err != nil {
		return fmt.Errorf("build: clean all: %w", err)
	}
	return nil
}

// scriptletEffects runs what the emulated scriptlets leave to the build
// (rootfs.Report.Deferred): ldconfig always, systemd presets, sysusers and
// an empty machine-id where a package's scriptlet would have made them.
// depmod runs with the kernel, before.
func (b *builder) scriptletEffects(ctx context.Context) error {
	for _, eff := range b.tree.Report().Deferred() {
		var err error
		switch eff {
		case "systemd-preset":
			_, err = b.tree.PresetAll()
		case "sysusers":
			_, err = b.tree.ApplySysusers()
		case "machine-id":
			err = b.tree.EmptyMachineID()
		case "depmod", "ldconfig":
			continue // done by kernelModules and ldconfig
		default:
			b.warn("scriptlet effect %q is not run by this build", eff)
		}
		if err != nil {
			return fmt.Errorf("build: %s: %w", eff, err)
		}
	}
	return b.ldconfig(ctx)
}

// moveKernel moves /boot/vmlinuz-<kver> to the ISO's /boot/vmlinuz64 and
// copies every other regular file of /boot there (they stay in the
// initramfs too), as VIC's base.sh does.
func (b *builder) moveKernel(bootfs *rootfs.Tree, kver string) error {
	ents, err := fs.ReadDir(b.tree, "boot")
	if err != nil {
		return fmt.Errorf("build: the kernel package installed no /boot: %w", err)
	}
	if err := bootfs.MkdirAll("boot/isolinux", 0o755); err != nil {
		return err
	}
	moved := false
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := "boot/" + e.Name()
		data, err := b.tree.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), "vmlinuz-") && !moved {
			if err := bootfs.WriteFile(iso.KernelPath, data, 0o644); err != nil {
				return err
			}
			if err := b.tree.Remove(p); err != nil {
				return err
			}
			moved = true
			continue
		}
		if err := bootfs.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	if !moved {
		return fmt.Errorf("build: no /boot/vmlinuz-* in the tree (kernel %s)", kver)
	}
	return nil
}

// ldconfig writes /etc/ld.so.cache and the soname links, as glibc's
// %post ldconfig would.
func (b *builder) ldconfig(ctx context.Context) error {
	if _, err := b.tree.Stat("etc/ld.so.conf"); err != nil {
		return nil
	}
	cache, links, err := ldso.Cache(ctx, b.tree, ldso.CacheOptions{Logger: b.log})
	if err != nil {
		return fmt.Errorf("build: ldconfig: %w", err)
	}
	for _, l := range links {
		p := strings.TrimPrefix(l.Path, "/")
		if l.Replace || l.Target == "" {
			_ = b.tree.Remove(p)
		}
		if l.Target != "" {
			if err := b.tree.Symlink(l.Target, p); err != nil {
				return fmt.Errorf("build: ldconfig link %s: %w", l.Path, err)
			}
		}
	}
	return b.tree.WriteFile("etc/ld.so.cache", cache, 0o644)
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
		return fmt.Errorf("build: write %s: %w", p, err)
	}
	return nil
}

func vendor(defName string) string {
	if i := strings.IndexByte(defName, '-'); i > 0 {
		return defName[:i]
	}
	return defName
}

func (b *builder) sbom(pkgs []*rpmrepo.Package) []SBOMPackage {
	var out []SBOMPackage
	for _, p := range pkgs {
		out = append(out, SBOMPackage{
			Name: p.Name, Epoch: p.Epoch, Version: p.Version, Release: p.Release, Arch: p.Arch,
			SHA256: checksumHex(p, "sha256"), License: p.License, SourceRPM: p.SourceRPM,
			URL: b.repos.url(p),
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

func (b *builder) lock(pkgs []*rpmrepo.Package) *resolver.Lock {
	lk := &resolver.Lock{Version: 1}
	sorted := append([]*rpmrepo.Package(nil), pkgs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].NEVRA() < sorted[j].NEVRA() })
	for _, p := range sorted {
		lk.Packages = append(lk.Packages, resolver.LockedPackage{
			Name: p.Name, NEVRA: p.NEVRA(), Checksum: p.Checksum.Type + ":" + p.Checksum.Value,
			Repo: p.Repo, Location: p.Location, URL: b.repos.url(p), Key: b.repos.keyOf(p),
		})
	}
	return lk
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
		if m := metaOf(fi); m != nil {
			e.UID, e.GID, e.Major, e.Minor, e.Package = m.UID, m.GID, m.Major, m.Minor, m.Package
		}
		switch {
		case fi.Mode().IsRegular():
			// The tree stores content by its SHA-256: no second hash.
			e.Size = fi.Size()
			if m := metaOf(fi); m != nil && m.SHA256 != nil {
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
