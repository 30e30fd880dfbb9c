package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Built under each of VIC's names, the stand-in announces that name.
func TestAnnouncesItsName(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "vic-init")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, n := range []string{"vic-init", "docker-engine-server", "port-layer-server", "vicadmin"} {
		p := filepath.Join(dir, n)
		if n != "vic-init" {
			if err := os.Link(bin, p); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(p, "--once")
		cmd.Env = append(os.Environ(), "VICDAEMON_CONSOLE=-")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if !strings.HasPrefix(string(out), "vicroot-stand-in "+n+" running as pid ") {
			t.Errorf("%s printed %q", n, out)
		}
	}
}

// Diagnostics are asked for on the kernel command line only; the last
// vicroot.diagnostics= wins, as the kernel's parameters do.
func TestDiagnosticsDevice(t *testing.T) {
	for cmdline, want := range map[string]string{
		"rdinit=/lib/systemd/systemd console=ttyS1":                                       "",
		"rdinit=/lib/systemd/systemd vicroot.diagnostics=/dev/ttyS0 quiet\n":              "/dev/ttyS0",
		"vicroot.diagnostics=/dev/ttyS2 vicroot.diagnostics=/dev/ttyS0":                   "/dev/ttyS0",
		"xvicroot.diagnostics=/dev/ttyS0 vicroot.diagnosticsX=1 vicroot.diagnostics /dev": "",
	} {
		if got := diagnosticsDevice(cmdline); got != want {
			t.Errorf("%q: %q, want %q", cmdline, got, want)
		}
	}
}

// A section is framed by begin and end lines; stderr gets its own section.
func TestSection(t *testing.T) {
	var b strings.Builder
	section(&b, "rpm-qa", []byte("a\nb"), []byte("warning\n"), 1)
	want := "vicroot-diag-begin rpm-qa\na\nb\nvicroot-diag-end rpm-qa exit=1 stderr=8\n" +
		"vicroot-diag-begin rpm-qa.stderr\nwarning\nvicroot-diag-end rpm-qa.stderr exit=0 stderr=0\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
