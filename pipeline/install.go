package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/internal/workers"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/depmod"
	"github.com/vicroot/vicroot/rootfs/hook"
	"github.com/vicroot/vicroot/rootfs/ldso"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// installConfig is how the install stage works: where it keeps expanded
// payloads and decompressed modules, and how many workers it uses.
type installConfig struct {
	CacheDir string
	Jobs     int
	Logger   *slog.Logger
}

// payloadCache is where expanded payloads are kept, beside the RPMs.
func (cfg installConfig) payloadCache() string { return filepath.Join(cfg.CacheDir, "payload") }

// installed is the install stage's result.
type installed struct {
	// tree is the initramfs tree: the packages, hooks and scriptlet
	// effects applied.
	tree *rootfs.Tree
	// db is the tree's package database and scriptlet report.
	db *rpminstall.Installer
	// sys applies accounts and systemctl verbs to the tree.
	sys *sysconf.System
	// boot is the ISO's tree so far: the kernel and the rest of /boot.
	boot *rootfs.Tree
	// kernel is the kernel version under /lib/modules.
	kernel string
	// hooks are the definition's hooks that ran, in order.
	hooks []string
	// warnings are scriptlet effects this build does not run.
	warnings []string
}

// install makes the tree as VIC's base and staging steps do: base.sh, the
// base set, the kernel's modules decompressed and depmod, `clean all`, the
// kernel moved to the ISO's /boot; then the staging erasures and
// installs, staging.sh (the bootstrap's only), `clean all`, and what the scriptlets left to the
// build (ldconfig, systemd presets, sysusers).
func install(ctx context.Context, def *repos.Definition, pl *plans, got *fetching, epoch time.Time, cfg installConfig) (*installed, error) {
	out := &installed{tree: rootfs.New(), boot: rootfs.New()}
	tree := out.tree
	tree.SetDefaultTime(epoch)
	sys := sysconf.New(tree)
	out.sys = sys
	out.db = rpminstall.New(tree, sys)
	// Every package of the image (base, kernel file, staging) is decoded
	// from the start, on every core, while the tree takes them in order
	// with the hooks, the modules and the erasures between.
	dec := startDecoding(ctx, pl, got, cfg)
	defer dec.Stop()
	hook := func(name string, script []byte) error {
		if script == nil {
			return nil
		}
		out.hooks = append(out.hooks, name)
		return runHook(ctx, tree, def, name, script)
	}
	if err := hook(repos.BaseHookFile, def.BaseSH); err != nil {
		return nil, err
	}
	if _, err := out.db.InstallNext(ctx, dec, len(pl.base.Packages), rpminstall.InstallOptions{Scriptlets: true}); err != nil {
		return nil, err
	}
	if err := installKernelFile(ctx, out.db, dec, pl.kernel); err != nil {
		return nil, err
	}
	kver, err := kernelModules(ctx, tree, cfg)
	if err != nil {
		return nil, err
	}
	out.kernel = kver
	if err := cleanCaches(sys); err != nil {
		return nil, err
	}
	out.boot.SetDefaultTime(epoch)
	if err := moveKernel(tree, out.boot, kver); err != nil {
		return nil, err
	}
	if err := tree.WriteFile("etc/initrd-release", nil, 0o644); err != nil {
		return nil, err
	}

	// Staging.
	for _, p := range pl.stage.Erase {
		if err := out.db.Erase(p.Name); err != nil {
			return nil, fmt.Errorf("staging: erase %s: %w", p.NEVRA(), err)
		}
	}
	if _, err := out.db.InstallNext(ctx, dec, len(pl.stage.Packages), rpminstall.InstallOptions{Scriptlets: true}); err != nil {
		return nil, err
	}
	// VIC runs the definition's staging.sh for the bootstrap only.
	if pl.target != TargetAppliance {
		if err := hook(repos.StagingHookFile, def.StagingSH); err != nil {
			return nil, err
		}
	}
	if err := cleanCaches(sys); err != nil {
		return nil, err
	}
	if out.warnings, err = scriptletEffects(ctx, tree, sys, out.db.Report(), cfg.Logger); err != nil {
		return nil, err
	}
	return out, nil
}

// runHook runs a definition's base.sh or staging.sh on the tree, with
// VIC's variables; its output goes into the error when it fails.
func runHook(ctx context.Context, t *rootfs.Tree, def *repos.Definition, name string, script []byte) error {
	var out bytes.Buffer
	env := hook.Env{
		RepoFS: def.FS,
		Vars: map[string]string{
			"REPO":            def.Name,
			"PACKAGE_MANAGER": def.Spec.PackageManager,
		},
		Stdout: &out,
		Stderr: &out,
	}
	if err := hook.Run(ctx, t, name, script, env); err != nil {
		return fmt.Errorf("hook %s of %s: %w\n%s", name, def.Name, err, out.String())
	}
	return nil
}

// startDecoding starts decoding the packages install applies, in its
// order: the base plan's, the kernel RPM file, the staging plan's; each as
// soon as the fetch has verified its file. Expanded payloads are kept in
// the cache beside the RPMs: a warm build skips decompression (they are
// checked against the verified header's digests on every use).
func startDecoding(ctx context.Context, pl *plans, got *fetching, cfg installConfig) *rpminstall.Decoding {
	pkgs := slices.Clone(pl.base.Packages)
	if k := pl.kernel; k != nil {
		pkgs = append(pkgs, k.Package)
	}
	pkgs = append(pkgs, pl.stage.Packages...)
	dec := rpminstall.NewDecoding(ctx, len(pkgs), rpminstall.InstallOptions{Workers: cfg.Jobs, PayloadCache: cfg.payloadCache()})
	for i, p := range pkgs {
		key := p.Checksum.Type + ":" + p.Checksum.Value
		got.whenReady(p, func(path string) { dec.Ready(i, rpminstall.RPMFile{Path: path, Key: key}) })
	}
	return dec
}

// installKernelFile installs the definition's kernel RPM file (none when
// k is nil), the next package of dec, as VIC does: rpm2cpio | cpio -idm,
// its payload only, no scriptlets.
func installKernelFile(ctx context.Context, db *rpminstall.Installer, dec *rpminstall.Decoding, k *KernelFile) error {
	if k == nil {
		return nil
	}
	if _, err := db.InstallNext(ctx, dec, 1, rpminstall.InstallOptions{}); err != nil {
		return fmt.Errorf("kernel RPM file %s: %w", k.Label, err)
	}
	return nil
}

// kernelModules decompresses the kernel's modules and runs depmod on
// them, as VIC's base.sh does; it returns the kernel version.
func kernelModules(ctx context.Context, tree *rootfs.Tree, cfg installConfig) (string, error) {
	kvers, err := depmod.KernelVersions(tree)
	if err != nil {
		return "", err
	}
	if len(kvers) == 0 {
		return "", fmt.Errorf("the kernel package installed no lib/modules/<version>")
	}
	if len(kvers) != 1 {
		return "", fmt.Errorf("want exactly one kernel under /lib/modules, found %d (%s)", len(kvers), strings.Join(kvers, ", "))
	}
	kver := kvers[0]
	dec, err := decompressModules(ctx, tree, kver, cfg)
	if err != nil {
		return "", err
	}
	for _, d := range dec {
		fi, err := tree.Lstat(d.Compressed)
		if err != nil {
			return "", err
		}
		if err := tree.WriteContent(d.Path, d.Content, fi.Mode().Perm()); err != nil {
			return "", err
		}
		if err := tree.Chtimes(d.Path, fi.ModTime()); err != nil {
			return "", err
		}
		if err := tree.Remove(d.Compressed); err != nil {
			return "", err
		}
	}
	out, err := depmod.Generate(ctx, tree, kver)
	if err != nil {
		return "", err
	}
	for _, f := range out {
		if err := tree.WriteFile("lib/modules/"+kver+"/"+f.Name, f.Data, 0o644); err != nil {
			return "", err
		}
	}
	return kver, nil
}

// module is one decompressed kernel module to put in place of the
// compressed one.
type module struct {
	Compressed, Path string
	Content          rootfs.Content
}

// decompressModules is depmod.Decompress with the results kept in the
// cache by the SHA-256 of the compressed module (which the tree already
// knows: the package's verified payload gave it): a warm build does not
// decompress again, and takes each module by reference to its cache file
// instead of holding it in memory. An entry's name carries the digest of
// its content, checked (streamed, not kept) on every use.
func decompressModules(ctx context.Context, tree *rootfs.Tree, kver string, cfg installConfig) ([]module, error) {
	dir := filepath.Join(cfg.CacheDir, "modules")
	cached := map[string]string{} // compressed digest -> entry name
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if key, _, ok := strings.Cut(e.Name(), "-"); ok && e.Type().IsRegular() {
				cached[key] = e.Name()
			}
		}
	}
	base := "lib/modules/" + kver
	var out []module
	miss := fstest.MapFS{} // the modules to decompress now
	missKey := map[string]string{}
	err := fs.WalkDir(tree, base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		ext := path.Ext(p)
		if ext != ".xz" && ext != ".gz" && ext != ".zst" || !strings.HasSuffix(strings.TrimSuffix(p, ext), ".ko") {
			return nil
		}
		c, err := tree.Content(p)
		if err != nil {
			return err
		}
		sum := c.SHA256()
		key := hex.EncodeToString(sum[:])
		if name, ok := cached[key]; ok {
			if plain, ok := cachedModule(filepath.Join(dir, name), key); ok {
				out = append(out, module{Compressed: p, Path: strings.TrimSuffix(p, ext), Content: plain})
				return nil
			}
		}
		data, err := tree.ReadFile(p)
		if err != nil {
			return err
		}
		miss[p] = &fstest.MapFile{Data: data, Mode: 0o644}
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
		// Each module's digest and cache entry, on every core: done one
		// after another they were a quarter of the modules' wall time,
		// with the other core idle. out is sorted below.
		mods := make([]module, len(fresh))
		workers.Each(len(fresh), cfg.Jobs, func(i int) {
			d := fresh[i]
			ps := sha256.Sum256(d.Data)
			name := filepath.Join(dir, missKey[d.Compressed]+"-"+hex.EncodeToString(ps[:]))
			if err := atomicfile.WriteFile(name, d.Data, 0o644); err != nil {
				cfg.Logger.Warn("module cache", "err", err)
			}
			mods[i] = module{Compressed: d.Compressed, Path: d.Path, Content: rootfs.BytesSum(d.Data, ps)}
		})
		out = append(out, mods...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Compressed < out[j].Compressed })
	return out, nil
}

// cachedModule opens the module cache entry at name (key-<SHA-256 of its
// content>) and checks its content against the digest in its name; the
// open file is the content's store. A damaged entry is removed.
func cachedModule(name, key string) (rootfs.Content, bool) {
	f, err := os.Open(name)
	if err != nil {
		return rootfs.Content{}, false
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if err != nil || filepath.Base(name) != key+"-"+hex.EncodeToString(sum[:]) {
		f.Close()
		os.Remove(name)
		return rootfs.Content{}, false
	}
	return rootfs.Ref(f, 0, n, sum), true
}

// cleanCaches is VIC's `clean all`: the package managers' caches go.
func cleanCaches(sys *sysconf.System) error {
	if err := sys.CleanCaches(); err != nil {
		return fmt.Errorf("clean all: %w", err)
	}
	return nil
}

// scriptletEffects runs what the emulated scriptlets leave to the build
// (rpminstall.Report.Deferred): ldconfig always, systemd presets, sysusers and
// an empty machine-id where a package's scriptlet would have made them.
// depmod runs with the kernel, before. It returns a warning for each
// effect it does not know.
func scriptletEffects(ctx context.Context, tree *rootfs.Tree, sys *sysconf.System, rep rpminstall.Report, log *slog.Logger) ([]string, error) {
	var warnings []string
	for _, eff := range rep.Deferred() {
		var err error
		switch eff {
		case "systemd-preset":
			_, err = sys.PresetAll()
		case "sysusers":
			_, err = sys.ApplySysusers()
		case "machine-id":
			err = sys.EmptyMachineID()
		case "depmod", "ldconfig":
			continue // done by kernelModules and ldconfig
		default:
			msg := fmt.Sprintf("scriptlet effect %q is not run by this build", eff)
			log.Warn(msg)
			warnings = append(warnings, msg)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", eff, err)
		}
	}
	return warnings, ldconfig(ctx, tree, log)
}

// moveKernel moves /boot/vmlinuz-<kver> to the ISO's /boot/vmlinuz64 and
// copies every other regular file of /boot there (they stay in the
// initramfs too), as VIC's base.sh does.
func moveKernel(tree, boot *rootfs.Tree, kver string) error {
	ents, err := fs.ReadDir(tree, "boot")
	if err != nil {
		return fmt.Errorf("the kernel package installed no /boot: %w", err)
	}
	if err := boot.MkdirAll("boot/isolinux", 0o755); err != nil {
		return err
	}
	moved := false
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := "boot/" + e.Name()
		data, err := tree.Content(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), "vmlinuz-") && !moved {
			if err := boot.WriteContent(iso.KernelPath, data, 0o644); err != nil {
				return err
			}
			if err := tree.Remove(p); err != nil {
				return err
			}
			moved = true
			continue
		}
		if err := boot.WriteContent(p, data, 0o644); err != nil {
			return err
		}
	}
	if !moved {
		return fmt.Errorf("no /boot/vmlinuz-* in the tree (kernel %s)", kver)
	}
	return nil
}

// ldconfig writes /etc/ld.so.cache and the soname links, as glibc's
// %post ldconfig would.
func ldconfig(ctx context.Context, tree *rootfs.Tree, log *slog.Logger) error {
	if _, err := tree.Stat("etc/ld.so.conf"); err != nil {
		return nil
	}
	cache, links, err := ldso.Cache(ctx, tree, ldso.CacheOptions{Logger: log})
	if err != nil {
		return fmt.Errorf("ldconfig: %w", err)
	}
	for _, l := range links {
		p := strings.TrimPrefix(l.Path, "/")
		if l.Replace || l.Target == "" {
			_ = tree.Remove(p)
		}
		if l.Target != "" {
			if err := tree.Symlink(l.Target, p); err != nil {
				return fmt.Errorf("ldconfig link %s: %w", l.Path, err)
			}
		}
	}
	return tree.WriteFile("etc/ld.so.cache", cache, 0o644)
}
