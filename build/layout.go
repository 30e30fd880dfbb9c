package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/repos/vic"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/ldso"
	"github.com/vicroot/vicroot/rpmrepo"
)

func metaOf(fi fs.FileInfo) *fsmeta.Meta { return fsmeta.Of(fi) }

// putFile writes a file vicroot adds to the image, replacing whatever
// non-directory is at p: a symlink there (toybox ships an init applet link)
// is replaced, never written through.
func putFile(t *rootfs.Tree, p string, data []byte, perm fs.FileMode) error {
	if fi, err := t.Lstat(p); err == nil && !fi.IsDir() {
		if err := t.Remove(p); err != nil {
			return fmt.Errorf("build: replace %s: %w", p, err)
		}
	}
	if err := t.WriteFile(p, data, perm); err != nil {
		return fmt.Errorf("build: %s: %w", p, err)
	}
	return nil
}

// resolvesTo follows p's symlinks in the tree and returns the final path.
func resolvesTo(t *rootfs.Tree, p string) (string, bool) {
	p = relInTree(p)
	for i := 0; i < 40; i++ {
		fi, err := t.Lstat(p)
		if err != nil {
			return "", false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, true
		}
		target, err := t.ReadLink(p)
		if err != nil {
			return "", false
		}
		if path.IsAbs(target) {
			p = relInTree(target)
		} else {
			p = relInTree(path.Join(path.Dir(p), target))
		}
	}
	return "", false
}

// firstExisting returns the first candidate that exists in the tree
// (following symlinks), as an absolute image path, or "".
func firstExisting(t *rootfs.Tree, cands ...string) string {
	for _, c := range cands {
		if fi, err := t.Stat(relInTree(c)); err == nil && fi.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

// kmodModprobe finds the modprobe that is kmod's (busybox as /bin/sh runs
// its own applet for a bare "modprobe", which cannot read modules.dep.bin).
func kmodModprobe(t *rootfs.Tree) string {
	cands := []string{"/sbin/modprobe", "/usr/sbin/modprobe", "/bin/modprobe", "/usr/bin/modprobe"}
	for _, c := range cands {
		if real, ok := resolvesTo(t, c); ok && path.Base(real) == "kmod" {
			return c
		}
	}
	return firstExisting(t, cands...)
}

func (b *builder) readBin(name string) ([]byte, string, error) {
	p := filepath.Join(b.opts.BinDir, name)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", fmt.Errorf("build: %s: %w (build it, e.g. `make testbin` for the test tether, or point --bin at VIC's bin/)", p, err)
	}
	s := sha256.Sum256(data)
	return data, hex.EncodeToString(s[:]), nil
}

// bootstrapLayout adds VIC's bootstrap files to the tree (VIC.md §2.4):
// the repository files and keys, the package manager configuration,
// tether and unpack, /bin/init, /bin/bootstrap, /bin/repoinit, the
// systemd units, /.tempfs_size and /.tempfs_list.
func (b *builder) bootstrapLayout(ctx context.Context, kver string) (*TetherReport, error) {
	t, def := b.tree, b.def
	if err := t.MkdirAll("etc/yum.repos.d", 0o755); err != nil {
		return nil, err
	}
	for _, f := range def.RepoFiles {
		if err := putFile(t, "etc/yum.repos.d/"+f.Name, f.Data, 0o644); err != nil {
			return nil, err
		}
	}
	for _, k := range b.repos.imageKeys {
		if err := t.MkdirAll(path.Dir(relInTree(k.path)), 0o755); err != nil {
			return nil, err
		}
		if err := putFile(t, relInTree(k.path), k.armored, 0o644); err != nil {
			return nil, err
		}
	}
	pmPath, pmConf, err := vic.PackageManagerConf(def.Spec.PackageManager, def.Releasever)
	if err != nil {
		return nil, err
	}
	if err := t.MkdirAll(path.Dir(relInTree(pmPath)), 0o755); err != nil {
		return nil, err
	}
	if err := putFile(t, relInTree(pmPath), pmConf, 0o644); err != nil {
		return nil, err
	}

	// tether and unpack, checked against the image's kernel (PR #8333).
	tether, tsum, err := b.readBin("tether-linux")
	if err != nil {
		return nil, err
	}
	unpack, usum, err := b.readBin("unpack")
	if err != nil {
		return nil, err
	}
	b.tetherSum, b.unpackSum = tsum, usum
	binFS := os.DirFS(b.opts.BinDir)
	for _, n := range []string{"tether-linux", "unpack"} {
		if err := ldso.CheckKernel(ctx, binFS, n, kver); err != nil {
			return nil, fmt.Errorf("build: %s: %w", filepath.Join(b.opts.BinDir, n), err)
		}
	}
	if err := t.MkdirAll("bin", 0o755); err != nil {
		return nil, err
	}
	legacy := def.Init != nil && def.Init.Legacy
	// >>> init branches (issue 18, build/initbranches.go): the branch from
	// the tree as VIC chooses it, the bootstrap's switch made at run time.
	etcSystemd, _ := t.Stat("etc/systemd")
	branch := chooseBranch(etcSystemd != nil && etcSystemd.IsDir())
	shell := "/bin/sh"
	if legacy {
		shell = "/bin/bash"
	}
	bootstrap, err := withRuntimeSwitch(vic.Bootstrap())
	if err != nil {
		return nil, err
	}
	// <<< init branches
	for _, f := range []struct {
		p    string
		data []byte
	}{{"bin/tether", tether}, {"bin/unpack", unpack}, {"bin/init", initEntry(branch, shell)}, {"bin/bootstrap", bootstrap}} {
		if err := putFile(t, f.p, f.data, 0o755); err != nil {
			return nil, fmt.Errorf("build: %s: %w", f.p, err)
		}
	}
	if legacy {
		if err := def.CheckLegacyShell(func(p string) bool { _, err := t.Stat(relInTree(p)); return err == nil }); err != nil {
			return nil, err
		}
	}

	// systemd, when the image has it (VIC: if rootfs/etc/systemd exists),
	// else the SysV files; then the definition's init checked (issue 18).
	if branch == branchSystemd {
		if err := b.systemdLayout(); err != nil {
			return nil, err
		}
	} else if err := writeBootFiles(t, sysvFiles()); err != nil {
		return nil, err
	}
	if _, err := checkInit(def.Spec.Init, branch, treeLookup(t)); err != nil {
		return nil, err
	}

	// The /.tether plan and /bin/repoinit.
	km, err := readKernelModules(t, kver)
	if err != nil {
		return nil, err
	}
	ri, rep, err := planTether(ctx, t, tetherInput{Definition: def, Modules: km, TetherSize: int64(len(tether)), UnpackSize: int64(len(unpack))})
	if err != nil {
		return nil, err
	}
	ri.Modprobe = kmodModprobe(t)
	ri.Udevd = firstExisting(t, udevdCandidates(branch)...) // issue 18
	ri.Udevadm = firstExisting(t, "/usr/bin/udevadm", "/bin/udevadm", "/sbin/udevadm", "/usr/sbin/udevadm")
	if legacy {
		ri.Legacy = def.InitSH
	}
	script, err := ri.Script()
	if err != nil {
		return nil, err
	}
	if err := putFile(t, "bin/repoinit", script, 0o755); err != nil {
		return nil, err
	}
	if err := putFile(t, ".tempfs_size", []byte(strconv.Itoa(ri.TempfsMB)+"\n"), 0o644); err != nil {
		return nil, err
	}
	var list strings.Builder
	for _, c := range append(append([]vic.Copy(nil), ri.Iptables...), ri.Entropy...) {
		fmt.Fprintf(&list, "%s /.tether/%s\n", c.Src, c.Dst)
	}
	if err := putFile(t, ".tempfs_list", []byte(list.String()), 0o644); err != nil {
		return nil, err
	}
	return rep, nil
}

// systemdLayout installs tether.service and vic.target, makes vic.target
// the default, and leaves networkd without DHCP (VIC.md §2.4).
func (b *builder) systemdLayout() error {
	t := b.tree
	for _, d := range []string{"etc/systemd/system/vic.target.wants", "etc/systemd/network"} {
		if err := t.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	files := []struct {
		p    string
		data []byte
	}{
		{"etc/systemd/system/tether.service", tetherService()}, // issue 18
		{"etc/systemd/system/vic.target", vic.VicTarget()},
	}
	for _, f := range files {
		if err := putFile(t, f.p, f.data, 0o644); err != nil {
			return err
		}
	}
	for _, l := range []struct{ target, p string }{
		{"/etc/systemd/system/tether.service", "etc/systemd/system/vic.target.wants/tether.service"},
		{"/etc/systemd/system/vic.target", "etc/systemd/system/default.target"},
	} {
		_ = t.Remove(l.p)
		if err := t.Symlink(l.target, l.p); err != nil {
			return err
		}
	}
	for _, p := range []string{
		"etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
		"etc/systemd/system/sockets.target.wants/systemd-networkd.socket",
		"etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service",
	} {
		_ = t.Remove(p)
	}
	if ents, err := fs.ReadDir(t, "etc/systemd/network"); err == nil {
		for _, e := range ents {
			_ = t.RemoveAll("etc/systemd/network/" + e.Name())
		}
	}
	return putFile(t, "etc/systemd/network/no-dhcp.network", vic.NoDHCPNetwork(), 0o644)
}

// bootLoaderPackage picks the repository's syslinux package: resolved and
// verified like any package, but not installed into the initramfs.
func (b *builder) bootLoaderPackage(ctx context.Context, lock *resolver.Lock) (*rpmrepo.Package, error) {
	plan, err := b.solve(ctx, resolver.Request{Install: []string{"syslinux"}, Lock: lock})
	if err != nil {
		return nil, fmt.Errorf("build: the boot loader comes from the repository's syslinux package (or --isolinux DIR): %w", err)
	}
	for _, p := range plan.Packages {
		if p.Name == "syslinux" {
			return p, nil
		}
	}
	return nil, fmt.Errorf("build: no package named syslinux in the repositories (give --isolinux DIR)")
}

// bootLoader writes /boot/isolinux of the ISO: isolinux.bin (and
// ldlinux.c32 for syslinux ≥ 5) from the syslinux package or --isolinux,
// isolinux.cfg and boot.msg.
func (b *builder) bootLoader(ctx context.Context, bootfs *rootfs.Tree, syslinux *rpmrepo.Package, files map[*rpmrepo.Package]string) error {
	found := map[string][]byte{}
	if b.opts.IsolinuxDir != "" {
		for _, n := range []string{"isolinux.bin", "ldlinux.c32"} {
			data, err := os.ReadFile(filepath.Join(b.opts.IsolinuxDir, n))
			if err == nil {
				found[n] = data
			} else if n == "isolinux.bin" {
				return fmt.Errorf("build: --isolinux: %w", err)
			}
		}
	} else {
		scratch := rootfs.New()
		if _, err := scratch.InstallRPM(ctx, rootfs.RPMFile{Path: files[syslinux]}, rootfs.InstallOptions{}); err != nil {
			return fmt.Errorf("build: boot loader %s: %w", syslinux.NEVRA(), err)
		}
		err := fs.WalkDir(scratch, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			n := path.Base(p)
			if (n == "isolinux.bin" || n == "ldlinux.c32") && found[n] == nil && d.Type().IsRegular() {
				data, err := scratch.ReadFile(p)
				if err != nil {
					return err
				}
				found[n] = data
			}
			return nil
		})
		if err != nil {
			return err
		}
		if found["isolinux.bin"] == nil {
			return fmt.Errorf("build: %s ships no isolinux.bin", syslinux.NEVRA())
		}
	}
	if err := bootfs.MkdirAll(iso.IsolinuxDir, 0o755); err != nil {
		return err
	}
	if err := bootfs.WriteFile(iso.IsolinuxBin, found["isolinux.bin"], 0o644); err != nil {
		return err
	}
	if data := found["ldlinux.c32"]; data != nil {
		if err := bootfs.WriteFile(iso.LdlinuxC32, data, 0o644); err != nil {
			return err
		}
	}
	// issue 18: rd.systemd.unit=vic.target when systemd is PID 1.
	systemdPID1 := systemdInit(b.def.Spec.Init, treeLookup(b.tree))
	cfg, err := iso.IsolinuxConfig(iso.BootConfig{Init: b.def.Spec.Init, Extra: initBootArgs(systemdPID1, b.opts.BootArgs)})
	if err != nil {
		return err
	}
	if err := bootfs.WriteFile(iso.IsolinuxCfg, cfg, 0o644); err != nil {
		return err
	}
	return bootfs.WriteFile(iso.BootMsgPath, iso.BootMsg(b.version()), 0o644)
}

// Inputs is what an ISO records of its build besides the lock and the
// definition: enough for `vicroot verify` to rebuild it.
type Inputs struct {
	Definition      string   `json:"definition"`
	Version         string   `json:"version"`
	SourceDateEpoch int64    `json:"source_date_epoch"`
	TetherSHA256    string   `json:"tether_sha256"`
	UnpackSHA256    string   `json:"unpack_sha256"`
	BootArgs        []string `json:"boot_args,omitempty"`
	NoWeakDeps      bool     `json:"no_weak_deps,omitempty"`
}

// records writes /boot/vicroot/: the lock, the effective definition, the
// inputs and the initramfs manifest.
func (b *builder) records(bootfs *rootfs.Tree, lock, manifest []byte) error {
	if err := bootfs.MkdirAll(RecordDir, 0o755); err != nil {
		return err
	}
	eff, err := b.def.Effective()
	if err != nil {
		return err
	}
	in, err := json.MarshalIndent(Inputs{
		Definition: b.def.Name, Version: b.version(), SourceDateEpoch: b.epoch.Unix(),
		TetherSHA256: b.tetherSum, UnpackSHA256: b.unpackSum, BootArgs: b.opts.BootArgs, NoWeakDeps: b.opts.NoWeakDeps,
	}, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		p    string
		data []byte
	}{
		{RecordDir + "/lock.json", lock},
		{RecordDir + "/definition.json", eff},
		{RecordDir + "/inputs.json", append(in, '\n')},
		{ManifestPath, manifest},
	}
	// The definition itself and the --gpgkey files, so that verify can
	// rebuild from the ISO alone.
	names, err := b.def.Files()
	if err != nil {
		return err
	}
	for _, n := range names {
		data, err := fs.ReadFile(b.def.FS, n)
		if err != nil {
			return fmt.Errorf("build: recording the definition: %w", err)
		}
		files = append(files, struct {
			p    string
			data []byte
		}{RecordDir + "/definition/" + n, data})
	}
	for i, k := range b.opts.GPGKeys {
		data, err := os.ReadFile(k)
		if err != nil {
			return err
		}
		files = append(files, struct {
			p    string
			data []byte
		}{fmt.Sprintf("%s/gpgkeys/%02d-%s", RecordDir, i, filepath.Base(k)), data})
	}
	for _, f := range files {
		if err := bootfs.MkdirAll(path.Dir(f.p), 0o755); err != nil {
			return err
		}
		if err := bootfs.WriteFile(f.p, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runHook runs base.sh or staging.sh on the tree.
func (b *builder) runHook(ctx context.Context, name string, script []byte) error {
	if script == nil {
		return nil
	}
	b.report.Hooks = append(b.report.Hooks, name)
	return runTreeHook(ctx, b.tree, b.def, name, script)
}
