package vic

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/internal/fspath"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rootfs"
)

// FS is the writable tree a layout is written into (the pipeline passes
// its in-memory root filesystem): an fs.FS that does not follow a final
// symlink in Lstat/ReadLink and can be changed.
type FS interface {
	fs.StatFS
	Lstat(name string) (fs.FileInfo, error)
	ReadLink(name string) (string, error)
	MkdirAll(name string, perm fs.FileMode) error
	WriteFile(name string, data []byte, perm fs.FileMode) error
	Symlink(target, name string) error
	Remove(name string) error
	RemoveAll(name string) error
}

// ImageKey is a key file the image carries at Path (gpgkey=file:///Path).
type ImageKey struct {
	Path    string
	Armored []byte
}

// BootstrapInput is what the bootstrap layout needs besides the tree.
type BootstrapInput struct {
	Definition *repos.Definition
	// Kernel is the kernel version under /lib/modules (depmod has run).
	Kernel string
	// Keys are the repository keys the image carries, sorted by path.
	Keys []ImageKey
	// Tether and Unpack are VIC's bin/tether-linux and bin/unpack; a
	// tree that takes content as it is (a *rootfs.Tree) keeps these
	// slices, which must not change after.
	Tether, Unpack []byte
}

// BootstrapLayout adds the containerVM's files to a tree that holds the
// installed packages (README.md, "How a build goes"): the repository files
// and keys, the package manager configuration, tether and unpack,
// /bin/init, /bin/bootstrap, /bin/repoinit with the /.tether plan, the
// systemd units when the image has systemd, /.tempfs_size and
// /.tempfs_list. It returns what the report says of /.tether.
//
// The appliance (the endpointVM) has its own layout, ApplianceLayout.
func BootstrapLayout(ctx context.Context, t FS, in BootstrapInput) (*TetherReport, error) {
	def := in.Definition
	if err := packageManagerFiles(t, def, in.Keys); err != nil {
		return nil, err
	}

	if err := t.MkdirAll("bin", 0o755); err != nil {
		return nil, err
	}
	legacy := def.Init != nil && def.Init.Legacy
	// VIC's two boot branches (initbranches.go): the branch from the tree
	// as VIC chooses it, the bootstrap's way out chosen at run time.
	etcSystemd, _ := t.Stat("etc/systemd")
	branch := chooseBranch(etcSystemd != nil && etcSystemd.IsDir())
	shell := "/bin/sh"
	if legacy {
		shell = "/bin/bash"
	}
	bootstrap, err := withRuntimeSwitch(BootstrapScript())
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		p    string
		data []byte
	}{{"bin/tether", in.Tether}, {"bin/unpack", in.Unpack}, {"bin/init", initEntry(branch, shell)}, {"bin/bootstrap", bootstrap}} {
		if err := putOwned(t, f.p, f.data, 0o755); err != nil {
			return nil, err
		}
	}
	if legacy {
		if err := def.CheckLegacyShell(func(p string) bool { _, err := t.Stat(relInTree(p)); return err == nil }); err != nil {
			return nil, err
		}
	}

	// systemd, when the image has it (VIC: if rootfs/etc/systemd exists),
	// else the SysV files; then the definition's init is checked.
	if branch == branchSystemd {
		if err := systemdLayout(t); err != nil {
			return nil, err
		}
	} else if err := writeBootFiles(t, sysvFiles()); err != nil {
		return nil, err
	}
	if _, err := checkInit(def.Spec.Init, branch, treeLookup(t)); err != nil {
		return nil, err
	}

	// The /.tether plan and /bin/repoinit.
	km, err := readKernelModules(t, in.Kernel)
	if err != nil {
		return nil, err
	}
	ri, rep, err := planTether(ctx, t, tetherInput{Definition: def, Modules: km, TetherSize: int64(len(in.Tether)), UnpackSize: int64(len(in.Unpack))})
	if err != nil {
		return nil, err
	}
	ri.Modprobe = kmodModprobe(t)
	ri.Udevd = firstExisting(t, udevdCandidates(branch)...)
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
	for _, c := range append(append([]Copy(nil), ri.Iptables...), ri.Entropy...) {
		fmt.Fprintf(&list, "%s /.tether/%s\n", c.Src, c.Dst)
	}
	if err := putFile(t, ".tempfs_list", []byte(list.String()), 0o644); err != nil {
		return nil, err
	}
	return rep, nil
}

// packageManagerFiles are what VIC's setup_pm leaves in both images: the
// definition's .repo files, the repository keys at their image paths, and
// the package manager's configuration.
func packageManagerFiles(t FS, def *repos.Definition, keys []ImageKey) error {
	if err := t.MkdirAll("etc/yum.repos.d", 0o755); err != nil {
		return err
	}
	for _, f := range def.RepoFiles {
		if err := putFile(t, "etc/yum.repos.d/"+f.Name, f.Data, 0o644); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if err := t.MkdirAll(path.Dir(relInTree(k.Path)), 0o755); err != nil {
			return err
		}
		if err := putFile(t, relInTree(k.Path), k.Armored, 0o644); err != nil {
			return err
		}
	}
	pmPath, pmConf, err := PackageManagerConf(def.Spec.PackageManager, def.Releasever)
	if err != nil {
		return err
	}
	if err := t.MkdirAll(path.Dir(relInTree(pmPath)), 0o755); err != nil {
		return err
	}
	return putFile(t, relInTree(pmPath), pmConf, 0o644)
}

// systemdLayout installs tether.service and vic.target, makes vic.target
// the default, and leaves networkd without DHCP, as VIC's bootstrap
// staging does.
func systemdLayout(t FS) error {
	for _, d := range []string{"etc/systemd/system/vic.target.wants", "etc/systemd/network"} {
		if err := t.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	files := []struct {
		p    string
		data []byte
	}{
		{"etc/systemd/system/tether.service", tetherService()},
		{"etc/systemd/system/vic.target", VicTarget()},
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
	return putFile(t, "etc/systemd/network/no-dhcp.network", NoDHCPNetwork(), 0o644)
}

// putFile writes a file vicroot adds to the image, replacing whatever
// non-directory is at p: a symlink there (toybox ships an init applet link)
// is replaced, never written through.
func putFile(t FS, p string, data []byte, perm fs.FileMode) error {
	return put(t, p, data, perm, false)
}

// contentWriter is a tree that takes file content without copying it.
type contentWriter interface {
	WriteContent(name string, c rootfs.Content, perm fs.FileMode) error
}

// putOwned is putFile for data the tree may keep: megabytes of VIC's
// binaries are not copied.
func putOwned(t FS, p string, data []byte, perm fs.FileMode) error {
	return put(t, p, data, perm, true)
}

func put(t FS, p string, data []byte, perm fs.FileMode, owned bool) error {
	if fi, err := t.Lstat(p); err == nil && !fi.IsDir() {
		if err := t.Remove(p); err != nil {
			return fmt.Errorf("replace %s: %w", p, err)
		}
	}
	var err error
	if cw, ok := t.(contentWriter); ok && owned {
		err = cw.WriteContent(p, rootfs.Bytes(data), perm)
	} else {
		err = t.WriteFile(p, data, perm)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// firstExisting returns the first candidate that exists in the tree
// (following symlinks), as an absolute image path, or "".
func firstExisting(t FS, cands ...string) string {
	for _, c := range cands {
		if fi, err := t.Stat(relInTree(c)); err == nil && fi.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

// kmodModprobe finds the modprobe that is kmod's (busybox as /bin/sh runs
// its own applet for a bare "modprobe", which cannot read modules.dep.bin).
func kmodModprobe(t FS) string {
	cands := []string{"/sbin/modprobe", "/usr/sbin/modprobe", "/bin/modprobe", "/usr/bin/modprobe"}
	for _, c := range cands {
		if r, err := fspath.Resolve(t, c, true); err == nil && path.Base(r.Path) == "kmod" {
			return c
		}
	}
	return firstExisting(t, cands...)
}
