package vic_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/vic"
)

// The scripts vicroot writes must be POSIX sh that busybox and dash parse.
func TestScriptsParse(t *testing.T) {
	testrepo.NeedTools(t, "busybox", "dash")
	ri := &vic.RepoInit{Definition: "x", Modules: []string{"a", "b"}, TempfsMB: 12}
	rs, err := ri.Script()
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string][]byte{"init": vic.InitScript(false), "bootstrap": vic.BootstrapScript(), "repoinit": rs} {
		for _, sh := range [][]string{{"busybox", "sh", "-n"}, {"dash", "-n"}} {
			cmd := exec.Command(sh[0], append(sh[1:], "/dev/stdin")...)
			cmd.Stdin = bytes.NewReader(src)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s does not parse %s: %v\n%s", strings.Join(sh, " "), name, err, out)
			}
		}
	}
}

// install_iptables and install_entropy, run by busybox sh, fill a directory
// as the runtime /.tether.
func TestRepoInitRunsUnderBusybox(t *testing.T) {
	testrepo.NeedTools(t, "busybox")
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(src, "ld.so"), []byte("loader"), 0o755))
	must(os.WriteFile(filepath.Join(src, "libc.so.6.real"), []byte("libc"), 0o755))
	must(os.Symlink("libc.so.6.real", filepath.Join(src, "libc.so.6")))
	must(os.WriteFile(filepath.Join(src, "it's haveged"), []byte("haveged"), 0o755))
	ri := &vic.RepoInit{
		Definition: "test",
		Drivers:    []string{"nfsv3"},
		Dirs:       []string{"lib64", "bin", "run", "opt/config"},
		Iptables: []vic.Copy{
			{Src: filepath.Join(src, "ld.so"), Dst: "lib64/ld-linux-x86-64.so.2", Mode: 0o755},
			{Src: filepath.Join(src, "libc.so.6"), Dst: "lib64/libc.so.6", Mode: 0o755},
		},
		Entropy:    []vic.Copy{{Src: filepath.Join(src, "it's haveged"), Dst: "bin/haveged", Mode: 0o700}},
		EntropyCmd: "/.tether/lib64/ld-linux-x86-64.so.2 --library-path /.tether/lib64 /.tether/bin/haveged -w 1024 -v 1 -F",
	}
	script, err := ri.Script()
	must(err)
	must(os.WriteFile(filepath.Join(src, "repoinit"), script, 0o644))
	dst := filepath.Join(t.TempDir(), "tether")
	cmd := exec.Command("busybox", "sh", "-c", `. "$1" && install_iptables "$2" && install_entropy "$2" && echo "$drivers"`, "sh", filepath.Join(src, "repoinit"), dst)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "nfsv3" {
		t.Errorf("drivers = %q", out)
	}
	for p, want := range map[string]string{
		"lib64/ld-linux-x86-64.so.2": "loader", "lib64/libc.so.6": "libc", "bin/haveged": "haveged",
		"opt/config/entropy.txt": ri.EntropyCmd + "\n",
		"bin/iptables-wrapper":   "#!/bin/sh\nexec chroot /.tether/ /lib64/ld-linux-x86-64.so.2 /bin/iptables \"$@\"\n",
	} {
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dst, "lib64/libc.so.6")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("libc.so.6 not copied dereferenced: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "bin/haveged")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("haveged mode: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "lib")); err != nil || l != "lib64" {
		t.Errorf("lib link = %q %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "run")); err != nil || !fi.IsDir() {
		t.Errorf("run dir: %v", err)
	}
}

func TestRepoInitRejectsEscapingPaths(t *testing.T) {
	for _, dst := range []string{"/etc/passwd", "../x", "lib64/../../x", ""} {
		ri := &vic.RepoInit{Iptables: []vic.Copy{{Src: "/a", Dst: dst, Mode: 0o644}}}
		if _, err := ri.Script(); err == nil {
			t.Errorf("Dst %q accepted", dst)
		}
	}
}
