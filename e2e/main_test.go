package e2e_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

var (
	vicrootBin string // the static binary under test
	binDir     string // tether-linux, unpack and the appliance's stand-ins from testdata
)

// TestMain builds the binaries the way they ship (CGO_ENABLED=0), and only
// when a test or benchmark of this package is selected to run: a package
// test build (`go test -run XXX ./...`, `go test -list`) does not pay for
// three static links.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vicroot-e2e-")
	if err != nil {
		panic(err)
	}
	vicrootBin = filepath.Join(dir, "vicroot")
	binDir = filepath.Join(dir, "bin")
	if selected() {
		root := testrepo.ModuleRoot()
		for _, b := range []struct{ out, pkg string }{
			{vicrootBin, "./cmd/vicroot"},
			{filepath.Join(binDir, "tether-linux"), "./testdata/tether"},
			{filepath.Join(binDir, "unpack"), "./testdata/unpack"},
			{filepath.Join(binDir, "vic-init"), "./testdata/vicdaemon"},
		} {
			cmd := exec.Command("go", "build", "-trimpath", "-o", b.out, b.pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				os.Stderr.Write(out)
				panic(err)
			}
		}
	}
	if selected() {
		// The appliance's other stand-ins: the daemon under VIC's other
		// names, and a vicadmin-home.
		stub, err := os.ReadFile(filepath.Join(binDir, "vic-init"))
		if err != nil {
			panic(err)
		}
		for _, n := range []string{"docker-engine-server", "port-layer-server", "vicadmin"} {
			if err := os.WriteFile(filepath.Join(binDir, n), stub, 0o755); err != nil {
				panic(err)
			}
		}
		if err := os.MkdirAll(filepath.Join(binDir, "vicadmin-home"), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(filepath.Join(binDir, "vicadmin-home", "index.html"), []byte("<p>vicadmin stand-in</p>\n"), 0o644); err != nil {
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// selected reports whether -test.run or -test.bench selects one of this
// package's top-level tests, benchmarks or fuzz targets (read from its
// source, as go test itself finds them), matching the first element of the
// pattern as the testing package does. When in doubt it says yes.
func selected() bool {
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return false
	}
	var names []string
	files, _ := filepath.Glob("*_test.go")
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return true
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				names = append(names, fd.Name.Name)
			}
		}
	}
	for _, sel := range []struct{ flag, prefix string }{{"test.run", "Test"}, {"test.run", "Fuzz"}, {"test.run", "Example"}, {"test.bench", "Benchmark"}} {
		f := flag.Lookup(sel.flag)
		if f == nil {
			return true
		}
		pat := f.Value.String()
		if pat == "" {
			if sel.flag == "test.run" {
				pat = "."
			} else {
				continue
			}
		}
		re, err := regexp.Compile(firstElem(pat))
		if err != nil {
			return true
		}
		for _, n := range names {
			if strings.HasPrefix(n, sel.prefix) && re.MatchString(n) {
				return true
			}
		}
	}
	return false
}

// firstElem is a -run pattern's top-level element: the text before the
// first '/' outside brackets and parentheses.
func firstElem(pat string) string {
	depth := 0
	for i, c := range pat {
		switch c {
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case '/':
			if depth == 0 {
				return pat[:i]
			}
		}
	}
	return pat
}

// vicroot runs the binary and returns stdout; it fails the test on a
// non-zero exit unless wantErr.
func vicroot(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(vicrootBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// definition copies the test repository's definition folder to a temp dir
// and edits it: spec changes are applied to repo-spec.json, initSH (when
// not nil) replaces init.sh.
func definition(t *testing.T, repo string, edit func(spec map[string]any), initSH []byte) string {
	t.Helper()
	src := filepath.Join(repo, "definition")
	dst := filepath.Join(t.TempDir(), "testrepo-2.0")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "repo-spec.json" && edit != nil {
			var spec map[string]any
			if err := json.Unmarshal(data, &spec); err != nil {
				t.Fatal(err)
			}
			edit(spec)
			if data, err = json.MarshalIndent(spec, "", "  "); err != nil {
				t.Fatal(err)
			}
		}
		if e.Name() == "init.sh" && initSH != nil {
			data = initSH
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// mirrors are the --mirror flags pointing the definition's repositories
// at the local test repository.
func mirrors(repo string) []string {
	return []string{
		"--mirror", "photon=file://" + filepath.Join(repo, "photon") + "/",
		"--mirror", "photon-updates=file://" + filepath.Join(repo, "photon-updates") + "/",
	}
}

// buildISO runs vicroot build and returns the ISO's path.
func buildISO(t *testing.T, repo, def, out string, extra ...string) string {
	t.Helper()
	args := append([]string{"build", "--repo", def, "--out", out, "--bin", binDir,
		"--cache", filepath.Join(t.TempDir(), "cache"), "--version", "v1.5.8-0-9489f63"}, mirrors(repo)...)
	args = append(args, extra...)
	stdout, stderr, err := vicroot(t, nil, args...)
	if err != nil {
		t.Fatalf("vicroot %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	return lines[0]
}

// plainInit is an init.sh that only names drivers: vicroot generates the
// /.tether copy functions itself.
var plainInit = []byte("# drivers only: vicroot computes /.tether\ndrivers=(nf_conntrack xt_REDIRECT nf_reject_ipv4 nfsv3 lockd)\n")

// The seed's checks, automated: a containerVM boots vicroot's
// bootstrap.iso, VIC's /bin/init runs, the drivers load, /.tether is filled
// from the build-time list, haveged runs from /.tether with the seed's
// command line, iptables lists the VIC chain; and the fourth check, NFS:
// before the switch the definition's NFS drivers are loaded and nfs is in
// /proc/filesystems. Each of VIC's init branches boots: /bin/init as PID 1
// on a systemd-layout image, systemd as PID 1 (switched by systemctl
// switch-root), and a SysV image.
func TestBootstrapBoots(t *testing.T) {
	repo := testrepo.Dir(t)
	bootstrap := func(pkgs string) func(map[string]any) {
		return func(spec map[string]any) {
			spec["packages"].(map[string]any)["bootstrap"] = pkgs
		}
	}
	for _, c := range []struct {
		name    string
		edit    func(map[string]any)
		initSH  []byte
		staging []byte
		// inImage and notInImage are paths `vicroot inspect` must list or not.
		inImage, notInImage []string
		wants               []string // more lines ttyS1 must have
	}{
		// vicroot's own /.tether functions, and no bash in the image: the
		// staging hook removes the bash that iptables-apply pulls in, and
		// points bash's /bin/sh at toybox.
		{name: "busybox-only", initSH: plainInit, staging: []byte("rm -f rootfs/usr/bin/bash rootfs/usr/bin/rbash\nln -sfn toybox rootfs/usr/bin/sh\n"),
			notInImage: []string{"./usr/bin/bash"},
			wants:      []string{"(systemd branch, PID 1)", "vicroot: starting /usr/lib/systemd/systemd-udevd"}},
		// The definition as it is: a legacy init.sh with VIC's
		// install-entropy/install-iptables, run by bash.
		{name: "legacy-bash", wants: []string{"(systemd branch, PID 1)"}},
		// systemd as PID 1 (VIC's photon-1.0-passthrough): vic.target
		// starts tether.service, which runs /bin/init; the bootstrap leaves
		// with systemctl switch-root.
		{name: "systemd-pid1", initSH: plainInit,
			edit: func(spec map[string]any) {
				spec["init"] = "/lib/systemd/systemd"
				bootstrap("iproute2 systemd-udev systemd")(spec)
			},
			inImage: []string{"./usr/lib/systemd/systemd", "./usr/bin/systemctl", "./etc/systemd/system/tether.service",
				"./etc/systemd/system/vic.target.wants/tether.service", "./etc/systemd/system/default.target"},
			notInImage: []string{"./etc/inittab"},
			wants: []string{"(systemd branch, PID ", "vicroot: starting /usr/lib/systemd/systemd-udevd",
				"vicroot: systemd is PID 1: systemctl switch-root"}},
		// A SysV image (VIC's centos-6.9 layout): no /etc/systemd, udevd at
		// /sbin/udevd; the SysV files are laid down and /bin/init boots as
		// rdinit.
		{name: "sysv", initSH: plainInit, edit: bootstrap("iproute2 udev"),
			inImage:    []string{"./etc/rc.d/init.d/tether", "./etc/rc.d/rc1.d/S90tether", "./etc/inittab", "./usr/sbin/udevd"},
			notInImage: []string{"./etc/systemd ", "./etc/systemd/system/tether.service"},
			wants:      []string{"(sysv branch, PID 1)", "vicroot: starting /sbin/udevd"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := definition(t, repo, c.edit, c.initSH)
			if c.staging != nil {
				if err := os.WriteFile(filepath.Join(def, "staging.sh"), c.staging, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			isoPath := buildISO(t, repo, def, t.TempDir(), "--boot-arg", "panic=-1")
			out, _, err := vicroot(t, nil, "inspect", isoPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range c.inImage {
				if !strings.Contains(out, "\n"+p+" ") {
					t.Errorf("the image lacks %s", p)
				}
			}
			for _, p := range c.notInImage {
				if strings.Contains(out, "\n"+p) {
					t.Errorf("the image has %s", p)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			res := bootISO(t, isoPath, 240e9)
			requireLines(t, "ttyS1", res.TTYS1, append([]string{
				"vicroot: /bin/init starting",
				"vicroot: switching root to /mnt/containerfs",
				"VICROOT-TETHER-OK",
				"/.tether/lib64/ld-linux-x86-64.so.2 --library-path /.tether/lib64 /.tether/bin/haveged -w 1024 -v 1 -F",
				"Chain VIC",
			}, c.wants...)...)
			for _, bad := range []string{"modprobe nf_conntrack failed", "modprobe xt_REDIRECT failed", "VICROOT-TETHER-FAIL", "bootstrap failed"} {
				if strings.Contains(res.TTYS1, bad) {
					t.Errorf("ttyS1 has %q", bad)
				}
			}
			checkNFS(t, res.TTYS1, []string{"nfsv3", "lockd"})
			if c.name == "systemd-pid1" && strings.Contains(res.TTYS1, "(systemd branch, PID 1)") {
				t.Error("/bin/init ran as PID 1, not from systemd's tether.service")
			}
		})
	}
}

// checkNFS is the seed's fourth check: before the switch, the NFS drivers
// the definition names are loaded and the kernel offers the nfs
// filesystem, as /bin/bootstrap logs /proc/modules and /proc/filesystems.
func checkNFS(t *testing.T, ttyS1 string, drivers []string) {
	t.Helper()
	var mods, fss []string
	for _, l := range strings.Split(strings.ReplaceAll(ttyS1, "\r", ""), "\n") {
		if v, ok := strings.CutPrefix(l, "vicroot: modules loaded:"); ok {
			mods = strings.Fields(v)
		}
		if v, ok := strings.CutPrefix(l, "vicroot: filesystems:"); ok {
			fss = strings.Fields(v)
		}
	}
	if !slices.Contains(fss, "nfs") {
		t.Errorf("nfs is not in /proc/filesystems before the switch: %q", fss)
	}
	for _, d := range drivers {
		if !slices.Contains(mods, d) {
			t.Errorf("NFS driver %s is not loaded before the switch: %q", d, mods)
		}
	}
}
