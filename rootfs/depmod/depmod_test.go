package depmod_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/depmod"
)

// outputNames are the files depmod writes; the tests also check that the
// real depmod writes nothing else (kmod 30 has no modules.weakdep).
var outputNames = []string{
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
	"modules.softdep", "modules.symbols", "modules.symbols.bin",
	"modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname",
}

// depmodTool returns the real depmod (in /sbin on Debian, which a non-root
// PATH may lack), skipping or failing the test when it is absent.
func depmodTool(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("depmod"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/depmod", "/sbin/depmod"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testrepo.NeedTools(t, "depmod")
	return ""
}

// hostKernel returns the directory and version of the host's Debian kernel
// modules (package linux-image-amd64), skipping or failing without them.
func hostKernel(t testing.TB) (string, string) {
	t.Helper()
	dirs, _ := filepath.Glob("/lib/modules/*/modules.order")
	slices.Sort(dirs)
	for _, d := range dirs {
		dir := filepath.Dir(d)
		if _, err := os.Stat(filepath.Join(dir, "kernel")); err == nil {
			return dir, filepath.Base(dir)
		}
	}
	msg := "no kernel modules in /lib/modules (package linux-image-amd64)"
	if testrepo.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return "", ""
}

// hostDeps parses the host's modules.dep into relpath -> dependencies, to
// choose the modules of a test tree (the closure of a few names).
func hostDeps(t testing.TB, dir string) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			t.Fatalf("modules.dep line %q", sc.Text())
		}
		deps[mod] = strings.Fields(rest)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return deps
}

// closure returns the relpaths of the named modules (by module name) and of
// everything under the given directories, plus all their dependencies.
func closure(t testing.TB, deps map[string][]string, names []string, dirs []string) []string {
	t.Helper()
	byName := map[string]string{}
	for rel := range deps {
		base := path.Base(rel)
		byName[strings.ReplaceAll(base[:strings.IndexByte(base, '.')], "-", "_")] = rel
	}
	set := map[string]bool{}
	for _, n := range names {
		rel, ok := byName[n]
		if !ok {
			t.Fatalf("module %s not in the host kernel", n)
		}
		set[rel] = true
		for _, d := range deps[rel] {
			set[d] = true
		}
	}
	for rel, ds := range deps {
		for _, dir := range dirs {
			if strings.HasPrefix(rel, dir+"/") {
				set[rel] = true
				for _, d := range ds {
					set[d] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for rel := range set {
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

// tree is a test tree: ROOT/lib/modules/KVER.
type tree struct {
	root, kver string
}

func (tr tree) dir() string { return filepath.Join(tr.root, "lib/modules", tr.kver) }

func newTree(t testing.TB, kver string) tree {
	tr := tree{root: t.TempDir(), kver: kver}
	if err := os.MkdirAll(tr.dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr tree) write(t testing.TB, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(tr.dir(), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyHost copies modules (and modules.order, modules.builtin,
// modules.builtin.modinfo) from the host kernel directory. compress names
// a program ("xz", "zstd", "gzip") that compresses each module the way
// distributions do, or "" for none.
func (tr tree) copyHost(t testing.TB, hostDir string, rels []string, compress func(i int) string) {
	t.Helper()
	for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		data, err := os.ReadFile(filepath.Join(hostDir, f))
		if err != nil {
			t.Fatal(err)
		}
		tr.write(t, f, data)
	}
	var byTool = map[string][]string{}
	for i, rel := range rels {
		data, err := os.ReadFile(filepath.Join(hostDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		tr.write(t, rel, data)
		if c := compress(i); c != "" {
			byTool[c] = append(byTool[c], filepath.Join(tr.dir(), rel))
		}
	}
	for tool, files := range byTool {
		testrepo.NeedTools(t, tool)
		args := map[string][]string{
			// The kernel's own flags are --check=crc32 --lzma2=dict=1MiB;
			// a low preset decodes the same way and keeps the test fast
			// (TestTestRepoKernel covers modules compressed as the kernel does).
			"xz":   {"--check=crc32", "-1", "-T1"},
			"zstd": {"-q", "--rm", "-T0"},
			"gzip": {"-n", "-f", "-9"},
		}[tool]
		for len(files) > 0 {
			n := min(len(files), 500)
			cmd := exec.Command(tool, append(slices.Clone(args), files[:n]...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tool, err, out)
			}
			files = files[n:]
		}
	}
}

// runDepmod runs the real `depmod -b ROOT KVER` and returns what it wrote.
func (tr tree) runDepmod(t testing.TB, wantFail bool) map[string][]byte {
	t.Helper()
	before := tr.listModulesFiles(t)
	cmd := exec.Command(depmodTool(t), "-b", tr.root, tr.kver)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if wantFail {
		if err == nil {
			t.Fatalf("depmod succeeded, want failure:\n%s", out)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("depmod -b %s %s: %v\n%s", tr.root, tr.kver, err, out)
	}
	got := map[string][]byte{}
	for _, name := range tr.listModulesFiles(t) {
		if slices.Contains(before, name) && !slices.Contains(outputNames, name) {
			continue // an input
		}
		if !slices.Contains(outputNames, name) {
			t.Errorf("depmod wrote %s, which Generate does not produce", name)
			continue
		}
		data, err := os.ReadFile(filepath.Join(tr.dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		got[name] = data
	}
	return got
}

func (tr tree) listModulesFiles(t testing.TB) []string {
	ents, err := os.ReadDir(tr.dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "modules.") {
			out = append(out, e.Name())
		}
	}
	return out
}

// generate runs ours on the tree.
func (tr tree) generate(t testing.TB) []depmod.File {
	t.Helper()
	files, err := depmod.Generate(context.Background(), os.DirFS(tr.root), tr.kver)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return files
}

// compare checks ours against the real depmod's files, byte for byte.
func compare(t testing.TB, ours []depmod.File, real map[string][]byte) {
	t.Helper()
	var names []string
	for _, f := range ours {
		names = append(names, f.Name)
		want, ok := real[f.Name]
		if !ok {
			t.Errorf("Generate produced %s, depmod did not write it", f.Name)
			continue
		}
		if !bytes.Equal(f.Data, want) {
			t.Errorf("%s differs from depmod's: %d bytes, want %d; first difference at byte %d\n%s",
				f.Name, len(f.Data), len(want), firstDiff(f.Data, want), diffContext(f.Data, want))
		}
	}
	for name := range real {
		if !slices.Contains(names, name) {
			t.Errorf("depmod wrote %s, Generate did not produce it", name)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func diffContext(a, b []byte) string {
	i := firstDiff(a, b)
	lo := max(0, i-80)
	return fmt.Sprintf("got:  %q\nwant: %q", a[lo:min(len(a), i+80)], b[lo:min(len(b), i+80)])
}

func fileData(files []depmod.File, name string) []byte {
	for _, f := range files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

// vicModules are the modules the test repository's kernel ships for VIC.
var vicModules = []string{
	"vmxnet3", "vmw_pvscsi", "sd_mod", "nfnetlink", "iptable_filter", "iptable_nat",
	"xt_conntrack", "xt_state", "xt_tcpudp", "nf_conntrack", "nf_nat", "nf_defrag_ipv4",
	"ipt_REJECT", "nf_reject_ipv4", "xt_REDIRECT", "nfsv3", "lockd", "ext4",
}

// TestGenerateHostModules runs the real depmod and Generate on copies of
// the host's Debian kernel modules and compares every file byte for byte.
func TestGenerateHostModules(t *testing.T) {
	depmodTool(t)
	hostDir, kver := hostKernel(t)
	deps := hostDeps(t, hostDir)
	vic := closure(t, deps, vicModules, nil)
	big := closure(t, deps, nil, []string{"kernel/net/netfilter", "kernel/drivers/scsi"})
	// A module with a softdep and one with no alias at all must be in the
	// VIC set for the edge cases to be covered.
	none := func(int) string { return "" }
	cases := []struct {
		name     string
		rels     []string
		compress func(i int) string
		edit     func(t *testing.T, tr tree)
	}{
		{name: "vic", rels: vic, compress: none},
		{name: "vic-xz", rels: vic, compress: func(int) string { return "xz" }},
		{name: "vic-mixed-xz-zst", rels: vic, compress: func(i int) string { return []string{"", "xz", "zstd"}[i%3] }},
		{name: "vic-gz-ignored", rels: vic, compress: func(i int) string { return []string{"", "gzip"}[i%2] }},
		{name: "vic-no-order-no-builtin", rels: vic, compress: none, edit: func(t *testing.T, tr tree) {
			for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
				if err := os.Remove(filepath.Join(tr.dir(), f)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "vic-order-corrupt", rels: vic, compress: none, edit: func(t *testing.T, tr tree) {
			// depmod ignores modules.order whose last line lacks '\n'.
			tr.write(t, "modules.order", []byte(strings.Join(vic, "\n")))
		}},
		{name: "vic-order-partial", rels: vic, compress: none, edit: func(t *testing.T, tr tree) {
			// every third module listed, in reverse, one twice, plus a missing one
			var lines []string
			for i := len(vic) - 1; i >= 0; i -= 3 {
				lines = append(lines, vic[i])
			}
			lines = append(lines, "kernel/not/there.ko", vic[len(vic)-1], "")
			tr.write(t, "modules.order", []byte(strings.Join(lines, "\n")))
		}},
		{name: "vic-updates-override", rels: vic, compress: none, edit: func(t *testing.T, tr tree) {
			// updates/ wins over kernel/ for the same module name
			data, err := os.ReadFile(filepath.Join(tr.dir(), vic[0]))
			if err != nil {
				t.Fatal(err)
			}
			tr.write(t, "updates/"+path.Base(vic[0]), data)
			tr.write(t, "extra/"+path.Base(vic[1]), data)
		}},
		{name: "netfilter-scsi", rels: big, compress: none},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t, kver)
			tr.copyHost(t, hostDir, c.rels, c.compress)
			if c.edit != nil {
				c.edit(t, tr)
			}
			ours := tr.generate(t)
			compare(t, ours, tr.runDepmod(t, false))
			if c.name == "vic" {
				// The edge cases the brief asks for are in this set.
				if !bytes.Contains(fileData(ours, "modules.softdep"), []byte("\nsoftdep ")) {
					t.Error("no module with a softdep in the VIC set")
				}
				aliases := string(fileData(ours, "modules.alias"))
				if strings.Contains(aliases, " nf_defrag_ipv4\n") {
					t.Error("nf_defrag_ipv4 was expected to have no alias")
				}
			}
		})
	}
}

// TestGenerateWholeHostTree compares all the host's modules, through a tree
// of symbolic links to them (depmod follows them, and so does Generate).
func TestGenerateWholeHostTree(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	depmodTool(t)
	hostDir, kver := hostKernel(t)
	for _, order := range []bool{true, false} {
		// Without modules.order every module is in kmod's hash order.
		t.Run(fmt.Sprint("modules.order=", order), func(t *testing.T) {
			tr := linkTree(t, hostDir, kver)
			if !order {
				if err := os.Remove(filepath.Join(tr.dir(), "modules.order")); err != nil {
					t.Fatal(err)
				}
			}
			compare(t, tr.generate(t), tr.runDepmod(t, false))
		})
	}
}

// linkTree makes ROOT/lib/modules/KVER a tree of symbolic links to the
// host's modules and input files.
func linkTree(t testing.TB, hostDir, kver string) tree {
	t.Helper()
	tr := newTree(t, kver)
	err := filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(hostDir, p)
		if d.IsDir() {
			if rel == "build" || rel == "source" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(tr.dir(), rel), 0o755)
		}
		if strings.HasPrefix(rel, "modules.") && !slices.Contains([]string{"modules.order", "modules.builtin", "modules.builtin.modinfo"}, rel) {
			return nil
		}
		if !strings.HasPrefix(rel, "modules.") && !strings.Contains(path.Base(rel), ".ko") {
			return nil
		}
		return os.Symlink(p, filepath.Join(tr.dir(), rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestGenerateEmpty: a kernel directory without modules.
func TestGenerateEmpty(t *testing.T) {
	depmodTool(t)
	for _, withInputs := range []bool{false, true} {
		t.Run(fmt.Sprint("inputs=", withInputs), func(t *testing.T) {
			tr := newTree(t, "6.1.0-0-test")
			if withInputs {
				tr.write(t, "modules.order", nil)
				tr.write(t, "modules.builtin", nil)
				tr.write(t, "modules.builtin.modinfo", nil)
				if err := os.MkdirAll(filepath.Join(tr.dir(), "kernel/empty"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			compare(t, tr.generate(t), tr.runDepmod(t, false))
		})
	}
}

// TestGenerateSynthetic puts hand-made modules with the cases real modules
// rarely show in front of the real depmod.
func TestGenerateSynthetic(t *testing.T) {
	depmodTool(t)
	info := func(name string, kv ...string) []string { return append([]string{"name=" + name}, kv...) }
	cases := []struct {
		name     string
		files    map[string][]byte
		wantFail bool
	}{
		{name: "diamond-softdep-devname", files: map[string][]byte{
			"kernel/a/top.ko": synthModule{modinfo: info("top", "softdep=pre: left post: right", "alias=pci:v00001234d*", "alias=of:N*T*Cfoo-bar[-_]baz"),
				undef: []string{"left_fn", "right_fn", "printk"}}.bytes(),
			"kernel/b/left-side.ko": synthModule{modinfo: info("left_side", "alias=devname:left", "alias=char-major-10-123", "alias=char-major-10-124"),
				crcExports: []string{"left_fn"}, undef: []string{"base_fn"}, versions: []string{"module_layout", "base_fn"}}.bytes(),
			"kernel/b/right.ko": synthModule{modinfo: info("right", "alias=block-major-8-*", "alias=block-major-259-2", "alias=devname:right0"),
				crcExports: []string{"right_fn"}, undef: []string{"base_fn", ".base_dot"}}.bytes(),
			"kernel/c/base.ko": synthModule{modinfo: info("base", "alias=devname:nomajor", "alias=bad]bracket", "alias=[unmatched"),
				crcExports: []string{"base_fn", "base_dot"}}.bytes(),
			"kernel/d/weak.ko":  synthModule{modinfo: info("weak"), weak: []string{"base_fn"}}.bytes(),
			"kernel/d/plain.ko": synthModule{ksymtabStrings: []string{"", "plain_a", "plain_b"}}.bytes(),
			"kernel/d/uses-plain.ko": synthModule{modinfo: info("uses_plain", "softdep=post: weak"),
				undef: []string{"plain_b", "unknown_symbol"}}.bytes(),
			"kernel/d/layout.ko":    synthModule{crcExports: []string{"module_layout"}}.bytes(),
			"kernel/d/nosymtab.ko":  synthModule{modinfo: info("nosymtab", "alias=x"), noSymtab: true, versions: []string{"base_fn"}}.bytes(),
			"kernel/e/twice-a.ko":   synthModule{crcExports: []string{"dup_fn"}}.bytes(),
			"kernel/e/twice-b.ko":   synthModule{crcExports: []string{"dup_fn"}}.bytes(),
			"kernel/e/dup-user.ko":  synthModule{undef: []string{"dup_fn"}}.bytes(),
			"kernel/f/not-a-ko.txt": []byte("ignored"),
			"build/x.ko":            synthModule{}.bytes(),
			"modules.order":         []byte("kernel/d/weak.ko\nkernel/a/top.ko\nkernel/b/left-side.ko\nkernel/e/twice-b.ko\n"),
			"modules.builtin":       []byte("kernel/fs/ext4/ext4.ko\n#comment\nkernel/x/y-z.ko\n\nkernel/x/noext\n"),
			"modules.builtin.modinfo": []byte("ext4.alias=fs-ext4\x00ext4.license=GPL\x00noequals\x00skipped.alias=lost\x00" +
				"y_z.alias=pci:v*d0001-0002*\x00y_z.alias=a[b-c]d\x00y_z.alias=e]f\x00ext4.alias=fs-ext4\x00.alias=noname\x00x.alias=\x00"),
		}},
		{name: "cycle", wantFail: true, files: map[string][]byte{
			"kernel/p.ko": synthModule{crcExports: []string{"p_fn"}, undef: []string{"q_fn"}}.bytes(),
			"kernel/q.ko": synthModule{crcExports: []string{"q_fn"}, undef: []string{"p_fn"}}.bytes(),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t, "6.1.0-0-test")
			for rel, data := range c.files {
				tr.write(t, rel, data)
			}
			files, err := depmod.Generate(context.Background(), os.DirFS(tr.root), tr.kver)
			real := tr.runDepmod(t, c.wantFail)
			if c.wantFail {
				if !errors.Is(err, depmod.ErrCycle) {
					t.Fatalf("Generate: %v, want ErrCycle", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			compare(t, files, real)
		})
	}
}
