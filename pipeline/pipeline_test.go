package pipeline

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
)

// The pipeline's stages, run in process against the test repository
// (testdata/mkrepo): each stage's result is checked against an outside
// oracle — mkrepo's manifest, dnf, gpg, GNU cpio, readelf, isoinfo.

// plan resolves the base set and the kernel, then the bootstrap staging
// on top of it, as VIC's separate package-manager calls do; with
// bootLoader, also the repository's syslinux package.
func plan(ctx context.Context, src *source, lock *resolver.Lock, bootLoader bool) (*plans, error) {
	base, err := basePlan(ctx, src, lock)
	if err != nil {
		return nil, err
	}
	return bootstrapPlan(ctx, src, base, bootLoader)
}

// sharedCache is the package cache every test of the package fills and
// reuses: it is content-addressed and checked on every use.
var sharedCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vicroot-build-test-")
	if err != nil {
		panic(err)
	}
	sharedCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testOptions are the options of a build of the test repository's
// definition, fetched from its file:// mirrors into a fresh cache. The
// tether binaries are /bin/true: the build only copies them and checks
// their ELF note against the image's kernel.
func testOptions(t *testing.T) (Options, string) {
	t.Helper()
	repo := testrepo.Dir(t)
	def, err := repos.Load(filepath.Join(repo, "definition"))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true to stand in for tether-linux and unpack")
	}
	bin := fstest.MapFS{"tether-linux": {Data: exe, Mode: 0o755}, "unpack": {Data: exe, Mode: 0o755}}
	return Options{
		Definition: def,
		Out:        t.TempDir(),
		Target:     TargetBootstrap,
		Bin:        Dir{FS: bin, Name: "testbin"},
		CacheDir:   sharedCache,
		Mirrors: map[string]string{
			"photon":         "file://" + filepath.Join(repo, "photon") + "/",
			"photon-updates": "file://" + filepath.Join(repo, "photon-updates") + "/",
		},
		Version: "v1.5.8-0-9489f63",
	}, repo
}

// manifestRows reads mkrepo's manifest.tsv: per repository, the file names
// it built.
func manifestRows(t *testing.T, repo string) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repo, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 2 || c[0] == "repo" {
			continue
		}
		out[c[0]] = append(out[c[0]], c[1])
	}
	return out
}

func mustOpen(t *testing.T, opts Options) *source {
	t.Helper()
	src, err := open(context.Background(), newStages(opts), opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// open: the package index is exactly the packages mkrepo put in each
// repository.
func TestOpen(t *testing.T) {
	opts, repo := testOptions(t)
	src := mustOpen(t, opts)
	got := map[string][]string{}
	for _, p := range src.repos.pkgs {
		got[p.Repo] = append(got[p.Repo], path.Base(p.Location))
	}
	want := manifestRows(t, repo)
	for id, files := range want {
		sort.Strings(files)
		sort.Strings(got[id])
		if !slices.Equal(got[id], files) {
			t.Errorf("repository %s: index\n%s\nmkrepo built\n%s", id, strings.Join(got[id], "\n"), strings.Join(files, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("repositories %v, mkrepo built %v", slices.Sorted(mapKeys(got)), slices.Sorted(mapKeys(want)))
	}
	// The caller's definition is not changed by --gpgkey keys.
	other, err := os.ReadFile(filepath.Join(repo, "other-key.asc"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(opts.Definition.Keys)
	opts.GPGKeys = []KeyFile{{Name: "other-key.asc", Data: other}}
	src = mustOpen(t, opts)
	if len(opts.Definition.Keys) != n || len(src.def.Keys) != n+1 {
		t.Errorf("keys: caller's %d (want %d), build's %d (want %d)", len(opts.Definition.Keys), n, len(src.def.Keys), n+1)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Every error says which stage failed.
func TestErrorsNameTheirStage(t *testing.T) {
	ctx := context.Background()
	opts, _ := testOptions(t)
	for _, c := range []struct {
		name  string
		edit  func(*Options)
		stage string
	}{
		{"no definition", func(o *Options) { o.Definition = nil }, "definition: "},
		{"bad --gpgkey", func(o *Options) { o.GPGKeys = []KeyFile{{Name: "junk.asc", Data: []byte("junk")}} }, "definition: "},
		{"unknown --mirror", func(o *Options) { o.Mirrors = map[string]string{"nope": "file:///nonexistent/"} }, "metadata: "},
		{"offline, empty cache", func(o *Options) { o.Offline = true; o.Mirrors = nil }, "metadata: "},
		{"no tether", func(o *Options) { o.Bin = Dir{FS: fstest.MapFS{}, Name: "empty"} }, "layout: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := opts
			o.Out = t.TempDir()
			if o.Offline {
				o.CacheDir = t.TempDir()
			}
			c.edit(&o)
			_, err := Build(ctx, o)
			if err == nil || !strings.HasPrefix(err.Error(), c.stage) {
				t.Errorf("error %v, want one starting %q", err, c.stage)
			}
		})
	}
}

// plan: the base set and the kernel are exactly what `dnf install` of the
// same names downloads; the boot loader joins only when asked for.
func TestPlan(t *testing.T) {
	testrepo.NeedTools(t, "dnf")
	opts, repo := testOptions(t)
	src := mustOpen(t, opts)
	pl, err := plan(context.Background(), src, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if pl.syslinux == nil || pl.syslinux.Name != "syslinux" {
		t.Errorf("boot loader package %v, want syslinux", pl.syslinux)
	}
	noLoader, err := plan(context.Background(), src, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if noLoader.syslinux != nil {
		t.Errorf("plan without the boot loader has %s", noLoader.syslinux.NEVRA())
	}

	names, err := src.def.PackageList(repos.StageBase)
	if err != nil {
		t.Fatal(err)
	}
	names = append(names, src.def.Spec.Kernel)
	work := newDNFRoot(t, repo).work
	dl := filepath.Join(work, "dl")
	args := append([]string{"--installroot=" + filepath.Join(work, "root"), "--setopt=reposdir=" + filepath.Join(work, "repos"),
		"--setopt=cachedir=" + filepath.Join(work, "cache"), "--releasever=2.0", "--disableplugin=*", "-q", "-y",
		"install", "--downloadonly", "--destdir=" + dl}, names...)
	if out, err := exec.Command("dnf", args...).CombinedOutput(); err != nil {
		t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ents, err := os.ReadDir(dl)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, e := range ents {
		want = append(want, e.Name())
	}
	for _, p := range pl.base.Packages {
		got = append(got, path.Base(p.Location))
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("base plan\n%s\ndnf downloads\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// fetch: every file is the one createrepo_c described (its SHA-256) and
// was verified by the test key (its fingerprint as gpg reads it).
func TestFetch(t *testing.T) {
	testrepo.NeedTools(t, "gpg")
	opts, repo := testOptions(t)
	src := mustOpen(t, opts)
	pl, err := plan(context.Background(), src, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fetch(context.Background(), src, pl)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("gpg", "--with-colons", "--show-keys", filepath.Join(repo, "RPM-GPG-KEY-vicroot-test")).Output()
	if err != nil {
		t.Fatalf("gpg --show-keys: %v", err)
	}
	var fpr string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatalf("gpg printed no fingerprint:\n%s", out)
	}
	for _, p := range pl.fetch() {
		f, ok := got.files[p]
		if !ok {
			t.Errorf("%s not fetched", p.NEVRA())
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if p.Checksum.Type != "sha256" || hex.EncodeToString(sum[:]) != p.Checksum.Value {
			t.Errorf("%s: sha256 %x, primary.xml says %s:%s", p.NEVRA(), sum, p.Checksum.Type, p.Checksum.Value)
		}
		if k := got.keyOf(p); !strings.EqualFold(k, fpr) {
			t.Errorf("%s verified by %q, want the test key %s", p.NEVRA(), k, fpr)
		}
	}
}

// stagesUpTo runs the stages before the layout.
func stagesUpTo(t *testing.T, opts Options) (*source, *plans, *fetched, *installed) {
	t.Helper()
	ctx := context.Background()
	src := mustOpen(t, opts)
	pl, err := plan(ctx, src, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	fetch := startFetch(ctx, src, nil, pl)
	got, err := fetch.wait()
	if err != nil {
		t.Fatal(err)
	}
	root, err := install(ctx, src.def, pl, fetch, buildEpoch(pl.installed, nil), installConfig{CacheDir: opts.CacheDir, Logger: newStages(opts).log})
	if err != nil {
		t.Fatal(err)
	}
	return src, pl, got, root
}

// install: the kernel is the one mkrepo packaged, and the ISO's
// /boot/vmlinuz64 is the kernel package's vmlinuz as rpm2cpio and GNU cpio
// extract it.
func TestInstall(t *testing.T) {
	testrepo.NeedTools(t, "rpm2cpio", "cpio", "sh")
	opts, repo := testOptions(t)
	_, pl, got, root := stagesUpTo(t, opts)
	kver, err := os.ReadFile(filepath.Join(repo, "kernel.version"))
	if err != nil {
		t.Fatal(err)
	}
	if root.kernel != strings.TrimSpace(string(kver)) {
		t.Errorf("kernel %q, mkrepo packaged %q", root.kernel, kver)
	}
	if want := []string{repos.BaseHookFile}; !slices.Equal(root.hooks, want) {
		t.Errorf("hooks %v, want %v (the definition has base.sh only)", root.hooks, want)
	}
	var kernelRPM string
	for _, p := range pl.base.Packages {
		if p.Name == opts.Definition.Spec.Kernel {
			kernelRPM = got.files[p]
		}
	}
	name, wantData := rpmVmlinuz(t, kernelRPM)
	gotData, err := root.boot.ReadFile("boot/vmlinuz64")
	if err != nil || string(gotData) != string(wantData) {
		t.Errorf("boot/vmlinuz64: %d bytes (%v), the package's %s has %d", len(gotData), err, name, len(wantData))
	}
	if _, err := root.tree.Lstat("boot/" + name); err == nil {
		t.Errorf("the kernel is still in the initramfs tree")
	}
}

// layout: /.tether gets every library iptables needs, as readelf lists its
// DT_NEEDED entries, and /bin/tether is --bin's tether-linux.
func TestLayout(t *testing.T) {
	testrepo.NeedTools(t, "readelf")
	opts, _ := testOptions(t)
	src, _, _, root := stagesUpTo(t, opts)
	lay, err := layout(context.Background(), src, root, opts.Bin)
	if err != nil {
		t.Fatal(err)
	}
	tether, _ := root.tree.ReadFile("bin/tether")
	want, wantSum, err := readBin(opts.Bin, "tether-linux")
	if err != nil {
		t.Fatal(err)
	}
	if string(tether) != string(want) || lay.tetherSum != wantSum {
		t.Errorf("bin/tether is not --bin's tether-linux (sha256 %s)", lay.tetherSum)
	}
	dsts := map[string]bool{}
	for _, c := range lay.tether.Files {
		dsts[c.Dst] = true
	}
	ipt, err := root.tree.ReadFile("sbin/iptables")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "iptables")
	if err := os.WriteFile(f, ipt, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("readelf", "-d", f).Output()
	if err != nil {
		t.Fatalf("readelf -d: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if _, lib, ok := strings.Cut(line, "Shared library: ["); ok {
			lib = strings.TrimSuffix(lib, "]")
			n++
			if !dsts["lib64/"+lib] {
				t.Errorf("iptables needs %s; /.tether has no lib64/%s", lib, lib)
			}
		}
	}
	if n == 0 {
		t.Errorf("readelf lists no DT_NEEDED for iptables:\n%s", out)
	}
}

// The whole pipeline: the ISO carries VIC's publisher as isoinfo reads it,
// its initramfs holds exactly the paths of the manifest as GNU cpio lists
// them, and Verify rebuilds the same bytes from what the ISO records.
func TestBuildAndVerify(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo", "cpio", "gzip", "sh")
	ctx := context.Background()
	opts, _ := testOptions(t)
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("isoinfo", "-d", "-i", res.ISO).Output()
	if err != nil {
		t.Fatalf("isoinfo -d: %v", err)
	}
	if !strings.Contains(string(out), "Publisher id: VMWARE INC. V1.5.8-0-9489F63") {
		t.Errorf("isoinfo -d:\n%s", out)
	}
	cmd := exec.Command("sh", "-c", `isoinfo -R -i "$1" -x /boot/core.gz | gzip -dc | cpio -t --quiet`, "sh", res.ISO)
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("isoinfo -x | cpio -t: %v", err)
	}
	var cpioPaths []string
	for _, p := range strings.Fields(string(list)) {
		cpioPaths = append(cpioPaths, strings.TrimPrefix(p, "./"))
	}
	sort.Strings(cpioPaths)
	mt, err := os.ReadFile(res.MTree)
	if err != nil {
		t.Fatal(err)
	}
	var mtPaths []string
	for _, line := range strings.Split(string(mt), "\n") {
		if line == "" || line[0] == '#' || line[0] == '/' {
			continue
		}
		mtPaths = append(mtPaths, mtree.Unescape(strings.TrimPrefix(strings.Fields(line)[0], "./")))
	}
	sort.Strings(mtPaths)
	if len(cpioPaths) == 0 || !slices.Equal(cpioPaths, mtPaths) {
		for i := range min(len(cpioPaths), len(mtPaths)) {
			if cpioPaths[i] != mtPaths[i] {
				t.Errorf("first difference: cpio %q, manifest %q", cpioPaths[i], mtPaths[i])
				break
			}
		}
		t.Errorf("cpio lists %d paths, the manifest %d", len(cpioPaths), len(mtPaths))
	}

	// Verify reads the definition, the lock and the keys from the ISO.
	vopts := opts
	vopts.Definition, vopts.Out = nil, ""
	vr, err := Verify(ctx, res.ISO, vopts)
	if err != nil {
		t.Fatal(err)
	}
	if !vr.Same || vr.Rebuilt.SHA256 != res.SHA256 {
		t.Errorf("rebuild sha256 %s, built %s", vr.Rebuilt.SHA256, res.SHA256)
	}
	// Another tether is refused before anything is rebuilt.
	vopts.Bin = Dir{FS: fstest.MapFS{"tether-linux": {Data: []byte("other")}, "unpack": {Data: []byte("other")}}, Name: "other"}
	if _, err := Verify(ctx, res.ISO, vopts); err == nil || errors.Is(err, ErrDiffers) || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("verify with another tether: %v", err)
	}
}
