package depmod_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/depmod"
)

// TestTestRepoKernel runs VIC's step on the test repository's linux-esx
// package (the Debian kernel's modules as .ko.xz, like Photon ships them):
// payload unpacked by rpm2cpio | cpio twice; real `xz -d` + depmod on one
// copy, Decompress + Generate on the other.
func TestTestRepoKernel(t *testing.T) {
	testrepo.NeedTools(t, "rpm2cpio", "cpio", "xz", "find")
	depmodTool(t)
	repo := testrepo.Dir(t)
	kv, err := os.ReadFile(filepath.Join(repo, "kernel.version"))
	if err != nil {
		t.Fatal(err)
	}
	kver := strings.TrimSpace(string(kv))
	rpms, _ := filepath.Glob(filepath.Join(repo, "photon", "linux-esx-*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("linux-esx RPMs in the test repository: %v", rpms)
	}
	unpack := func() string {
		root := t.TempDir()
		cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", rpms[0])
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpm2cpio | cpio: %v\n%s", err, out)
		}
		return root
	}
	realRoot, ourRoot := unpack(), unpack()

	cmd := exec.Command("find", filepath.Join(realRoot, "lib/modules"), "-name", "*.ko.xz", "-exec", "xz", "-d", "{}", ";")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("find -exec xz -d: %v\n%s", err, out)
	}
	real := tree{root: realRoot, kver: kver}.runDepmod(t, false)

	dec, err := depmod.Decompress(context.Background(), os.DirFS(ourRoot), kver)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) < 20 {
		t.Fatalf("only %d compressed modules in linux-esx", len(dec))
	}
	for _, d := range dec {
		if err := os.WriteFile(filepath.Join(ourRoot, d.Path), d.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(ourRoot, d.Compressed)); err != nil {
			t.Fatal(err)
		}
	}
	compare(t, tree{root: ourRoot, kver: kver}.generate(t), real)
}
