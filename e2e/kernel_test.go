package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// A definition whose kernel is an RPM file, on a copy of the test
// repository whose metadata no longer lists that kernel: resolve lists
// the file, build installs it (its modules as rpm2cpio | cpio -t lists
// them are in the image; its unmet Requires are a warning), lock pins it
// by the SHA-256 sha256sum computes, verify finds it in the cache or
// takes --kernel, check passes, an unsigned copy (rpmsign --delsign) is
// refused without --allow-unsigned-kernel and built with it. (That the
// image boots is shown without qemu, which would add about 110 s: its
// kernel and initramfs are byte for byte those of the same definition
// with the repository's kernel, pipeline's
// TestKernelFileSameImageAsRepositoryKernel, images of the kind
// TestBootstrapBoots boots.)
func TestKernelRPMFile(t *testing.T) {
	testrepo.NeedTools(t, "rpm2cpio", "cpio", "sh", "sha256sum", "rpmsign")
	repo := testrepo.Dir(t)
	c := testrepo.NewCopy(t)
	c.DropPackage("photon", "linux-esx")
	kernelRPM := testrepo.PackageFile(t, repo, "linux-esx")
	def := definition(t, c.Dir, func(spec map[string]any) { spec["kernel"] = kernelRPM }, plainInit)
	cache := filepath.Join(t.TempDir(), "cache")
	run := func(args ...string) (string, string, error) {
		return vicroot(t, nil, append(append(args, "--cache", cache), mirrors(c.Dir)...)...)
	}
	nevra, err := exec.Command("rpm", "-qp", "--nosignature", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}", kernelRPM).Output()
	if err != nil {
		t.Fatal(err)
	}
	sumOut, err := exec.Command("sha256sum", kernelRPM).Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.Fields(string(sumOut))[0]

	out, stderr, err := run("resolve", "--repo", def)
	if err != nil || !strings.Contains(out, string(nevra)+" (local file "+kernelRPM+")\n") {
		t.Errorf("resolve: %v\n%s\n%s", err, out, stderr)
	}

	out, stderr, err = run("resolve", "--repo", def, "--why", "linux-esx")
	if err != nil || !strings.Contains(out, "kernel RPM file "+kernelRPM) {
		t.Errorf("resolve --why: %v\n%s\n%s", err, out, stderr)
	}

	out, stderr, err = run("build", "--repo", def, "--out", t.TempDir(), "--bin", binDir, "--version", "v1.5.8-0-9489f63")
	if err != nil {
		t.Fatalf("build: %v\n%s\n%s", err, out, stderr)
	}
	iso := strings.Split(out, "\n")[0]
	if !strings.Contains(stderr, "requires /usr/share/syslinux/isolinux.bin, which nothing in the image provides") {
		t.Errorf("build does not warn about the kernel's unmet requirement:\n%s", stderr)
	}
	manifest, _, err := vicroot(t, nil, "inspect", iso)
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -t --quiet`, "sh", kernelRPM).Output()
	if err != nil {
		t.Fatal(err)
	}
	mods := 0
	for _, p := range strings.Fields(string(list)) {
		if rest, ok := strings.CutPrefix(p, "./lib/modules/"); ok && strings.HasSuffix(p, ".ko.xz") {
			mods++
			if !strings.Contains(manifest, "\n./usr/lib/modules/"+strings.TrimSuffix(rest, ".xz")+" ") {
				t.Errorf("the image lacks the module %s", p)
			}
		}
	}
	if mods == 0 {
		t.Errorf("cpio lists no .ko.xz in %s", kernelRPM)
	}

	out, stderr, err = run("lock", "--repo", def)
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	var lock struct {
		Packages []struct{ NEVRA, Checksum, Repo, Location string }
	}
	if err := json.Unmarshal([]byte(out), &lock); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range lock.Packages {
		if p.Repo == "@commandline" {
			found = p.NEVRA == string(nevra) && p.Checksum == "sha256:"+sum && p.Location == kernelRPM
		}
	}
	if !found {
		t.Errorf("the lock does not pin %s as sha256:%s from @commandline:\n%s", nevra, sum, out)
	}

	if out, stderr, err = run("verify", iso); err != nil || !strings.Contains(out, "identical to its rebuild") {
		t.Errorf("verify (the kernel from the cache): %v\n%s\n%s", err, out, stderr)
	}
	cold := filepath.Join(t.TempDir(), "cold")
	_, stderr, err = vicroot(t, nil, append([]string{"verify", iso, "--cache", cold}, mirrors(c.Dir)...)...)
	if exitCode(err) != 1 || !strings.Contains(stderr, sum) || !strings.Contains(stderr, "--kernel") {
		t.Errorf("verify without the kernel in the cache: exit %d\n%s", exitCode(err), stderr)
	}
	out, stderr, err = vicroot(t, nil, append([]string{"verify", iso, "--cache", cold, "--kernel", kernelRPM}, mirrors(c.Dir)...)...)
	if err != nil || !strings.Contains(out, "identical to its rebuild") {
		t.Errorf("verify --kernel: %v\n%s\n%s", err, out, stderr)
	}

	out, stderr, err = run("check", "--repo", def)
	if err != nil || !strings.Contains(out, "kernel RPM file "+kernelRPM+": ok ("+string(nevra)) {
		t.Errorf("check: %v\n%s\n%s", err, out, stderr)
	}

	// An unsigned copy, in the definition folder.
	unsignedDef := definition(t, c.Dir, func(spec map[string]any) { spec["kernel"] = "kernel/linux.rpm" }, plainInit)
	unsigned := filepath.Join(unsignedDef, "kernel", "linux.rpm")
	data, err := os.ReadFile(kernelRPM)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(unsigned), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unsigned, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command("rpmsign", "--delsign", unsigned).CombinedOutput(); err != nil {
		t.Fatalf("rpmsign --delsign: %v\n%s", err, o)
	}
	_, stderr, err = run("build", "--repo", unsignedDef, "--out", t.TempDir(), "--bin", binDir, "--version", "v1.5.8-0-9489f63")
	if exitCode(err) != 1 || !strings.Contains(stderr, unsigned) || !strings.Contains(stderr, "--allow-unsigned-kernel") {
		t.Errorf("build with an unsigned kernel: exit %d\n%s", exitCode(err), stderr)
	}
	out, stderr, err = run("build", "--repo", unsignedDef, "--out", t.TempDir(), "--bin", binDir, "--version", "v1.5.8-0-9489f63", "--allow-unsigned-kernel")
	if err != nil || !strings.Contains(stderr, "UNSIGNED KERNEL") {
		t.Errorf("build --allow-unsigned-kernel: %v\n%s\n%s", err, out, stderr)
	}
}
