package check_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/check"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// setKernel makes the variant's definition name kernel.
func (v *variant) setKernel(kernel string) {
	v.t.Helper()
	p := v.path("definition/repo-spec.json")
	data, err := os.ReadFile(p)
	if err != nil {
		v.t.Fatal(err)
	}
	data = regexp.MustCompile(`"kernel": "[^"]*"`).ReplaceAll(data, []byte(`"kernel": "`+kernel+`"`))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		v.t.Fatal(err)
	}
}

// A definition whose kernel is an RPM file, on repositories without that
// kernel: check verifies the file (with the key every package verified
// with), resolves the sets with it installed — which, with the
// repository kernel named instead, do not resolve — and warns about the
// requirement rpm -qpR lists that nothing in the image provides. An
// unsigned copy (rpmsign --delsign) is a problem, named, unless
// AllowUnsignedKernel; a lock pinning another kernel file is flagged.
func TestKernelFile(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "rpmsign")
	v := newVariant(t)
	v.DropPackage("photon", "linux-esx")
	kernelRPM := testrepo.PackageFile(t, v.Src, "linux-esx")
	rep := v.run(check.Options{})
	named(t, rep, "base set", "does not resolve", "linux-esx")

	v.setKernel(kernelRPM)
	rep = v.run(check.Options{Packages: true})
	if !rep.OK() {
		t.Fatalf("problems:\n%s", strings.Join(rep.Problems, "\n"))
	}
	k := rep.Kernel
	nevra, err := exec.Command("rpm", "-qp", "--nosignature", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}", kernelRPM).Output()
	if err != nil {
		t.Fatal(err)
	}
	if k == nil || k.Verdict != check.VerdictOK || k.NEVRA != string(nevra) || k.File != kernelRPM || k.Key == "" || k.Key != rep.Packages[0].Key {
		t.Fatalf("kernel report %+v; want %s ok, with the key of the packages (%s)", k, nevra, rep.Packages[0].Key)
	}
	reqs, err := exec.Command("rpm", "-qpR", "--nosignature", kernelRPM).Output()
	if err != nil || !strings.Contains(string(reqs), "/usr/share/syslinux/isolinux.bin") {
		t.Fatalf("rpm -qpR: %v\n%s", err, reqs)
	}
	if len(k.Warnings) != 1 || !strings.Contains(k.Warnings[0], "/usr/share/syslinux/isolinux.bin") {
		t.Errorf("warnings %q", k.Warnings)
	}

	lock := filepath.Join(t.TempDir(), "lock.json")
	if err := os.WriteFile(lock, []byte(`{"version": 1, "packages": [{"name": "linux-esx", "nevra": "`+string(nevra)+`", "checksum": "sha256:00", "repo": "@commandline"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = v.run(check.Options{LockFile: lock})
	named(t, rep, "lock", string(nevra), "sha256:00", kernelRPM)

	unsigned := v.path("definition/kernel.rpm")
	data, err := os.ReadFile(kernelRPM)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unsigned, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmsign", "--delsign", unsigned).CombinedOutput(); err != nil {
		t.Fatalf("rpmsign --delsign: %v\n%s", err, out)
	}
	v.setKernel("kernel.rpm")
	rep = v.run(check.Options{})
	named(t, rep, "kernel.rpm", "not signed", "--allow-unsigned-kernel")
	if rep.Kernel == nil || rep.Kernel.Verdict != check.VerdictUnsigned {
		t.Errorf("kernel report %+v", rep.Kernel)
	}
	rep = v.run(check.Options{AllowUnsignedKernel: true})
	if !rep.OK() || rep.Kernel.Verdict != check.VerdictUnsigned || !strings.Contains(strings.Join(rep.Kernel.Warnings, "\n"), "UNSIGNED KERNEL") {
		t.Errorf("with AllowUnsignedKernel: %+v\n%s", rep.Kernel, strings.Join(rep.Problems, "\n"))
	}
}
