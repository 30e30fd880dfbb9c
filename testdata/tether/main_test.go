package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
)

func TestEntropyArgs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		// photon-2.0's init.sh writes exactly this line.
		{"/.tether/lib64/ld-linux-x86-64.so.2 --library-path /.tether/lib64 /.tether/bin/haveged -w 1024 -v 1 -F\n",
			[]string{"/.tether/lib64/ld-linux-x86-64.so.2", "--library-path", "/.tether/lib64", "/.tether/bin/haveged", "-w", "1024", "-v", "1", "-F"}, false},
		// Split on single spaces like VIC: a double space yields an empty argument.
		{"/bin/rngd  -f", []string{"/bin/rngd", "", "-f"}, false},
		{"/bin/x\r\n", []string{"/bin/x"}, false},
		{"", nil, true},
		{"  \n", nil, true},
		{"/bin/a\n/bin/b\n", nil, true},
	}
	for _, tt := range tests {
		got, err := entropyArgs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("entropyArgs(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("entropyArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in      string
		want    procStat
		wantErr bool
	}{
		{"1 (init) S 0 1 1 0 -1", procStat{comm: "init", state: "S", ppid: 0}, false},
		// comm may contain spaces and parentheses.
		{"42 (a) b) (c) Z 7 42 42", procStat{comm: "a) b) (c", state: "Z", ppid: 7}, false},
		{"42 no comm", procStat{}, true},
		{"42 (x)", procStat{}, true},
		{"42 (x) S notanumber", procStat{}, true},
	}
	for _, tt := range tests {
		got, err := parseStat(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// The process list is read from the real /proc and must show this test
// binary with its own pid, parent and argv, like `ps -ef` would.
func TestPSListsSelf(t *testing.T) {
	var out bytes.Buffer
	if err := ps("/proc", &out); err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(os.Getpid()) + " " + strconv.Itoa(os.Getppid()) + " " + strings.Join(os.Args, " ")
	found := false
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.Join(f[1:], " ") == want {
			found = true
		}
	}
	if !found {
		t.Errorf("ps output has no line %q:\n%s", want, out.String())
	}
	if !strings.HasPrefix(out.String(), "UID ") {
		t.Errorf("ps output lacks a header: %q", out.String()[:min(40, out.Len())])
	}
}

// A missing /.tether makes every step fail: each gets a FAIL line and the
// OK marker is not printed.
func TestRunFailsWithoutTether(t *testing.T) {
	c := defaultConfig()
	c.Mount = false
	c.TetherDir = filepath.Join(t.TempDir(), "absent")
	c.EntropyWait = 0
	var out bytes.Buffer
	n := run(context.Background(), c, &out)
	s := out.String()
	if n != 3 {
		t.Errorf("run() = %d failures, want 3 (entropy start, iptables chroot, wrapper):\n%s", n, s)
	}
	for _, step := range []string{"entropy start", "iptables chroot", "iptables-wrapper"} {
		if !strings.Contains(s, markerFail+" "+step+": ") {
			t.Errorf("no FAIL line for %q:\n%s", step, s)
		}
	}
	if strings.Contains(s, markerOK) || !strings.Contains(s, markerFailed+" 3") {
		t.Errorf("want %q and no %q:\n%s", markerFailed+" 3", markerOK, s)
	}
}

// With a real chroot built from host binaries: the host's dynamic loader at
// /lib64/ld-linux-x86-64.so.2 runs "/bin/iptables" inside the chroot (here
// a copy of the host's echo(1), which shows the argv it got), the entropy daemon
// is a long sleep that must still be running after the wait, and the
// wrapper is a shell script.
func TestRunInChroot(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "ldd")
	dir := t.TempDir()
	td := filepath.Join(dir, ".tether")
	copyClosure(t, td, "/usr/bin/echo", "/bin/iptables")
	// VIC's bootstrap links lib -> lib64 in /.tether; the loader searches /lib.
	if err := os.Symlink("lib64", filepath.Join(td, "lib")); err != nil {
		t.Fatal(err)
	}
	mkfile(t, filepath.Join(td, "opt/config/entropy.txt"), "/usr/bin/sleep 30\n", 0o644)
	mkfile(t, filepath.Join(td, "bin/iptables-wrapper"), "#!/bin/sh\necho wrapper \"$@\"\n", 0o755)

	c := defaultConfig()
	c.Mount = false
	c.TetherDir = td
	c.EntropyWait = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // kills the sleep
	var out bytes.Buffer
	if n := run(ctx, c, &out); n != 0 {
		t.Fatalf("run() = %d failures:\n%s", n, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"-L -v\n",             // echo ran in the chroot with our argv
		"wrapper -L -v\n",     // the wrapper ran
		"/usr/bin/sleep 30\n", // ps shows the entropy daemon
		"tether: entropy running: ok",
		markerOK + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

// copyClosure copies the host program src to dst inside root with the
// libraries ldd names and the loader at /lib64/ld-linux-x86-64.so.2.
func copyClosure(t *testing.T, root, src, dst string) {
	t.Helper()
	out, err := exec.Command("ldd", src).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", src, err)
	}
	copyFile(t, src, filepath.Join(root, dst))
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			copyFile(t, f[2], filepath.Join(root, "lib64", filepath.Base(f[2])))
		case len(f) >= 1 && strings.Contains(f[0], "ld-linux"):
			copyFile(t, f[0], filepath.Join(root, "lib64/ld-linux-x86-64.so.2"))
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	mkfile(t, dst, string(b), 0o755)
}

func mkfile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// TestWithRealRepository runs the static tether binary the way a boot does,
// but in a chroot: dnf installs the test repository's base set, the
// definition's init.sh (sourced by the installed bash, using the installed
// toybox) assembles /.tether with install-iptables and install-entropy, and
// the tether then runs the real haveged from entropy.txt and the real
// iptables chrooted into /.tether. The kernel's answer to `iptables -L`
// and the running haveged are the oracles.
func TestWithRealRepository(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "dnf", "chroot", "mount", "umount", "go")
	dir := testrepo.Dir(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")

	key := filepath.Join(dir, "RPM-GPG-KEY-vicroot-test")
	repos := filepath.Join(tmp, "repos")
	var conf strings.Builder
	for _, r := range []string{"photon", "photon-updates"} {
		conf.WriteString("[" + r + "]\nname=" + r + "\nbaseurl=file://" + filepath.Join(dir, r) +
			"\ngpgcheck=1\ngpgkey=file://" + key + "\n\n")
	}
	mkfile(t, filepath.Join(repos, "t.repo"), conf.String(), 0o644)
	out, err := exec.Command("dnf", "--installroot="+root, "--setopt=reposdir="+repos,
		"--setopt=cachedir="+filepath.Join(tmp, "cache"), "--releasever=2.0", "--disableplugin=*", "-y",
		"install", "filesystem", "toybox", "kmod", "haveged", "iptables").CombinedOutput()
	if err != nil {
		t.Fatalf("dnf: %v\n%s", err, out)
	}

	initsh, err := os.ReadFile(filepath.Join(dir, "definition/init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	mkfile(t, filepath.Join(root, "bin/repoinit"), string(initsh), 0o755)
	// As /bin/bootstrap does: lib64, usr/lib/iptables, run and lib -> lib64
	// in /.tether (iptables needs /run for its lock), then the hooks.
	script := `mkdir -p /.tether/lib64 /.tether/usr/lib/iptables /.tether/run && ln -s lib64 /.tether/lib && . /bin/repoinit && install-iptables /.tether && install-entropy /.tether`
	if out, err := exec.Command("chroot", root, "/bin/bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("init.sh in the installed tree: %v\n%s", err, out)
	}

	bin := filepath.Join(root, ".tether/tether")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The bootstrap moves /proc, /sys and /dev into the new root. Fresh proc
	// and sysfs instances stand in (nothing in them can be deleted when the
	// temp dir is removed); /dev gets only the nodes used here, never a bind
	// of the host's /dev.
	for _, m := range []string{"proc", "sysfs"} {
		target := filepath.Join(root, strings.TrimSuffix(m, "fs"))
		if out, err := exec.Command("mount", "-t", m, m, target).CombinedOutput(); err != nil {
			t.Fatalf("mount -t %s: %v\n%s", m, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("umount", "-l", target).Run() })
	}
	for _, n := range []struct {
		name  string
		minor uint32
	}{{"null", 3}, {"random", 8}, {"urandom", 9}} {
		if err := syscall.Mknod(filepath.Join(root, "dev", n.name), syscall.S_IFCHR|0o666, int(1<<8|n.minor)); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := exec.CommandContext(ctx, "chroot", root, "/.tether/tether").CombinedOutput()
	s := string(got)
	if err != nil {
		t.Fatalf("tether: %v\n%s", err, s)
	}
	for _, want := range []string{
		"tether: entropy running: ok",
		"/.tether/bin/haveged -w 1024 -v 1 -F\n", // in the ps listing
		"tether: iptables chroot: ok",
		"tether: iptables-wrapper: ok",
		"\n" + markerOK + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("tether output lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "Chain INPUT (policy"); n != 2 {
		t.Errorf("iptables listed the INPUT chain %d times, want 2 (direct and wrapper):\n%s", n, s)
	}
}

// FuzzEntropyArgs: any entropy.txt either errors or yields a non-empty
// argv whose first element is non-blank and that rejoins to the line.
func FuzzEntropyArgs(f *testing.F) {
	f.Add("/.tether/lib64/ld-linux-x86-64.so.2 --library-path /.tether/lib64 /.tether/bin/haveged -w 1024 -v 1 -F\n")
	f.Add("/bin/rngd  -f")
	f.Add("\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		args, err := entropyArgs(s)
		if err != nil {
			return
		}
		if len(args) == 0 || strings.Join(args, " ") != strings.TrimRight(s, "\r\n") {
			t.Fatalf("entropyArgs(%q) = %q", s, args)
		}
	})
}

// FuzzParseStat: never panics; a parsed comm is what lies between the first
// '(' and the last ')'.
func FuzzParseStat(f *testing.F) {
	f.Add("1 (init) S 0 1 1 0 -1")
	f.Add("42 (a) b) (c) Z 7 42 42")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseStat(s)
		if err != nil {
			return
		}
		if want := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]; st.comm != want {
			t.Fatalf("parseStat(%q).comm = %q, want %q", s, st.comm, want)
		}
	})
}
