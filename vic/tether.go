package vic

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rootfs/ldso"
)

// TetherReport is what the build report says of /.tether.
type TetherReport struct {
	Mode       string   `json:"mode"`
	Entropy    string   `json:"entropy_command,omitempty"`
	Files      []Copy   `json:"files"`
	XtablesDir string   `json:"xtables_dir,omitempty"`
	Modules    []string `json:"modules"`
	TempfsMB   int64    `json:"tempfs_mb"`
	TempfsUsed int64    `json:"tempfs_bytes"`
}

// ErrMissingDrivers is returned when init.sh names drivers the kernel lacks.
var ErrMissingDrivers = errors.New("drivers missing from the kernel")

// kernelModules is what the image's kernel offers: loadable modules by
// name and built-ins, read from the depmod outputs in the tree.
type kernelModules struct {
	modules  map[string]string // name -> path relative to lib/modules/KVER
	builtin  map[string]bool
	aliases  map[string][]string // alias -> module names
	kver     string
	fileSize map[string]int64 // every file under lib/modules/KVER, for the tmpfs size
}

func modName(p string) string {
	b := path.Base(p)
	for _, suf := range []string{".xz", ".gz", ".zst"} {
		b = strings.TrimSuffix(b, suf)
	}
	b = strings.TrimSuffix(b, ".ko")
	return strings.ReplaceAll(b, "-", "_")
}

func readKernelModules(fsys fs.FS, kver string) (*kernelModules, error) {
	km := &kernelModules{modules: map[string]string{}, builtin: map[string]bool{}, aliases: map[string][]string{}, kver: kver, fileSize: map[string]int64{}}
	base := "lib/modules/" + kver
	dep, err := fs.ReadFile(fsys, base+"/modules.dep")
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", kver, err)
	}
	for _, line := range strings.Split(string(dep), "\n") {
		if i := strings.IndexByte(line, ':'); i > 0 {
			km.modules[modName(line[:i])] = line[:i]
		}
	}
	if b, err := fs.ReadFile(fsys, base+"/modules.builtin"); err == nil {
		for _, line := range strings.Fields(string(b)) {
			km.builtin[modName(line)] = true
		}
	}
	if b, err := fs.ReadFile(fsys, base+"/modules.alias"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "alias" {
				km.aliases[f[1]] = append(km.aliases[f[1]], f[2])
			}
		}
	}
	err = fs.WalkDir(fsys, base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			km.fileSize[strings.TrimPrefix(p, base+"/")] = fi.Size()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", kver, err)
	}
	return km, nil
}

// has reports whether name is a module or built into the kernel.
func (km *kernelModules) has(name string) bool {
	n := strings.ReplaceAll(name, "-", "_")
	return km.modules[n] != "" || km.builtin[n]
}

// bootModules is every module the boot loads, in order: VIC's fixed list
// where the kernel has it, then sd_mod and ext4 (the container disk's
// driver and filesystem, when they are modules), the definition's drivers (all must exist), then
// the modules iptables' extensions need, found through modules.alias
// (xt_tcp -> xt_tcpudp), since nothing can be loaded after switch_root.
func (km *kernelModules) bootModules(drivers, extensions []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, m := range FixedModules {
		if km.has(m) {
			add(m)
		}
	}
	// The container disk needs its SCSI disk driver and filesystem before
	// the mount; Photon builds them in, Debian's kernel has them as
	// modules, and udev loads sd_mod only where its 80-drivers.rules is.
	for _, m := range []string{"sd_mod", "ext4"} {
		if km.modules[m] != "" {
			add(m)
		}
	}
	var missing []string
	for _, d := range drivers {
		if km.has(d) {
			add(d)
		} else if len(km.aliases[d]) > 0 {
			add(d) // modprobe resolves the alias
		} else {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: init.sh names %s, which kernel %s has neither as a module nor built in", ErrMissingDrivers, strings.Join(missing, ", "), km.kver)
	}
	for _, ext := range extensions {
		b := strings.TrimSuffix(path.Base(ext), ".so")
		var alias string
		switch {
		case strings.HasPrefix(b, "libxt_"):
			alias = "xt_" + strings.TrimPrefix(b, "libxt_")
		case strings.HasPrefix(b, "libipt_"):
			alias = "ipt_" + strings.TrimPrefix(b, "libipt_")
		case strings.HasPrefix(b, "libip6t_"):
			alias = "ip6t_" + strings.TrimPrefix(b, "libip6t_")
		default:
			continue
		}
		if km.modules[alias] != "" {
			add(alias)
			continue
		}
		mods := append([]string(nil), km.aliases[alias]...)
		sort.Strings(mods)
		for _, m := range mods {
			if km.modules[m] != "" {
				add(m)
			}
		}
	}
	return out, nil
}

// tetherInput is what planTether needs besides the tree.
type tetherInput struct {
	Definition *repos.Definition
	Modules    *kernelModules
	TetherSize int64 // bytes of bin/tether and bin/unpack
	UnpackSize int64
}

func absInTree(p string) string { return "/" + strings.TrimPrefix(path.Clean("/"+p), "/") }
func relInTree(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// planTether computes /bin/repoinit's plan: the ELF closure of the
// iptables and entropy binaries (and of every dlopen'ed iptables
// extension) in the tree, where each file goes under /.tether, the modules
// to load and the tmpfs size.
func planTether(ctx context.Context, fsys fs.FS, in tetherInput) (*RepoInit, *TetherReport, error) {
	def := in.Definition
	exists := func(p string) bool {
		_, err := fs.Stat(fsys, relInTree(p))
		return err == nil
	}
	plan, err := def.Tether().Resolve(exists)
	if err != nil {
		return nil, nil, fmt.Errorf("/.tether: %w", err)
	}
	ri := &RepoInit{Definition: def.Name, Drivers: def.Init.Drivers}
	rep := &TetherReport{Mode: plan.Mode}
	// A legacy init.sh copies with its own globs at boot; the tmpfs is
	// sized as if the default plan ran, which VIC's globs cover, with
	// every versioned library name counted too (cp -Ln of libfoo.so*).
	legacy := plan.Mode == repos.TetherLegacy
	if legacy {
		sizing := repos.TetherPlan{Mode: repos.TetherDefault, Entropy: repos.DefaultEntropy()}
		if sp, err := sizing.Resolve(exists); err == nil {
			plan.Entropy = sp.Entropy
		}
	}

	var roots []string
	var iptables, entropy string
	if plan.Iptables != nil && plan.Iptables.Binary != "" {
		iptables = absInTree(plan.Iptables.Binary)
		roots = append(roots, iptables)
	} else if exists(repos.DefaultIptables) {
		iptables = repos.DefaultIptables
		roots = append(roots, iptables)
	}
	if len(plan.Entropy) > 0 {
		entropy = absInTree(plan.Entropy[0].Binary)
		roots = append(roots, entropy)
	}
	var extra []string
	for _, e := range plan.Extra {
		extra = append(extra, absInTree(e))
	}
	closure, err := ldso.Resolve(ctx, fsys, roots, ldso.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("/.tether closure of %s: %w", strings.Join(roots, ", "), err)
	}
	objs := []*ldso.Closure{closure}
	var extensions []string
	if iptables != "" {
		for _, o := range closure.Objects {
			if strings.HasPrefix(o.Soname, "libxtables.so") {
				dir, err := ldso.XtablesDir(ctx, fsys, o.Path)
				if err != nil {
					return nil, nil, fmt.Errorf("/.tether: %w", err)
				}
				rep.XtablesDir = dir
				if extensions, err = ldso.Extensions(ctx, fsys, dir); err != nil {
					return nil, nil, fmt.Errorf("/.tether: %w", err)
				}
				break
			}
		}
	}
	if len(extensions) > 0 {
		interp := ""
		for _, o := range closure.Objects {
			if o.Root && o.Interp != "" {
				interp = o.Interp
				break
			}
		}
		ec, err := ldso.Resolve(ctx, fsys, extensions, ldso.Options{Interp: interp})
		if err != nil {
			return nil, nil, fmt.Errorf("/.tether closure of the iptables extensions in %s: %w", rep.XtablesDir, err)
		}
		objs = append(objs, ec)
	}

	// Where every object goes. The loader finds libraries in /.tether/lib64
	// by the DT_NEEDED name (soname), and chrooted iptables finds them via
	// /lib -> lib64.
	copies := map[string]Copy{} // by Dst
	addCopy := func(src, dst string) error {
		fi, err := fs.Stat(fsys, relInTree(src))
		if err != nil {
			return fmt.Errorf("/.tether: %s: %w", src, err)
		}
		if c, ok := copies[dst]; ok && c.Src != src {
			return fmt.Errorf("/.tether: both %s and %s would be copied to %s", c.Src, src, dst)
		}
		mode := fi.Mode().Perm()
		if mode == 0 {
			mode = 0o644
		}
		copies[dst] = Copy{Src: src, Dst: dst, Mode: mode}
		return nil
	}
	for _, c := range objs {
		for _, o := range c.Objects {
			for _, d := range o.Deps {
				if err := addCopy(d.Path, "lib64/"+d.Name); err != nil {
					return nil, nil, err
				}
			}
			if o.Interp != "" {
				if err := addCopy(o.Interp, "lib64/"+path.Base(o.Interp)); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	var legacyExtra []ldso.TmpfsEntry
	if legacy {
		for _, c := range objs {
			for _, o := range c.Objects {
				dst := "lib64/" + path.Base(o.Path)
				if _, dup := copies[dst]; o.Root || dup {
					continue
				}
				fi, err := fs.Stat(fsys, relInTree(o.Path))
				if err != nil {
					return nil, nil, fmt.Errorf("/.tether: %s: %w", o.Path, err)
				}
				legacyExtra = append(legacyExtra, ldso.TmpfsEntry{Path: dst, Size: fi.Size()})
			}
		}
	}
	if iptables != "" {
		if err := addCopy(iptables, "bin/"+path.Base(iptables)); err != nil {
			return nil, nil, err
		}
	}
	for _, e := range extensions {
		if err := addCopy(e, relInTree(e)); err != nil {
			return nil, nil, err
		}
	}
	var entropyCopies []Copy
	if entropy != "" {
		dst := "bin/" + path.Base(entropy)
		fi, err := fs.Stat(fsys, relInTree(entropy))
		if err != nil {
			return nil, nil, fmt.Errorf("/.tether: %s: %w", entropy, err)
		}
		entropyCopies = append(entropyCopies, Copy{Src: entropy, Dst: dst, Mode: fi.Mode().Perm()})
		args := plan.Entropy[0].Args
		ri.EntropyCmd = "/.tether/lib64/ld-linux-x86-64.so.2 --library-path /.tether/lib64 /.tether/" + dst
		if args != "" {
			ri.EntropyCmd += " " + args
		}
	}
	for _, e := range extra {
		if err := addCopy(e, relInTree(e)); err != nil {
			return nil, nil, err
		}
	}
	dsts := make([]string, 0, len(copies))
	for d := range copies {
		dsts = append(dsts, d)
	}
	sort.Strings(dsts)
	for _, d := range dsts {
		ri.Iptables = append(ri.Iptables, copies[d])
	}
	ri.Entropy = entropyCopies
	ri.Dirs = []string{"bin", "lib64", "opt/config", "run"}

	// Modules.
	ri.Modules, err = in.Modules.bootModules(def.Init.Drivers, extensions)
	if err != nil {
		return nil, nil, err
	}

	// The tmpfs: everything the boot copies, in pages.
	var entries []ldso.TmpfsEntry
	for _, c := range append(append([]Copy(nil), ri.Iptables...), ri.Entropy...) {
		fi, _ := fs.Stat(fsys, relInTree(c.Src))
		entries = append(entries, ldso.TmpfsEntry{Path: c.Dst, Size: fi.Size()})
	}
	entries = append(entries, legacyExtra...)
	for p, sz := range in.Modules.fileSize {
		entries = append(entries, ldso.TmpfsEntry{Path: "lib64/modules/" + in.Modules.kver + "/" + p, Size: sz})
	}
	entries = append(entries,
		ldso.TmpfsEntry{Path: "tether", Size: in.TetherSize},
		ldso.TmpfsEntry{Path: "unpack", Size: in.UnpackSize},
		ldso.TmpfsEntry{Path: "tether-debug", Mode: fs.ModeSymlink},
		ldso.TmpfsEntry{Path: "lib", Mode: fs.ModeSymlink},
		ldso.TmpfsEntry{Path: "bin/iptables-wrapper", Size: 80},
		ldso.TmpfsEntry{Path: "opt/config/entropy.txt", Size: int64(len(ri.EntropyCmd) + 1)},
		ldso.TmpfsEntry{Path: "run/xtables.lock", Size: 0},
	)
	for _, d := range ri.Dirs {
		entries = append(entries, ldso.TmpfsEntry{Path: d, Mode: fs.ModeDir})
	}
	used, mb := ldso.TmpfsSize(entries)
	ri.TempfsMB = int(mb)

	rep.Entropy = ri.EntropyCmd
	rep.Files = append(append([]Copy(nil), ri.Iptables...), ri.Entropy...)
	rep.Modules = ri.Modules
	rep.TempfsMB = mb
	rep.TempfsUsed = used
	return ri, rep, nil
}
