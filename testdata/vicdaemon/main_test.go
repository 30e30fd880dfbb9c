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
