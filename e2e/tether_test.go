package e2e_test

// Acceptance tests of the /.tether closure (issue 7), against the image's
// own loader, shell and iptables: vicroot's bootstrap initramfs is written
// out with xorriso and GNU cpio, and everything runs chrooted into it.

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/fspath"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// tetherHostModules are the host kernel's netfilter modules the iptables
// rules below need; the test's iptables runs on the host kernel.
var tetherHostModules = []string{"nf_conntrack", "xt_conntrack", "iptable_nat", "xt_REDIRECT", "xt_tcpudp", "iptable_filter"}

// TestTetherClosure builds one bootstrap ISO per definition kind, writes
// its initramfs out, and checks the /.tether plan against the image: the
// list against the image's loader, the image's install_iptables and
// install_entropy run by the image's shell, the result run as VIC's tether
// runs it, and the result's fit in /.tempfs_size.
func TestTetherClosure(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "xorriso", "cpio", "chroot", "ip", "unshare", "mount", "cp", "df", "sh", "iptables-legacy", "modprobe")
	repo := testrepo.Dir(t)
	modlog := ttLoadHostModules(t)

	t.Run("generated", func(t *testing.T) {
		iso := buildISO(t, repo, definition(t, repo, nil, plainInit), t.TempDir())
		tree := ttExtractInitramfs(t, iso)
		list := ttReadTempfsList(t, tree)
		t.Run("closure", func(t *testing.T) { ttCheckClosure(t, tree, list) })
		t.Run("modules", func(t *testing.T) { ttCheckModules(t, tree) })
		t.Run("install", func(t *testing.T) {
			dir := ttRunInstall(t, tree, "/bin/sh", false)
			ttCheckInstalledLayout(t, tree, dir, list)
			ttCheckIptables(t, dir, "gen", modlog)
			ttCheckEntropy(t, dir)
			ttCheckTempfsFit(t, tree, dir, iso+".report.json", true)
		})
	})

	// Absolute library links into a directory the host lacks
	// (/opt/vicroot-abs): the closure must follow them in the tree, never
	// on the host, and the copies must still be the files' contents.
	t.Run("absolute-links", func(t *testing.T) {
		def := definition(t, repo, nil, plainInit)
		staging := `ma=rootfs/usr/lib/x86_64-linux-gnu
mkdir -p rootfs/opt/vicroot-abs
for l in libhavege.so.2 libxtables.so.12; do
	real=$(readlink $ma/$l)
	mv $ma/$real rootfs/opt/vicroot-abs/$real
	rm -f $ma/$l
	ln -s /opt/vicroot-abs/$real $ma/$l
done
`
		if err := os.WriteFile(filepath.Join(def, "staging.sh"), []byte(staging), 0o644); err != nil {
			t.Fatal(err)
		}
		iso := buildISO(t, repo, def, t.TempDir())
		tree := ttExtractInitramfs(t, iso)
		for _, l := range []string{"libhavege.so.2", "libxtables.so.12"} {
			p := "/usr/lib/x86_64-linux-gnu/" + l
			if target, err := os.Readlink(filepath.Join(tree, p)); err != nil || !strings.HasPrefix(target, "/opt/vicroot-abs/") {
				t.Fatalf("staging.sh did not make %s an absolute link: %q %v", p, target, err)
			}
		}
		list := ttReadTempfsList(t, tree)
		ttCheckClosure(t, tree, list)
		dir := ttRunInstall(t, tree, "/bin/sh", false)
		ttCheckInstalledLayout(t, tree, dir, list)
		ttCheckIptables(t, dir, "abs", modlog)
		ttCheckEntropy(t, dir)
	})

	// The test repository's own definition, unmodified: a legacy init.sh
	// with VIC's bash functions, shipped verbatim.
	t.Run("legacy", func(t *testing.T) {
		iso := buildISO(t, repo, definition(t, repo, nil, nil), t.TempDir())
		tree := ttExtractInitramfs(t, iso)
		dir := ttRunInstall(t, tree, "/bin/bash", true)
		ttCheckIptables(t, dir, "legacy", modlog)
		ttCheckEntropy(t, dir)
		ttCheckTempfsFit(t, tree, dir, iso+".report.json", false)
	})
}

// ttLoadHostModules modprobes the netfilter modules on the host and returns
// what modprobe said, for failure messages: a kernel with them built in
// (no module support) makes modprobe fail harmlessly, and a kernel that
// truly lacks them makes the iptables steps fail, with this log.
func ttLoadHostModules(t *testing.T) string {
	t.Helper()
	var log strings.Builder
	for _, m := range tetherHostModules {
		out, err := exec.Command("modprobe", m).CombinedOutput()
		if err != nil {
			fmt.Fprintf(&log, "modprobe %s: %v: %s\n", m, err, bytes.TrimSpace(out))
		}
	}
	if log.Len() > 0 {
		t.Logf("host modules (built in, or missing):\n%s", log.String())
	}
	return log.String()
}

// ttExtractInitramfs writes the ISO's /boot/core.gz out as root with
// xorriso and GNU cpio and returns the directory.
func ttExtractInitramfs(t *testing.T, iso string) string {
	t.Helper()
	if out, err := exec.Command("cpio", "--version").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("GNU cpio")) {
		t.Fatalf("cpio is not GNU cpio: %v %s", err, out)
	}
	work := t.TempDir()
	core := filepath.Join(work, "core.gz")
	if out, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/boot/core.gz", core).CombinedOutput(); err != nil {
		t.Fatalf("xorriso -extract /boot/core.gz: %v\n%s", err, out)
	}
	f, err := os.Open(core)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", core, err)
	}
	tree := filepath.Join(work, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cpio", "-idm", "--quiet")
	cmd.Dir = tree
	cmd.Stdin = zr
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -idm: %v\n%s", err, out)
	}
	return tree
}

// ttTempfsEntry is one line of /.tempfs_list: Src in the image, Dst
// relative to /.tether.
type ttTempfsEntry struct{ Src, Dst string }

func ttReadTempfsList(t *testing.T, tree string) []ttTempfsEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tree, ".tempfs_list"))
	if err != nil {
		t.Fatal(err)
	}
	var list []ttTempfsEntry
	seen := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.Split(line, " ")
		if len(f) != 2 || !path.IsAbs(f[0]) || !strings.HasPrefix(f[1], "/.tether/") {
			t.Fatalf("/.tempfs_list line %d %q: want \"SRC /.tether/DST\"", i+1, line)
		}
		dst := strings.TrimPrefix(f[1], "/.tether/")
		if prev, ok := seen[dst]; ok {
			t.Errorf("/.tempfs_list: /.tether/%s listed twice (%s, %s)", dst, prev, f[0])
		}
		seen[dst] = f[0]
		list = append(list, ttTempfsEntry{Src: f[0], Dst: dst})
	}
	if len(list) == 0 {
		t.Fatal("/.tempfs_list is empty")
	}
	return list
}

// ttResolveIn resolves p's symlinks inside root (absolute links are relative
// to root, never the host) and returns the image path of the final file.
func ttResolveIn(root, p string) (string, error) {
	r, err := fspath.Resolve(os.DirFS(root), p, true)
	if err != nil {
		return "", fmt.Errorf("resolve %s in the tree: %w", p, err)
	}
	return r.Path, nil
}

func ttMustResolve(t *testing.T, root, p string) string {
	t.Helper()
	r, err := ttResolveIn(root, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ttLoaderLib is one library the loader reported for a binary: Name is the
// DT_NEEDED name (the loader's own path for the interpreter line), Path
// where it found it in the tree.
type ttLoaderLib struct {
	Name, Path string
	Interp     bool
}

var ttLoaderAddr = regexp.MustCompile(`^\(0x[0-9a-f]+\)$`)

// ttLoaderList runs the image's own loader on bin, chrooted into the tree
// with the cache inhibited, and parses its `--list` output.
func ttLoaderList(t *testing.T, tree, bin string) []ttLoaderLib {
	t.Helper()
	cmd := exec.Command("chroot", tree, "/lib64/ld-linux-x86-64.so.2", "--inhibit-cache", "--list", bin)
	cmd.Env = []string{}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chroot %s ld.so --list %s: %v\n%s%s", tree, bin, err, out.String(), errb.String())
	}
	var libs []ttLoaderLib
	for _, line := range strings.Split(out.String(), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "linux-vdso.so"), strings.HasPrefix(line, "linux-gate.so"):
		case strings.Contains(line, " => "):
			name, rest, _ := strings.Cut(line, " => ")
			f := strings.Fields(rest)
			if len(f) == 0 || rest == "not found" || strings.HasPrefix(rest, "not found") {
				t.Errorf("the image's loader cannot find %s for %s: %q", name, bin, line)
				continue
			}
			if len(f) != 2 || !ttLoaderAddr.MatchString(f[1]) || !path.IsAbs(f[0]) {
				t.Fatalf("ld.so --list %s: unexpected line %q", bin, line)
			}
			libs = append(libs, ttLoaderLib{Name: name, Path: f[0], Interp: path.IsAbs(name)})
		case strings.HasPrefix(line, "/"):
			f := strings.Fields(line)
			if len(f) != 2 || !ttLoaderAddr.MatchString(f[1]) {
				t.Fatalf("ld.so --list %s: unexpected line %q", bin, line)
			}
			libs = append(libs, ttLoaderLib{Name: f[0], Path: f[0], Interp: true})
		default:
			t.Fatalf("ld.so --list %s: unexpected line %q", bin, line)
		}
	}
	return libs
}

// ttXtablesDirs finds, by walking the tree, every directory holding
// iptables extensions (lib{xt,ipt,ip6t,arpt,ebt}_*.so), and its entries.
func ttXtablesDirs(t *testing.T, tree string) map[string][]string {
	t.Helper()
	ext := regexp.MustCompile(`^lib(xt|ipt|ip6t|arpt|ebt)_[^/]+\.so$`)
	dirs := map[string][]string{}
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == filepath.Join(tree, "tether") {
			return filepath.SkipDir // install output, when present
		}
		if !d.IsDir() && ext.MatchString(d.Name()) {
			rel, _ := filepath.Rel(tree, filepath.Dir(p))
			dir := "/" + filepath.ToSlash(rel)
			dirs[dir] = append(dirs[dir], d.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// ttCheckClosure: the libraries in /.tempfs_list are exactly those the
// image's loader loads for iptables, haveged and every iptables extension,
// each under the name the loader looks it up by, from the same file; the
// non-library entries are exactly the binaries and the extensions.
func ttCheckClosure(t *testing.T, tree string, list []ttTempfsEntry) {
	xt := ttXtablesDirs(t, tree)
	if len(xt) != 1 {
		t.Fatalf("want one iptables extension directory in the tree, found %v", xt)
	}
	var xtDir string
	var exts []string
	for d, names := range xt {
		xtDir = d
		sort.Strings(names)
		for _, n := range names {
			exts = append(exts, path.Join(d, n))
		}
	}
	t.Logf("%d iptables extensions in %s", len(exts), xtDir)

	// What the image's loader says: dst (relative to /.tether) -> the file.
	wantLibs := map[string]string{}
	why := map[string]string{}
	roots := append([]string{"/sbin/iptables", "/usr/sbin/haveged"}, exts...)
	for _, bin := range roots {
		for _, l := range ttLoaderList(t, tree, bin) {
			dst := "lib64/" + l.Name
			if l.Interp {
				dst = "lib64/" + path.Base(l.Name)
			}
			real := ttMustResolve(t, tree, l.Path)
			if prev, ok := wantLibs[dst]; ok && prev != real {
				t.Errorf("/.tether/%s would have to be both %s and %s (%s)", dst, prev, real, bin)
			}
			wantLibs[dst] = real
			if _, ok := why[dst]; !ok {
				why[dst] = bin
			}
		}
	}
	wantOther := map[string]string{
		"bin/iptables": ttMustResolve(t, tree, "/sbin/iptables"),
		"bin/haveged":  ttMustResolve(t, tree, "/usr/sbin/haveged"),
	}
	for _, e := range exts {
		wantOther[strings.TrimPrefix(e, "/")] = ttMustResolve(t, tree, e)
	}

	gotLibs, gotOther := map[string]string{}, map[string]string{}
	for _, e := range list {
		real, err := ttResolveIn(tree, e.Src)
		if err != nil {
			t.Errorf("/.tempfs_list: %s -> /.tether/%s: %v", e.Src, e.Dst, err)
			continue
		}
		if path.Dir(e.Dst) == "lib64" {
			gotLibs[e.Dst] = real
		} else {
			gotOther[e.Dst] = real
		}
	}
	ttCompareSets(t, "library", wantLibs, gotLibs, why)
	self := map[string]string{}
	for k, v := range wantOther {
		self[k] = v
	}
	ttCompareSets(t, "binary/extension", wantOther, gotOther, self)
	t.Logf("loader and /.tempfs_list agree on %d libraries, %d other files", len(gotLibs), len(gotOther))
}

func ttCompareSets(t *testing.T, what string, want, got, why map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, inW := want[k]
		g, inG := got[k]
		switch {
		case !inG:
			t.Errorf("%s /.tether/%s (the loader loads %s, for %s) is missing from /.tempfs_list", what, k, w, why[k])
		case !inW:
			t.Errorf("%s /.tether/%s (from %s) is in /.tempfs_list, but the image's loader loads no such file", what, k, g)
		case w != g:
			t.Errorf("%s /.tether/%s: /.tempfs_list copies %s, the image's loader loads %s", what, k, g, w)
		}
	}
}

// ttCheckModules asks the image's own modprobe (kmod, on the tree's
// depmod files): every module /bin/repoinit loads exists with its
// dependencies, the init.sh drivers are among them, and every module the
// kernel autoloads for an iptables extension (request_module of xt_NAME or
// ipt_NAME, resolved through modules.alias) is loaded at boot, since
// nothing can be loaded after switch_root.
func ttCheckModules(t *testing.T, tree string) {
	repoinit := string(ttReadFile(t, filepath.Join(tree, "bin/repoinit")))
	vars := map[string]string{}
	for _, line := range strings.Split(repoinit, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "vicroot_") && !strings.ContainsAny(k, " \t") {
			vars[k] = strings.Trim(v, "'")
		}
	}
	modprobe := vars["vicroot_modprobe"]
	if modprobe == "" || vars["vicroot_modules"] == "" {
		t.Fatalf("/bin/repoinit sets no vicroot_modprobe/vicroot_modules:\n%s", repoinit)
	}
	if real := ttMustResolve(t, tree, modprobe); path.Base(real) != "kmod" {
		t.Errorf("vicroot_modprobe=%s is %s, not kmod", modprobe, real)
	}
	mods := map[string]bool{}
	for _, m := range strings.Fields(vars["vicroot_modules"]) {
		mods[m] = true
	}
	kdir := filepath.Join(tree, ttMustResolve(t, tree, "/lib/modules"))
	ents, err := os.ReadDir(kdir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("want one kernel in /lib/modules: %v %v", ents, err)
	}
	kver := ents[0].Name()
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(kdir, kver, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[strings.ReplaceAll(strings.TrimSuffix(path.Base(l), ".ko"), "-", "_")] = true
		}
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command("chroot", append([]string{tree, modprobe, "-S", kver}, args...)...)
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for _, m := range strings.Fields(vars["vicroot_modules"]) {
		if out, err := run("--show-depends", m); err != nil {
			t.Errorf("/bin/repoinit loads %s, which the image's modprobe cannot resolve: %v %s", m, err, out)
		}
	}
	drv := regexp.MustCompile(`(?m)^drivers=\(([^)]*)\)`).FindSubmatch(plainInit)
	if drv == nil {
		t.Fatalf("plainInit has no drivers=(...): %q", plainInit)
	}
	for _, d := range strings.Fields(string(drv[1])) {
		if !mods[d] {
			t.Errorf("init.sh driver %s is not in vicroot_modules %q", d, vars["vicroot_modules"])
		}
	}
	dirs := ttXtablesDirs(t, tree)
	checked := 0
	for dir, names := range dirs {
		for _, n := range names {
			b := strings.TrimSuffix(n, ".so")
			var aliases []string
			switch {
			case strings.HasPrefix(b, "libxt_"):
				x := strings.TrimPrefix(b, "libxt_")
				aliases = []string{"xt_" + x, "ipt_" + x}
			case strings.HasPrefix(b, "libipt_"):
				aliases = []string{"ipt_" + strings.TrimPrefix(b, "libipt_")}
			default:
				continue // ip6tables, arptables, ebtables are not in /.tether
			}
			for _, a := range aliases {
				out, err := run("-R", a)
				if err != nil {
					continue // the image's kernel has no such module
				}
				for _, m := range strings.Fields(out) {
					checked++
					if !mods[m] && !builtin[m] {
						t.Errorf("%s/%s: the kernel loads %s for %s, but the boot does not load it (vicroot_modules %q)", dir, n, m, a, vars["vicroot_modules"])
					}
				}
			}
		}
	}
	t.Logf("%d modules in /bin/repoinit resolve with the image's modprobe; %d extension aliases resolve to loaded modules", len(mods), checked)
}

// ttRunInstall runs the image's install_iptables and install_entropy with
// the image's shell, chrooted into the tree, into /tether. For a legacy
// init.sh it first lays out what the image's /bin/bootstrap lays out
// before it calls them (lib -> lib64, lib64/modules, run, bin,
// opt/config): VIC's init.sh functions rely on that, as in VIC.
func ttRunInstall(t *testing.T, tree, shell string, legacy bool) string {
	t.Helper()
	dir := filepath.Join(tree, "tether")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if legacy {
		for _, d := range []string{"lib64/modules", "run", "bin", "opt/config"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("lib64", filepath.Join(dir, "lib")); err != nil {
			t.Fatal(err)
		}
	}
	sh := ttMustResolve(t, tree, shell)
	t.Logf("%s is %s in the image", shell, sh)
	cmd := exec.Command("chroot", tree, shell, "-c", ". /bin/repoinit && install_iptables /tether && install_entropy /tether")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chroot %s %s -c '. /bin/repoinit && install_iptables /tether && install_entropy /tether': %v\n%s", tree, shell, err, out)
	} else if len(out) > 0 {
		t.Logf("install output:\n%s", out)
	}
	return dir
}

func ttReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ttCheckInstalledLayout: what install_* wrote is VIC's /.tether layout
// (package vic's RepoInit) and holds exactly the files of /.tempfs_list,
// each a copy of its source.
func ttCheckInstalledLayout(t *testing.T, tree, dir string, list []ttTempfsEntry) {
	t.Helper()
	if l, err := os.Readlink(filepath.Join(dir, "lib")); err != nil || l != "lib64" {
		t.Errorf("/.tether/lib: want a link to lib64, got %q, %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "run")); err != nil || !fi.IsDir() {
		t.Errorf("/.tether/run (iptables' lock) is not a directory: %v", err)
	}
	wrapper := string(ttReadFile(t, filepath.Join(dir, "bin/iptables-wrapper")))
	if !strings.HasPrefix(wrapper, "#!/bin/sh\n") || !strings.Contains(wrapper, `exec chroot /.tether/ /lib64/ld-linux-x86-64.so.2 /bin/iptables "$@"`) {
		t.Errorf("bin/iptables-wrapper is not VIC's:\n%s", wrapper)
	}
	want := map[string]string{"bin/iptables-wrapper": "", "opt/config/entropy.txt": ""}
	for _, e := range list {
		want[e.Dst] = e.Src
	}
	got := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() || rel == "lib" {
			return nil
		}
		if !d.Type().IsRegular() {
			t.Errorf("/.tether/%s is not a regular file (%v): the copies must be dereferenced", rel, d.Type())
			return nil
		}
		got[rel] = true
		src, ok := want[rel]
		if !ok {
			t.Errorf("install_* wrote /.tether/%s, which /.tempfs_list does not list", rel)
			return nil
		}
		if src != "" && !bytes.Equal(ttReadFile(t, p), ttReadFile(t, filepath.Join(tree, ttMustResolve(t, tree, src)))) {
			t.Errorf("/.tether/%s differs from %s", rel, src)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for d := range want {
		if !got[d] {
			t.Errorf("install_* did not write /.tether/%s", d)
		}
	}
}

// ttCheckIptables runs the installed iptables as VIC's tether does (chrooted
// into the directory, by the loader, no environment) in a network
// namespace of its own, and reads the rules back with the host's
// iptables-legacy too.
func ttCheckIptables(t *testing.T, dir, tag, modlog string) {
	t.Helper()
	ns := fmt.Sprintf("vicroot-e2e-%d-%s", os.Getpid(), tag)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", ns, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		t.Fatal(err)
	}
	ipt := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, chroot, dir, "/lib64/ld-linux-x86-64.so.2", "/bin/iptables"}, args...)...)
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("iptables %s (chrooted into %s, netns %s): %v\n%s\n%s", strings.Join(args, " "), dir, ns, err, out, modlog)
		}
		return string(out)
	}
	out := ipt("-L", "-v")
	for _, c := range []string{"INPUT", "FORWARD", "OUTPUT"} {
		if !strings.Contains(out, "Chain "+c+" (policy ACCEPT") {
			t.Errorf("iptables -L -v lacks chain %s:\n%s", c, out)
		}
	}
	ipt("-A", "INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
	ipt("-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", "8080")
	if out := ipt("-L", "INPUT", "-v", "-n"); !regexp.MustCompile(`(?m)^\s+0\s+0\s+ACCEPT\s.*ctstate RELATED,ESTABLISHED\s*$`).MatchString(out) {
		t.Errorf("iptables -L INPUT -v -n lacks the conntrack rule:\n%s", out)
	}
	if out := ipt("-t", "nat", "-L", "PREROUTING", "-v", "-n"); !regexp.MustCompile(`(?m)^\s+0\s+0\s+REDIRECT\s.*tcp dpt:80 redir ports 8080\s*$`).MatchString(out) {
		t.Errorf("iptables -t nat -L PREROUTING -v -n lacks the REDIRECT rule:\n%s", out)
	}
	// The kernel's view, through the host's iptables-legacy in the same
	// namespace, equals what the chrooted one prints.
	for _, c := range []struct {
		args []string
		rule string
	}{
		{[]string{"-S", "INPUT"}, "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"},
		{[]string{"-t", "nat", "-S", "PREROUTING"}, "-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080"},
	} {
		mine := ipt(c.args...)
		host, err := exec.Command("ip", append([]string{"netns", "exec", ns, "iptables-legacy"}, c.args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("host iptables-legacy %s: %v\n%s", strings.Join(c.args, " "), err, host)
		}
		if mine != string(host) {
			t.Errorf("iptables %s: chrooted copy says\n%s\nhost iptables-legacy says\n%s", strings.Join(c.args, " "), mine, host)
		}
		if !strings.Contains("\n"+mine, "\n"+c.rule+"\n") {
			t.Errorf("iptables %s lacks %q:\n%s", strings.Join(c.args, " "), c.rule, mine)
		}
	}
}

// ttCheckEntropy runs the command line of opt/config/entropy.txt, split on
// single spaces as VIC's tether splits it, unchanged: chrooted into a
// scratch root that has the directory bind-mounted at /.tether (and /dev
// and /proc, as every container root has), in a private mount namespace.
// Rewriting /.tether to the directory instead would run a different
// command from the one the tether runs (--library-path names /.tether).
func ttCheckEntropy(t *testing.T, dir string) {
	t.Helper()
	raw := string(ttReadFile(t, filepath.Join(dir, "opt/config/entropy.txt")))
	line := strings.TrimSuffix(raw, "\n")
	if line == "" || strings.Contains(line, "\n") {
		t.Fatalf("opt/config/entropy.txt is not one line: %q", raw)
	}
	const prefix = "/.tether/lib64/ld-linux-x86-64.so.2 --library-path /.tether/lib64 /.tether/bin/"
	if !strings.HasPrefix(line, prefix) {
		t.Errorf("opt/config/entropy.txt %q does not start %q (VIC's form)", line, prefix)
	}
	args := strings.Split(line, " ")
	if len(args) < 4 {
		t.Fatalf("opt/config/entropy.txt %q: want LOADER --library-path DIR DAEMON [ARGS]", line)
	}
	daemon := args[3]
	scratch := t.TempDir()
	for _, d := range []string{".tether", "dev", "proc"} {
		if err := os.Mkdir(filepath.Join(scratch, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := `set -e
mount --bind "$1" "$2/.tether"
mount --rbind /dev "$2/dev"
mount -t proc proc "$2/proc"
r=$2; shift 2
exec chroot "$r" "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, scratch}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("%q exited within 1 s: %v\n%s", line, err, out.String())
	case <-time.After(time.Second):
	}
	pid := cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	maps, err2 := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	_ = cmd.Process.Kill()
	werr := <-done
	if err != nil || err2 != nil {
		t.Fatalf("%q: /proc/%d: %v %v", line, pid, err, err2)
	}
	if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) == 0 || f[0] == "Z" || f[0] == "X" {
		t.Errorf("%q is not running after 1 s: /proc/%d/stat %q", line, pid, stat)
	}
	// The loader really runs the daemon out of /.tether (the scratch
	// root's .tether, as this process sees it).
	if !strings.Contains(string(maps), strings.TrimPrefix(daemon, "/")) {
		t.Errorf("%q: the process maps no %s:\n%s", line, daemon, maps)
	}
	t.Logf("%q ran for 1 s (killed: %v):\n%s", line, werr, out.String())
}

// ttCheckTempfsFit copies the directory, the tree's modules, tether and
// unpack into a tmpfs of exactly /.tempfs_size MB, as the boot does, and
// compares what the tmpfs charged (df) with the page-rounded total the
// build report says it counted (before the margin). For vicroot's own
// functions (exact) the count must cover the charge; for a legacy init.sh,
// whose copies vicroot cannot see, a shortfall is only logged.
func ttCheckTempfsFit(t *testing.T, tree, dir, reportPath string, exact bool) {
	t.Helper()
	raw := strings.TrimSpace(string(ttReadFile(t, filepath.Join(tree, ".tempfs_size"))))
	mb, err := strconv.Atoi(raw)
	if err != nil || mb <= 0 {
		t.Fatalf("/.tempfs_size %q: want a positive whole number of MB", raw)
	}
	var rep struct {
		Tether struct {
			TempfsMB    int   `json:"tempfs_mb"`
			TempfsBytes int64 `json:"tempfs_bytes"`
		} `json:"tether"`
	}
	if err := json.Unmarshal(ttReadFile(t, reportPath), &rep); err != nil {
		t.Fatalf("%s: %v", reportPath, err)
	}
	if rep.Tether.TempfsMB != mb {
		t.Errorf("%s says tempfs_mb %d, the image's /.tempfs_size %d", reportPath, rep.Tether.TempfsMB, mb)
	}
	in := func(p string) string { return filepath.Join(tree, ttMustResolve(t, tree, p)) }
	mnt := t.TempDir()
	script := `set -e
mount -t tmpfs -o size="$1"m tmpfs "$2"
cp -pr "$3"/. "$2"/
mkdir -p "$2"/lib64/modules
cp -pr "$4"/. "$2"/lib64/modules/
cp -p "$5" "$2"/tether
cp -p "$6" "$2"/unpack
ln -s tether "$2"/tether-debug
df -k --output=used,size "$2"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
		strconv.Itoa(mb), mnt, dir, in("/lib/modules"), in("/bin/tether"), in("/bin/unpack"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 10 {
			lines = append(lines[:5], append([]string{"..."}, lines[len(lines)-5:]...)...)
		}
		t.Fatalf("copying /.tether, the modules, tether and unpack into a tmpfs of /.tempfs_size = %d MB: %v\n%s", mb, err, strings.Join(lines, "\n"))
	}
	f := strings.Fields(string(out))
	if len(f) != 4 || f[0] != "Used" {
		t.Fatalf("df: unexpected output %q", out)
	}
	usedK, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		t.Fatalf("df: %q: %v", out, err)
	}
	used := usedK * 1024
	t.Logf("/.tether in a %d MB tmpfs: %d KiB charged, the build counted %d KiB", mb, usedK, rep.Tether.TempfsBytes/1024)
	// Legacy init.sh copies with its own globs; the build sizes it as the
	// default plan plus every versioned library name, which must cover it.
	if used > rep.Tether.TempfsBytes {
		t.Errorf("the tmpfs charged %d bytes for /.tether (exact copy list: %v), more than the %d the build counted (%s)", used, exact, rep.Tether.TempfsBytes, reportPath)
	}
}

// TestTetherMissingDriver: a driver the image's kernel lacks fails the
// build, naming it.
func TestTetherMissingDriver(t *testing.T) {
	repo := testrepo.Dir(t)
	def := definition(t, repo, nil, []byte("drivers=(nf_conntrack no_such_driver_xyz)\n"))
	_, stderr := ttBuildFails(t, repo, def, binDir)
	if !strings.Contains(stderr, "no_such_driver_xyz") {
		t.Errorf("the error does not name no_such_driver_xyz:\n%s", stderr)
	}
	t.Logf("vicroot build failed as it should:\n%s", stderr)
}

// ttBuildFails runs vicroot build expecting exit status 1 and no ISO.
func ttBuildFails(t *testing.T, repo, def, bin string) (string, string) {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"build", "--repo", def, "--out", out, "--bin", bin,
		"--cache", filepath.Join(t.TempDir(), "cache"), "--version", "v1.5.8-0-9489f63"}, mirrors(repo)...)
	stdout, stderr, err := vicroot(t, nil, args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("vicroot build: want exit status 1, got %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if isos, _ := filepath.Glob(filepath.Join(out, "*.iso")); len(isos) > 0 {
		t.Errorf("a failed build left %v", isos)
	}
	return stdout, stderr
}

// TestTetherKernelTooOld: a tether-linux whose NT_GNU_ABI_TAG asks for a
// newer kernel than the image's fails the build with both versions.
func TestTetherKernelTooOld(t *testing.T) {
	testrepo.NeedTools(t, "file")
	repo := testrepo.Dir(t)
	kver := strings.TrimSpace(string(ttReadFile(t, filepath.Join(repo, "kernel.version"))))
	major, err := strconv.Atoi(strings.SplitN(kver, ".", 2)[0])
	if err != nil {
		t.Fatalf("kernel.version %q: %v", kver, err)
	}
	need := fmt.Sprintf("%d.2.3", major+1)

	bin := t.TempDir()
	tether := filepath.Join(bin, "tether-linux")
	ttPatchABITag(t, "/bin/true", tether, uint32(major+1), 2, 3)
	// file(1) reads the note independently: the patch made the tag we meant.
	if out, err := exec.Command("file", "-L", tether).CombinedOutput(); err != nil || !strings.Contains(string(out), "for GNU/Linux "+need) {
		t.Fatalf("file %s: want \"for GNU/Linux %s\", got %v %s", tether, need, err, out)
	}
	if err := os.WriteFile(filepath.Join(bin, "unpack"), ttReadFile(t, filepath.Join(binDir, "unpack")), 0o755); err != nil {
		t.Fatal(err)
	}
	_, stderr := ttBuildFails(t, repo, definition(t, repo, nil, plainInit), bin)
	t.Logf("vicroot build failed as it should:\n%s", stderr)
	for _, w := range []string{"tether-linux", need, strings.SplitN(kver, "-", 2)[0]} {
		if !strings.Contains(stderr, w) {
			t.Errorf("the error lacks %q:\n%s", w, stderr)
		}
	}
}

// ttPatchABITag copies the dynamic ELF src to dst with its NT_GNU_ABI_TAG
// (.note.ABI-tag: Linux, major.minor.patch) rewritten.
func ttPatchABITag(t *testing.T, src, dst string, major, minor, patch uint32) {
	t.Helper()
	data := ttReadFile(t, src)
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	defer f.Close()
	sec := f.Section(".note.ABI-tag")
	if sec == nil || sec.Size < 32 {
		t.Fatalf("%s has no .note.ABI-tag", src)
	}
	bo := f.ByteOrder
	off := sec.Offset
	n := data[off : off+32]
	if bo.Uint32(n[0:]) != 4 || bo.Uint32(n[4:]) != 16 || bo.Uint32(n[8:]) != 1 || string(n[12:16]) != "GNU\x00" || bo.Uint32(n[16:]) != 0 {
		t.Fatalf("%s: .note.ABI-tag is not a GNU Linux ABI tag: % x", src, n)
	}
	bo.PutUint32(n[20:], major)
	bo.PutUint32(n[24:], minor)
	bo.PutUint32(n[28:], patch)
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestTetherMissingBin: --bin without tether-linux or unpack fails the
// build with the missing file's path.
func TestTetherMissingBin(t *testing.T) {
	repo := testrepo.Dir(t)
	def := definition(t, repo, nil, plainInit)
	for _, missing := range []string{"tether-linux", "unpack"} {
		t.Run(missing, func(t *testing.T) {
			bin := t.TempDir()
			for _, n := range []string{"tether-linux", "unpack"} {
				if n == missing {
					continue
				}
				if err := os.WriteFile(filepath.Join(bin, n), ttReadFile(t, filepath.Join(binDir, n)), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			_, stderr := ttBuildFails(t, repo, def, bin)
			if !strings.Contains(stderr, filepath.Join(bin, missing)) {
				t.Errorf("the error does not name %s:\n%s", filepath.Join(bin, missing), stderr)
			}
		})
	}
}
