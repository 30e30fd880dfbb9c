package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
	"github.com/vicroot/vicroot/vic"
)

// The appliance recipe (issue 12), against the test repository's
// appliance set: dnf is the oracle of the package set, and the appliance
// steps are checked against what VIC's scripts leave.

// applianceOptions are testOptions for the appliance: --bin holds the five
// daemons (/bin/true: the build copies them and checks their ELF note) and
// a stand-in vicadmin-home.
func applianceOptions(t *testing.T) (Options, string) {
	t.Helper()
	opts, repo := testOptions(t)
	exe, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true to stand in for VIC's daemons")
	}
	bin := fstest.MapFS{
		"vicadmin-home/index.html":    {Data: []byte("<p>vicadmin stand-in</p>\n"), Mode: 0o644},
		"vicadmin-home/css/style.css": {Data: []byte("p{}\n"), Mode: 0o644},
	}
	for _, d := range vic.ApplianceDaemons {
		bin[d.Name] = &fstest.MapFile{Data: exe, Mode: 0o755}
	}
	bin["tether-linux"] = &fstest.MapFile{Data: exe, Mode: 0o755}
	opts.Bin = Dir{FS: bin, Name: "testbin"}
	opts.Target = TargetAppliance
	return opts, repo
}

// dnfRoot is a dnf configuration over the test repository's two
// repositories and an install root.
type dnfRoot struct {
	t          *testing.T
	root, work string
}

func newDNFRoot(t *testing.T, repo string) *dnfRoot {
	t.Helper()
	testrepo.NeedTools(t, "dnf", "rpm")
	work := t.TempDir()
	var rf strings.Builder
	for _, id := range []string{"photon", "photon-updates"} {
		rf.WriteString("[" + id + "]\nname=" + id + "\nbaseurl=file://" + filepath.Join(repo, id) + "\nenabled=1\ngpgcheck=0\nmetadata_expire=0\n\n")
	}
	if err := os.MkdirAll(filepath.Join(work, "repos"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "repos", "t.repo"), []byte(rf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return &dnfRoot{t: t, root: filepath.Join(work, "root"), work: work}
}

// run runs dnf on the root, recording the transactions in the rpmdb only
// (no files, no scriptlets): the package set is what is compared. tdnf
// erase, like vicroot, does not remove dependencies left unneeded.
func (d *dnfRoot) run(args ...string) {
	d.t.Helper()
	base := []string{"--installroot=" + d.root, "--setopt=reposdir=" + filepath.Join(d.work, "repos"),
		"--setopt=cachedir=" + filepath.Join(d.work, "cache"), "--releasever=2.0", "--disableplugin=*",
		"--setopt=tsflags=justdb,noscripts", "--setopt=clean_requirements_on_remove=False", "-q", "-y"}
	if out, err := exec.Command("dnf", append(base, args...)...).CombinedOutput(); err != nil {
		d.t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// installed is `rpm -qa` of the root: NEVRAs, sorted.
func (d *dnfRoot) installed() []string {
	d.t.Helper()
	out, err := exec.Command("rpm", "--root", d.root, "-qa", "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\n").Output()
	if err != nil {
		d.t.Fatalf("rpm -qa: %v", err)
	}
	l := strings.Fields(string(out))
	sort.Strings(l)
	return l
}

func nevras(pkgs []*rpmrepo.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.NEVRA())
	}
	sort.Strings(out)
	return out
}

// mustAppliancePlan opens the repositories and resolves the appliance
// (without the boot loader).
func mustAppliancePlan(t *testing.T, opts Options) (*source, *plans) {
	t.Helper()
	src := mustOpen(t, opts)
	ctx := context.Background()
	base, err := basePlan(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := appliancePlan(ctx, src, base, false)
	if err != nil {
		t.Fatal(err)
	}
	return src, pl
}

// The appliance plan is dnf's: install base and kernel, `dnf remove
// toybox`, install packages.appliance: the same packages, and the erase
// takes along what dnf's remove takes along.
func TestAppliancePlan(t *testing.T) {
	opts, repo := applianceOptions(t)
	src, pl := mustAppliancePlan(t, opts)
	def := src.def
	sc := def.Spec.StagingCommand(repos.StageAppliance)
	if sc == nil || !sc.Erases() {
		t.Fatalf("the test definition's appliance staging is %v, want an erase", sc)
	}
	baseNames, _ := def.PackageList(repos.StageBase)
	appNames, _ := def.PackageList(repos.StageAppliance)

	d := newDNFRoot(t, repo)
	d.run(append(append([]string{"install"}, baseNames...), def.Spec.Kernel)...)
	before := d.installed()
	if got := nevras(pl.base.Packages); !slices.Equal(got, before) {
		t.Errorf("base plan\n%s\ndnf installs\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
	d.run(append([]string{"remove"}, sc.Packages...)...)
	after := d.installed()
	var dnfErased []string
	for _, n := range before {
		if !slices.Contains(after, n) {
			dnfErased = append(dnfErased, n)
		}
	}
	if got := nevras(pl.stage.Erase); !slices.Equal(got, dnfErased) {
		t.Errorf("the staging erases\n%s\ndnf remove erases\n%s", strings.Join(got, "\n"), strings.Join(dnfErased, "\n"))
	}
	var along []string
	for _, n := range dnfErased {
		if !slices.ContainsFunc(sc.Packages, func(p string) bool { return strings.HasPrefix(n, p+"-") }) {
			along = append(along, n)
		}
	}
	if got := nevras(pl.takenAlong); !slices.Equal(got, along) {
		t.Errorf("taken along %v, dnf took along %v", got, along)
	}
	d.run(append([]string{"install"}, appNames...)...)
	want := d.installed()
	if got := nevras(pl.installed); !slices.Equal(got, want) {
		t.Errorf("appliance plan\n%s\ndnf leaves\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, n := range append(appNames, "openssh-server", "rpm") {
		if !slices.ContainsFunc(pl.installed, func(p *rpmrepo.Package) bool { return p.Name == n }) {
			t.Errorf("%s is not in the appliance plan", n)
		}
	}
	if slices.ContainsFunc(pl.installed, func(p *rpmrepo.Package) bool { return p.Name == "toybox" }) {
		t.Errorf("toybox is still in the appliance plan")
	}
	// The lock pins every package dnf installed at some point: the base
	// set (toybox and what its erase took along included) and the
	// appliance's.
	ever := slices.Compact(sorted(append(slices.Clone(before), want...)))
	if got := nevras(pl.pinned()); !slices.Equal(got, ever) {
		t.Errorf("the lock pins\n%s\ndnf installed\n%s", strings.Join(got, "\n"), strings.Join(ever, "\n"))
	}
}

// A --lock rebuild of the appliance installs (and erases) the toybox the
// lock pins, not a newer one: on a copy of the repositories whose
// photon-updates gains toybox-99 (built with rpmbuild, signed with the test
// key by rpmsign), which requires busybox, a build without the lock takes
// toybox-99 and keeps busybox after the erase, and the build with the first
// build's lock makes the same ISO byte for byte.
func TestApplianceLockPinsErased(t *testing.T) {
	testrepo.NeedTools(t, "rpmbuild", "rpmsign", "gpg", "gpgconf", "createrepo_c")
	ctx := context.Background()
	opts, _ := applianceOptions(t)
	first, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	lockJSON, err := os.ReadFile(first.Lock)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := resolver.ParseLock(lockJSON, first.Lock)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(lock.Packages, func(lp resolver.LockedPackage) bool { return lp.Name == "toybox" && lp.Erased }) {
		t.Fatalf("the appliance's lock does not pin the toybox it installed and erased (marked erased)")
	}
	for _, lp := range lock.Packages {
		if lp.Erased != !slices.Contains(first.Packages, lp.NEVRA) && lp.Name != "syslinux" {
			t.Errorf("the lock marks %s erased=%v, but the image's packages are %v", lp.NEVRA, lp.Erased, first.Packages)
		}
	}

	c := testrepo.NewCopy(t)
	newerToybox(t, c, c.Path("photon-updates"))
	c.Regen("photon-updates")
	opts.Mirrors = map[string]string{
		"photon":         "file://" + c.Path("photon") + "/",
		"photon-updates": "file://" + c.Path("photon-updates") + "/",
	}
	opts.Out = t.TempDir()
	unlocked, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(unlocked.Packages, func(n string) bool { return strings.HasPrefix(n, "busybox-") }) || unlocked.SHA256 == first.SHA256 {
		t.Fatalf("without the lock, the copy's toybox-99 should leave busybox in the image: %v", unlocked.Packages)
	}
	opts.Out, opts.Lock = t.TempDir(), lock
	locked, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if locked.SHA256 != first.SHA256 {
		t.Errorf("the --lock rebuild has sha256 %s, the first build %s; it installs %v", locked.SHA256, first.SHA256, locked.Packages)
	}
}

// newerToybox builds toybox-99 (no files; Requires: busybox) with
// rpmbuild, signs it with the test repository's key and puts it in the
// copy's repository dir.
func newerToybox(t *testing.T, c *testrepo.Copy, dir string) {
	t.Helper()
	w := t.TempDir()
	spec := filepath.Join(w, "toybox.spec")
	if err := os.WriteFile(spec, []byte("Name: toybox\nVersion: 99\nRelease: 1.ph2\nSummary: a newer toybox that needs busybox\nLicense: MIT\nRequires: busybox\n\n%description\nTest package.\n\n%files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmbuild", "--quiet", "--define", "_topdir "+filepath.Join(w, "top"), "--define", "_binary_payload w2.xzdio",
		"--target", "x86_64", "-bb", spec).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	rpms, _ := filepath.Glob(filepath.Join(w, "top", "RPMS", "*", "toybox-99-*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("rpmbuild made %v", rpms)
	}
	c.SignPackages(rpms[0])
	data, err := os.ReadFile(rpms[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(rpms[0])), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// An erase that takes the kernel or a package of packages.base along is
// reported and warned about, and agrees with dnf remove.
func TestApplianceEraseWarns(t *testing.T) {
	opts, repo := applianceOptions(t)
	def := *opts.Definition
	spec := *def.Spec
	def.Spec = &spec
	def.Spec.Staging.Appliance = &repos.StagingCommand{Verb: repos.VerbErase, Packages: []string{"kmod"}}
	opts.Definition = &def
	_, pl := mustAppliancePlan(t, opts)
	baseNames, _ := def.PackageList(repos.StageBase)
	d := newDNFRoot(t, repo)
	d.run(append(append([]string{"install"}, baseNames...), def.Spec.Kernel)...)
	before := d.installed()
	d.run("remove", "kmod")
	after := d.installed()
	var along []string
	for _, n := range before {
		if !slices.Contains(after, n) && !strings.HasPrefix(n, "kmod-") {
			along = append(along, n)
		}
	}
	if got := nevras(pl.takenAlong); !slices.Equal(got, along) || len(along) == 0 {
		t.Fatalf("erase kmod took along %v, dnf remove took along %v", got, along)
	}
	joined := strings.Join(pl.warnings, "\n")
	if !strings.Contains(joined, def.Spec.Kernel) || !strings.Contains(joined, "it is the kernel") {
		t.Errorf("warnings %q do not name the kernel %s", pl.warnings, def.Spec.Kernel)
	}
}

// countingProgress counts the downloads a build starts, by URL, and the
// stages it enters.
type countingProgress struct {
	mu        sync.Mutex
	downloads map[string]int
	stages    map[string]int
}

func (c *countingProgress) Stage(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stages[name]++
}

func (c *countingProgress) StartDownload(url string, total int64) rpmrepo.Transfer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.HasSuffix(url, ".rpm") {
		c.downloads[url]++
	}
	return nopTransfer{}
}

type nopTransfer struct{}

func (nopTransfer) Progress(int64) {}
func (nopTransfer) Done(error)     {}

// --target all: both images from one fetch into a cold cache, every
// package of the union downloaded (and so verified) exactly once; each ISO
// is byte for byte what its own target's build makes.
func TestBuildAll(t *testing.T) {
	ctx := context.Background()
	opts, _ := applianceOptions(t)
	opts.Target = TargetAll
	opts.CacheDir = t.TempDir()
	cp := &countingProgress{downloads: map[string]int{}, stages: map[string]int{}}
	opts.Progress = cp
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Also) != 1 || filepath.Base(res.ISO) != "bootstrap-testrepo-2.0.iso" || filepath.Base(res.Also[0].ISO) != "appliance-testrepo-2.0.iso" {
		t.Fatalf("built %s and %v", res.ISO, res.Also)
	}
	if cp.stages["fetch"] != 1 || cp.stages["resolve"] != 1 {
		t.Errorf("stages %v: want one resolve and one fetch", cp.stages)
	}
	src := mustOpen(t, opts)
	base, err := basePlan(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := bootstrapPlan(ctx, src, base, true)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := appliancePlan(ctx, src, base, true)
	if err != nil {
		t.Fatal(err)
	}
	u := union([]*plans{bp, ap})
	for url, n := range cp.downloads {
		if n != 1 {
			t.Errorf("%s downloaded %d times", url, n)
		}
	}
	if len(cp.downloads) != len(u) {
		t.Errorf("%d packages downloaded, the union of both plans has %d", len(cp.downloads), len(u))
	}
	shared := 0
	for _, p := range bp.fetch() {
		if slices.Contains(ap.fetch(), p) {
			shared++
		}
	}
	if shared == 0 || len(u) >= len(bp.fetch())+len(ap.fetch()) {
		t.Errorf("the two plans share %d packages; union %d of %d+%d", shared, len(u), len(bp.fetch()), len(ap.fetch()))
	}
	// Each image is what its own target builds (warm cache now).
	for _, c := range []struct {
		target Target
		want   *Result
	}{{TargetBootstrap, res}, {TargetAppliance, res.Also[0]}} {
		o := opts
		o.Target, o.Out, o.Progress = c.target, t.TempDir(), nil
		r, err := Build(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.SHA256 != c.want.SHA256 {
			t.Errorf("%s alone: sha256 %s; in --target all: %s", c.target, r.SHA256, c.want.SHA256)
		}
	}
}

// Bad input: each a clear error naming the thing, and nothing written.
func TestApplianceBadInput(t *testing.T) {
	ctx := context.Background()
	opts, _ := applianceOptions(t)
	for _, c := range []struct {
		name string
		edit func(*Options, *repos.Definition)
		want []string
	}{
		{"no packages.appliance", func(o *Options, d *repos.Definition) { d.Spec.Packages.Appliance = nil }, []string{"resolve: ", "packages.appliance is empty"}},
		{"unknown appliance package", func(o *Options, d *repos.Definition) {
			d.Spec.Packages.Appliance = append(slices.Clone(d.Spec.Packages.Appliance), "no-such-package")
		}, []string{"resolve: ", "no-such-package"}},
		{"erase of a package not installed", func(o *Options, d *repos.Definition) {
			d.Spec.Staging.Appliance = &repos.StagingCommand{Verb: repos.VerbErase, Packages: []string{"busybox"}}
		}, []string{"resolve: ", "busybox"}},
		{"a daemon missing", func(o *Options, d *repos.Definition) {
			bin := fstest.MapFS{}
			for k, v := range o.Bin.FS.(fstest.MapFS) {
				if k != "port-layer-server" {
					bin[k] = v
				}
			}
			o.Bin.FS = bin
		}, []string{"layout: ", "port-layer-server"}},
		{"no vicadmin-home", func(o *Options, d *repos.Definition) {
			bin := fstest.MapFS{}
			for k, v := range o.Bin.FS.(fstest.MapFS) {
				if !strings.HasPrefix(k, "vicadmin-home/") {
					bin[k] = v
				}
			}
			o.Bin.FS = bin
		}, []string{"layout: ", "vicadmin-home"}},
		{"all, appliance fails", func(o *Options, d *repos.Definition) {
			o.Target = TargetAll
			d.Spec.Packages.Appliance = nil
		}, []string{"packages.appliance"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := opts
			def := *opts.Definition
			spec := *def.Spec
			def.Spec = &spec
			o.Definition = &def
			o.Out = t.TempDir()
			c.edit(&o, &def)
			_, err := Build(ctx, o)
			if err == nil {
				t.Fatal("built")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			ents, _ := os.ReadDir(o.Out)
			for _, e := range ents {
				t.Errorf("left %s in the out dir", e.Name())
			}
		})
	}
	// A missing daemon with --target all: the bootstrap is not written
	// either.
	o := opts
	o.Target, o.Out = TargetAll, t.TempDir()
	bin := fstest.MapFS{}
	for k, v := range o.Bin.FS.(fstest.MapFS) {
		if k != "vic-init" {
			bin[k] = v
		}
	}
	o.Bin.FS = bin
	if _, err := Build(ctx, o); err == nil || !strings.Contains(err.Error(), "vic-init") {
		t.Errorf("all without vic-init: %v", err)
	}
	if ents, _ := os.ReadDir(o.Out); len(ents) != 0 {
		t.Errorf("all without vic-init left %d files", len(ents))
	}
}

// applianceStages runs the appliance's stages up to and with the layout;
// it returns the tree before the layout's account steps too (a copy of
// the account files and sshd_config, by path).
func applianceStages(t *testing.T, opts Options) (*installed, *laidOut, map[string][]byte, int64) {
	t.Helper()
	ctx := context.Background()
	src := mustOpen(t, opts)
	base, err := basePlan(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := appliancePlan(ctx, src, base, true)
	if err != nil {
		t.Fatal(err)
	}
	got := startFetch(ctx, src, nil, pl)
	if _, err := got.wait(); err != nil {
		t.Fatal(err)
	}
	epoch := buildEpoch(pl.installed, nil)
	root, err := install(ctx, src.def, pl, got, epoch, installConfig{CacheDir: opts.CacheDir, Logger: newStages(opts).log})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, p := range []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/login.defs", "etc/default/useradd", "etc/ssh/sshd_config", "etc/sudoers"} {
		if data, err := root.tree.ReadFile(p); err == nil {
			before[p] = data
		}
	}
	if _, err := root.tree.Lstat("etc/systemd/system/multi-user.target.wants/sshd.service"); err != nil {
		t.Errorf("before the layout, the preset left no sshd.service wants link (%v): the test would not see VIC remove it", err)
	}
	lay, err := applianceLayout(ctx, src, root, opts.Bin)
	if err != nil {
		t.Fatal(err)
	}
	return root, lay, before, epoch.Unix()
}

// The appliance layout against VIC's own commands: the account files are
// what sed and Debian's shadow-utils (groupadd/useradd/usermod --prefix)
// make of the same files with VIC's arguments; sshd_config is what sed
// makes of it; and the rest is where VIC's script puts it.
func TestApplianceLayout(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "sed", "groupadd", "useradd", "usermod")
	opts, _ := applianceOptions(t)
	root, lay, before, epoch := applianceStages(t, opts)
	tree := root.tree

	dir := t.TempDir()
	for p, data := range before {
		f := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconvI(epoch))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	etc := func(f string) string { return filepath.Join(dir, "etc", f) }
	// appliance-staging.sh
	run("sed", "-i", "-e", `s/\#*PermitRootLogin\s.*/PermitRootLogin yes/`, etc("ssh/sshd_config"))
	run("sed", "-i", "-e", `s@:/bin/bash$@:/bin/false@`, etc("passwd"))
	run("sed", "-i", "-e", `s/^root:[^:]*:/root:`+strings.ReplaceAll(vic.RootPasswordHash, "/", `\/`)+`:/`, etc("shadow"))
	// appliance.sh
	run("groupadd", "--prefix", dir, "-g", "1000", "vicadmin")
	run("useradd", "--prefix", dir, "-u", "1000", "-g", "1000", "-G", "systemd-journal", "-m", "-d", "/home/vicadmin", "-s", "/bin/false", "vicadmin")
	run("groupadd", "--prefix", dir, "-g", "1001", "vic")
	run("usermod", "--prefix", dir, "-a", "-G", "vic", "vicadmin")
	for _, f := range []string{"passwd", "group", "shadow", "gshadow", "ssh/sshd_config"} {
		want, werr := os.ReadFile(etc(f))
		got, gerr := tree.ReadFile("etc/" + f)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("etc/%s: VIC's commands: %v, ours: %v", f, werr, gerr)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("etc/%s:\nours:\n%s\nVIC's commands:\n%s", f, got, want)
		}
	}
	if !strings.Contains(string(before["etc/ssh/sshd_config"]), "#PermitRootLogin") {
		t.Errorf("the test repository's sshd_config has no #PermitRootLogin line for VIC's sed")
	}
	sudoers, _ := tree.ReadFile("etc/sudoers")
	if want := string(before["etc/sudoers"]) + "vicadmin ALL=NOPASSWD: /sbin/iptables --list\n"; string(sudoers) != want {
		t.Errorf("etc/sudoers:\n%s\nwant the package's plus VIC's line", sudoers)
	}
	if fi, err := tree.Lstat("etc/sudoers"); err != nil || fi.Mode().Perm() != 0o440 {
		t.Errorf("etc/sudoers mode %v (%v), want sudo's 0440", fi.Mode(), err)
	}

	gone := []string{"usr/lib/systemd/system/sshd@.service", "etc/systemd/system/multi-user.target.wants/sshd.service", "etc/initrd-release"}
	for _, p := range gone {
		if _, err := tree.Lstat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	links := map[string]string{
		"etc/systemd/system/default.target":                       "/etc/systemd/system/vic.target",
		"etc/systemd/system/vic.target.wants/vic-init.service":    "/etc/systemd/system/vic-init.service",
		"etc/systemd/system/vic.target.wants/nat.service":         "/etc/systemd/system/nat.service",
		"etc/systemd/system/vic.target.wants/permissions.service": "/etc/systemd/system/permissions.service",
		"etc/systemd/system/vic.target.wants/multi-user.target":   "/lib/systemd/system/multi-user.target",
	}
	for p, want := range links {
		if got, err := tree.ReadLink(p); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %s", p, got, err, want)
		}
		if _, err := tree.Stat(p); err != nil {
			t.Errorf("%s dangles: %v", p, err)
		}
	}
	modes := map[string]os.FileMode{
		"etc/machine-id": 0o444, "etc/systemd/scripts/nat-setup": 0o755, "etc/systemd/scripts/permissions-setup": 0o755,
		"sbin/vic-init": 0o755, "sbin/docker-engine-server": 0o755, "sbin/port-layer-server": 0o755, "sbin/vicadmin": 0o755, "bin/unpack": 0o755,
		"run/lock": os.ModeDir | os.ModeSticky | 0o777, "run/lock/logrotate_run.lock": 0o660,
		"etc/systemd/network/no-dhcp.network": 0o644, "usr/lib/systemd/system/getty@tty1.service.d/override.conf": 0o644,
		"etc/pam.d/chpasswd": 0o644, "etc/pam.d/chage": 0o644, "etc/sysctl.conf": 0o644, "etc/tmpfiles.d/systemd.conf": 0o644,
		"home/vicadmin/index.html": 0o644, "home/vicadmin/css/style.css": 0o644,
	}
	for p, want := range modes {
		fi, err := tree.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	if data, _ := tree.ReadFile("etc/machine-id"); len(data) != 0 {
		t.Errorf("etc/machine-id holds %q", data)
	}
	ents, _ := tree.ReadDir("etc/systemd/network")
	if len(ents) != 1 || ents[0].Name() != "no-dhcp.network" {
		t.Errorf("etc/systemd/network holds %v", ents)
	}
	owner := func(p string) (uint32, uint32) {
		fi, err := tree.Lstat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		m := fsmetaOf(fi)
		return m[0], m[1]
	}
	for _, p := range []string{"home/vicadmin", "home/vicadmin/index.html", "home/vicadmin/css", "home/vicadmin/css/style.css"} {
		if u, g := owner(p); u != 1000 || g != 1000 {
			t.Errorf("%s owned by %d:%d, want 1000:1000", p, u, g)
		}
	}
	if u, g := owner("run/lock/logrotate_run.lock"); u != 0 || g != 1001 {
		t.Errorf("logrotate_run.lock owned by %d:%d, want root:vic (0:1001)", u, g)
	}
	if lay.appliance == nil || !slices.Equal(lay.appliance.Home, []string{"css/style.css", "index.html"}) {
		t.Errorf("report: %+v", lay.appliance)
	}
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

func fsmetaOf(fi os.FileInfo) [2]uint32 {
	if m := fsmeta.Of(fi); m != nil {
		return [2]uint32{m.UID, m.GID}
	}
	return [2]uint32{0, 0}
}

// The appliance ISO: isoinfo reads VIC's publisher, its isolinux.cfg boots
// systemd, GNU cpio lists the manifest's paths; verify rebuilds it from
// what it records (given --bin), inspect lists it, and diff against the
// bootstrap names the packages that differ.
func TestApplianceISO(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo", "cpio", "gzip", "sh")
	ctx := context.Background()
	opts, _ := applianceOptions(t)
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(res.ISO) != "appliance-testrepo-2.0.iso" {
		t.Errorf("ISO %s", res.ISO)
	}
	for _, suf := range SidecarSuffixes {
		if _, err := os.Stat(res.ISO + suf); err != nil {
			t.Errorf("sidecar: %v", err)
		}
	}
	cfg, err := exec.Command("isoinfo", "-R", "-i", res.ISO, "-x", "/boot/isolinux/isolinux.cfg").Output()
	if err != nil {
		t.Fatalf("isoinfo -x isolinux.cfg: %v", err)
	}
	if !strings.Contains(string(cfg), "append rdinit=/lib/systemd/systemd ") {
		t.Errorf("isolinux.cfg:\n%s", cfg)
	}
	list, err := exec.Command("sh", "-c", `isoinfo -R -i "$1" -x /boot/core.gz | gzip -dc | cpio -t --quiet`, "sh", res.ISO).Output()
	if err != nil {
		t.Fatalf("isoinfo -x | cpio -t: %v", err)
	}
	paths := map[string]bool{}
	for _, p := range strings.Fields(string(list)) {
		paths[strings.TrimPrefix(p, "./")] = true
	}
	for _, p := range []string{"usr/sbin/vic-init", "usr/bin/unpack", "etc/systemd/system/vic.target", "home/vicadmin/index.html", "usr/sbin/sshd"} {
		if !paths[p] {
			t.Errorf("the initramfs has no %s", p)
		}
	}
	for _, p := range []string{"usr/bin/toybox", "etc/initrd-release", "usr/lib/systemd/system/sshd@.service"} {
		if paths[p] {
			t.Errorf("the initramfs has %s", p)
		}
	}

	// The image's rpm database, as Debian's rpm 4.18 (the image's rpm)
	// reads it from the ISO: exactly the planned packages and one
	// gpg-pubkey entry for the one key the image carries.
	if _, err := exec.LookPath("rpm"); err == nil {
		dbdir := t.TempDir()
		cmd := exec.Command("sh", "-c", `isoinfo -R -i "$1" -x /boot/core.gz | gzip -dc | cpio -idm --quiet --no-absolute-filenames`, "sh", res.ISO)
		cmd.Dir = dbdir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("extracting /var/lib/rpm: %v\n%s", err, out)
		}
		q := exec.Command("rpm", "--dbpath", filepath.Join(dbdir, "var/lib/rpm"), "-qa", "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\n")
		var stderr strings.Builder
		q.Stderr = &stderr
		out, err := q.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("rpm -qa: %v\n%s", err, stderr.String())
		}
		got, keys := splitPubkeys(string(out))
		if want := res.Packages; !slices.Equal(got, sorted(want)) {
			t.Errorf("rpm -qa in the image\n%s\nplanned\n%s", strings.Join(got, "\n"), strings.Join(sorted(want), "\n"))
		}
		if len(keys) != 1 {
			t.Errorf("gpg-pubkey entries %v, want one for the test key", keys)
		}
		// `vicroot inspect --rpmdb` lists what rpm lists, in rpm's order.
		nq := exec.Command("rpm", "--dbpath", filepath.Join(dbdir, "var/lib/rpm"), "-qa", "--qf", "%{NEVRA}\n")
		nout, err := nq.Output()
		if err != nil {
			t.Fatalf("rpm -qa: %v", err)
		}
		f, err := os.Open(res.ISO)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		db, err := InspectRPMDB(ctx, f, fi.Size(), res.ISO)
		f.Close()
		if err != nil || db == nil {
			t.Fatalf("InspectRPMDB: %+v, %v", db, err)
		}
		if want := strings.Fields(string(nout)); db.Format != "sqlite" || db.File != "/var/lib/rpm/rpmdb.sqlite" || !slices.Equal(db.Packages, want) {
			t.Errorf("InspectRPMDB: %s (%s):\n%s\nrpm -qa:\n%s", db.File, db.Format, strings.Join(db.Packages, "\n"), nout)
		}
		// rpm -Va on the extracted tree reports only what VIC's steps
		// change: the account files, sshd_config, sudoers, the removed
		// sshd@.service, the kernel moved to the ISO and the modules
		// decompressed.
		va := exec.Command("rpm", "--root", dbdir, "--dbpath", "/var/lib/rpm", "-Va")
		vout, _ := va.CombinedOutput()
		allowed := map[string]bool{"/etc/group": true, "/etc/passwd": true, "/etc/shadow": true, "/etc/ssh/sshd_config": true,
			"/etc/sudoers": true, "/usr/lib/systemd/system/sshd@.service": true}
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(string(vout)), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			n++
			p := f[len(f)-1]
			if allowed[p] || strings.HasPrefix(p, "/boot/vmlinuz-") || f[0] == "missing" && strings.HasSuffix(p, ".ko.xz") {
				continue
			}
			t.Errorf("rpm -Va: %s", l)
		}
		if n < len(allowed) {
			t.Errorf("rpm -Va reports %d lines, fewer than VIC's steps change:\n%s", n, vout)
		}
	}

	vopts := opts
	vopts.Definition, vopts.Out = nil, ""
	vr, err := Verify(ctx, res.ISO, vopts)
	if err != nil {
		t.Fatal(err)
	}
	if !vr.Same {
		t.Errorf("rebuild sha256 %s, built %s", vr.Rebuilt.SHA256, res.SHA256)
	}
	// Without --bin, verify takes VIC's daemons and vicadmin-home from
	// the ISO, checked against the digests it records.
	vopts.Bin = Dir{}
	if vr, err := Verify(ctx, res.ISO, vopts); err != nil || !vr.Same {
		t.Errorf("verify of the appliance without --bin: %v", err)
	}
	applianceTamperedDaemon(t, opts, res, vopts)

	f, err := os.Open(res.ISO)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	ents, err := Inspect(ctx, f, fi.Size(), res.ISO)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Path, "iso:") {
			n++
		}
	}
	if n != len(paths) {
		t.Errorf("inspect lists %d initramfs paths, cpio %d", n, len(paths))
	}

	bopts, _ := testOptions(t)
	bres, err := Build(ctx, bopts)
	if err != nil {
		t.Fatal(err)
	}
	// The bootstrap has no rpm: no database, and no error.
	if bf, err := os.Open(bres.ISO); err != nil {
		t.Fatal(err)
	} else {
		bfi, _ := bf.Stat()
		db, err := InspectRPMDB(ctx, bf, bfi.Size(), bres.ISO)
		bf.Close()
		if db != nil || err != nil {
			t.Errorf("InspectRPMDB of the bootstrap: %+v, %v", db, err)
		}
	}
	d, err := Diff(ctx, bres.ISO, res.ISO)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(d.PackagesRemoved, func(s string) bool { return strings.HasPrefix(s, "toybox-") }) ||
		!slices.ContainsFunc(d.PackagesAdded, func(s string) bool { return strings.HasPrefix(s, "openssh-server-") }) {
		t.Errorf("diff bootstrap appliance: removed %v added %v", d.PackagesRemoved, d.PackagesAdded)
	}
}

// applianceTamperedDaemon: an appliance ISO whose /sbin/vic-init is not
// the one it records is refused by verify without --bin, naming the file,
// before anything is rebuilt. The altered ISO is a build with another
// vic-init (/bin/false) whose records are edited in place to name the
// original's digest; GNU cpio confirms that its initramfs holds the other
// binary.
func applianceTamperedDaemon(t *testing.T, opts Options, orig *Result, vopts Options) {
	t.Helper()
	ctx := context.Background()
	other, err := os.ReadFile("/bin/false")
	if err != nil {
		t.Skip("no /bin/false to stand in for an altered vic-init")
	}
	want, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	bin := fstest.MapFS{}
	for n, f := range opts.Bin.FS.(fstest.MapFS) {
		bin[n] = f
	}
	bin["vic-init"] = &fstest.MapFile{Data: other, Mode: 0o755}
	bopts := opts
	bopts.Bin, bopts.Out = Dir{FS: bin, Name: "otherbin"}, t.TempDir()
	res, err := Build(ctx, bopts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(res.ISO)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	n := bytes.Count(data, []byte(sum(other)))
	if n == 0 {
		t.Fatalf("%s does not record vic-init's sha256 %s", res.ISO, sum(other))
	}
	altered := filepath.Join(t.TempDir(), filepath.Base(orig.ISO))
	if err := os.WriteFile(altered, bytes.ReplaceAll(data, []byte(sum(other)), []byte(sum(want))), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command("sh", "-c", `isoinfo -R -i "$1" -x /boot/core.gz | gzip -dc | cpio -i --quiet --to-stdout usr/sbin/vic-init`, "sh", altered).Output()
	if err != nil || !bytes.Equal(got, other) {
		t.Fatalf("the altered ISO's vic-init (cpio): %d bytes, %v", len(got), err)
	}
	rec, err := ReadRecord(ctx, altered)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Inputs.Daemons["vic-init"] != sum(want) {
		t.Fatalf("the altered ISO records vic-init %s, want %s", rec.Inputs.Daemons["vic-init"], sum(want))
	}
	_, err = Verify(ctx, altered, vopts)
	if err == nil || errors.Is(err, ErrDiffers) || !strings.Contains(err.Error(), "/sbin/vic-init") || !strings.Contains(err.Error(), "altered") {
		t.Errorf("verify of an appliance with another vic-init: %v", err)
	}
	// With --bin, the folder's daemons are checked instead, as before.
	vopts.Bin = opts.Bin
	if _, err := Verify(ctx, altered, vopts); !errors.Is(err, ErrDiffers) {
		t.Errorf("verify --bin of an appliance with another vic-init: %v, want %v", err, ErrDiffers)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// The appliance's records verify reads back: daemons by VIC's names with
// a SHA-256, and vicadmin-home's entries (the folder first, then unique
// paths inside it of files with a SHA-256 and folders) are accepted;
// anything else is an error saying what is wrong.
func TestCheckInputs(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	good := func() Inputs {
		return Inputs{
			Daemons: map[string]string{"vic-init": sum, "unpack": sum},
			VicadminHome: []HomeEntry{
				{Path: ".", Mode: fsmeta.S_IFDIR | 0o755},
				{Path: "css", Mode: fsmeta.S_IFDIR | 0o755},
				{Path: "css/style.css", Mode: fsmeta.S_IFREG | 0o644, SHA256: sum},
			},
		}
	}
	if err := checkInputs(good()); err != nil {
		t.Fatalf("good records: %v", err)
	}
	for _, c := range []struct {
		name, want string
		edit       func(*Inputs)
	}{
		{"unknown daemon", "not one of VIC's daemons", func(in *Inputs) { in.Daemons["sshd"] = sum }},
		{"daemon digest", "is not a SHA-256", func(in *Inputs) { in.Daemons["vic-init"] = "xyz" }},
		{"upper-case digest", "is not a SHA-256", func(in *Inputs) { in.Daemons["unpack"] = strings.ToUpper(sum) }},
		{"no folder first", `not the folder "."`, func(in *Inputs) { in.VicadminHome = in.VicadminHome[1:] }},
		{"folder not a dir", `not the folder "."`, func(in *Inputs) { in.VicadminHome[0].Mode = fsmeta.S_IFREG | 0o644 }},
		{"path outside", "not a path inside", func(in *Inputs) { in.VicadminHome[2].Path = "../etc/passwd" }},
		{"absolute path", "not a path inside", func(in *Inputs) { in.VicadminHome[2].Path = "/etc/passwd" }},
		{"second dot", "not a path inside", func(in *Inputs) { in.VicadminHome[1].Path = "." }},
		{"listed twice", "listed twice", func(in *Inputs) { in.VicadminHome[2].Path = "css" }},
		{"symlink", "only files and folders", func(in *Inputs) { in.VicadminHome[2].Mode = fsmeta.S_IFLNK | 0o777 }},
		{"stray bits", "only files and folders", func(in *Inputs) { in.VicadminHome[2].Mode |= 1 << 20 }},
		{"file without digest", "has sha256", func(in *Inputs) { in.VicadminHome[2].SHA256 = "" }},
		{"folder with digest", "has a sha256", func(in *Inputs) { in.VicadminHome[1].SHA256 = sum }},
	} {
		in := good()
		c.edit(&in)
		if err := checkInputs(in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
