package ldso_test

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/ldso"
)

// fileSaysKernel asks file(1) for "for GNU/Linux X.Y.Z", the oracle for the
// ABI note.
func fileSaysKernel(t *testing.T, p string) string {
	t.Helper()
	out, err := exec.Command("file", "-L", p).CombinedOutput()
	must(t, err)
	m := regexp.MustCompile(`for GNU/Linux ([0-9.]+)`).FindStringSubmatch(string(out))
	if m == nil {
		return ""
	}
	return m[1]
}

func TestMinKernelABITag(t *testing.T) {
	testrepo.NeedTools(t, "file")
	root := t.TempDir()
	for _, p := range []string{"/bin/ls", "/bin/busybox", "/usr/sbin/haveged"} {
		replicate(t, root, p)
	}
	// A crafted copy of ls whose ABI tag asks for Linux 9.8.7.
	high := filepath.Join(root, "high")
	copyFile(t, "/bin/ls", high)
	patchABITag(t, high, 9, 8, 7)
	fsys := os.DirFS(root)
	for _, p := range []string{"/bin/ls", "/bin/busybox", "/usr/sbin/haveged", "/high"} {
		v, src, err := ldso.MinKernel(context.Background(), fsys, p)
		must(t, err)
		want := fileSaysKernel(t, filepath.Join(root, p))
		if want == "" || v.String() != want {
			t.Errorf("%s: MinKernel = %v (%s), file(1) says %q", p, v, src, want)
		}
		if !strings.Contains(src, "NT_GNU_ABI_TAG") {
			t.Errorf("%s: source %q", p, src)
		}
	}
	err := ldso.CheckKernel(context.Background(), fsys, "/high", "6.1.0-56-amd64")
	if !errors.Is(err, ldso.ErrKernelTooOld) || !strings.Contains(err.Error(), "9.8.7") || !strings.Contains(err.Error(), "6.1.0-56-amd64") {
		t.Errorf("CheckKernel(/high) = %v, want too old naming 9.8.7 and 6.1.0-56-amd64", err)
	}
	if err := ldso.CheckKernel(context.Background(), fsys, "/bin/ls", "6.1.0-56-amd64"); err != nil {
		t.Errorf("CheckKernel(/bin/ls): %v", err)
	}
	if err := ldso.CheckKernel(context.Background(), fsys, "/bin/ls", "3.1.9"); !errors.Is(err, ldso.ErrKernelTooOld) {
		t.Errorf("CheckKernel(/bin/ls, 3.1.9) = %v", err)
	}
}

// patchABITag rewrites the NT_GNU_ABI_TAG version of an ELF file in place.
func patchABITag(t *testing.T, p string, major, minor, patch uint32) {
	t.Helper()
	f, err := elf.Open(p)
	must(t, err)
	sec := f.Section(".note.ABI-tag")
	if sec == nil {
		t.Fatalf("%s has no .note.ABI-tag", p)
	}
	off := int64(sec.Offset) + 16 + 4 // Nhdr(12) + "GNU\0"(4), then OS word
	f.Close()
	b, err := os.ReadFile(p)
	must(t, err)
	le := func(v uint32, at int64) {
		b[at], b[at+1], b[at+2], b[at+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	le(major, off)
	le(minor, off+4)
	le(patch, off+8)
	must(t, os.WriteFile(p, b, 0o755))
}

func TestMinKernelGo(t *testing.T) {
	testrepo.NeedTools(t, "go")
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.24\n"), 0o644))
	cmd := exec.Command("go", "build", "-o", "bin", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", filepath.Join(dir, "bin")).CombinedOutput()
	must(t, err)
	v, src, err := ldso.MinKernel(context.Background(), os.DirFS(dir), "/bin")
	must(t, err)
	// Go 1.24 and later need Linux 3.2 (go.dev/doc/go1.24#linux); this
	// toolchain is 1.26.
	if !strings.Contains(string(out), "go1.2") || v != (ldso.Version{Major: 3, Minor: 2}) {
		t.Errorf("MinKernel = %v (%s); go version says %s", v, src, out)
	}
	if !strings.Contains(src, "Go runtime go1.") {
		t.Errorf("source = %q", src)
	}
	if err := ldso.CheckKernel(context.Background(), os.DirFS(dir), "/bin", "2.6.32-754.el6.x86_64"); !errors.Is(err, ldso.ErrKernelTooOld) {
		t.Errorf("CheckKernel on 2.6.32: %v", err)
	}
}

func TestParseKernelVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ldso.Version
		bad  bool
	}{
		{in: "6.1.0-56-amd64", want: ldso.Version{Major: 6, Minor: 1}},
		{in: "4.19.87-1.ph3-esx", want: ldso.Version{Major: 4, Minor: 19, Patch: 87}},
		{in: "2.6.32-754.el6.x86_64", want: ldso.Version{Major: 2, Minor: 6, Patch: 32}},
		{in: "5.10", want: ldso.Version{Major: 5, Minor: 10}},
		{in: "5.10-rc1", want: ldso.Version{Major: 5, Minor: 10}},
		{in: "", bad: true},
		{in: "v6.1", bad: true},
		{in: "6", bad: true},
	} {
		got, err := ldso.ParseKernelVersion(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseKernelVersion(%q) = %v, %v", c.in, got, err)
		}
	}
}
