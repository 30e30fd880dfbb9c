package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/depmod"
	"github.com/vicroot/vicroot/rootfs/hook"
	"github.com/vicroot/vicroot/rootfs/ldso"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rootfs/sysconf"
	"github.com/vicroot/vicroot/rpmrepo"
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
func install(ctx context.Context, def *repos.Definition, pl *plans, got *fetched, epoch time.Time, cfg installConfig) (*installed, error) {
	out := &installed{tree: rootfs.New(), boot: rootfs.New()}
	tree := out.tree
	tree.SetDefaultTime(epoch)
	sys := sysconf.New(tree)
	out.sys = sys
	out.db = rpminstall.New(tree, sys)
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
	if err := installPackages(ctx, out.db, pl.base.Packages, got, cfg); err != nil {
		return nil, err
	}
	if err := installKernelFile(ctx, out.db, pl.kernel, cfg); err != nil {
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
	if err := installPackages(ctx, out.db, pl.stage.Packages, got, cfg); err != nil {
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

func installPackages(ctx context.Context, db *rpminstall.Installer, pkgs []*rpmrepo.Package, got *fetched, cfg installConfig) error {
	if len(pkgs) == 0 {
		return nil
	}
	rf := make([]rpminstall.RPMFile, len(pkgs))
	for i, p := range pkgs {
		rf[i] = rpminstall.RPMFile{Path: got.files[p], Key: p.Checksum.Type + ":" + p.Checksum.Value}
	}
	// Expanded payloads are kept in the cache beside the RPMs: a warm
	// build skips decompression (they are checked against the verified
	// header's digests on every use).
	if _, err := db.Install(ctx, rf, rpminstall.InstallOptions{Workers: cfg.Jobs, Scriptlets: true, PayloadCache: cfg.payloadCache()}); err != nil {
		return err
	}
	return nil
}

// installKernelFile installs the definition's kernel RPM file (none when
// k is nil) as VIC does: rpm2cpio | cpio -idm, its payload only, no
// scriptlets.
func installKernelFile(ctx context.Context, db *rpminstall.Installer, k *KernelFile, cfg installConfig) error {
	if k == nil {
		return nil
	}
	f := rpminstall.RPMFile{Path: k.Path, Key: k.Package.Checksum.Type + ":" + k.Package.Checksum.Value}
	if _, err := db.InstallRPM(ctx, f, rpminstall.InstallOptions{PayloadCache: cfg.payloadCache()}); err != nil {
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
		if err := tree.WriteFile(d.Path, d.Data, fi.Mode().Perm()); err != nil {
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

// decompressModules is depmod.Decompress with the results kept in the
// cache by the digest of the compressed module: a warm build does not
// decompress again. An entry's name carries the digest of its content,
// checked on every use.
func decompressModules(ctx context.Context, tree *rootfs.Tree, kver string, cfg installConfig) ([]depmod.Decompressed, error) {
	dir := filepath.Join(cfg.CacheDir, "modules")
	base := "lib/modules/" + kver
	var out []depmod.Decompressed
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
		data, err := tree.ReadFile(p)
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
		for _, d := range fresh {
			ps := sha256.Sum256(d.Data)
			name := filepath.Join(dir, missKey[d.Compressed]+"-"+hex.EncodeToString(ps[:]))
			if err := atomicfile.WriteFile(name, d.Data, 0o644); err != nil {
				cfg.Logger.Warn("module cache", "err", err)
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Compressed < out[j].Compressed })
	return out, nil
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
