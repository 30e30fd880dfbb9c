package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
)

// kernelFileOptions are testOptions on a copy of the test repository whose
// photon metadata no longer lists the kernel package, and a copy of its
// definition whose kernel is the kernel's RPM file: given by its absolute
// path, or (rel) copied into the definition folder as rpms/<file>. The
// build can only succeed through the file.
func kernelFileOptions(t *testing.T, rel bool) (opts Options, kernelRPM string) {
	t.Helper()
	opts, repo := testOptions(t)
	c := testrepo.NewCopy(t)
	c.DropPackage("photon", "linux-esx")
	kernelRPM = testrepo.PackageFile(t, repo, "linux-esx")
	opts.Mirrors = map[string]string{
		"photon":         "file://" + c.Path("photon") + "/",
		"photon-updates": "file://" + c.Path("photon-updates") + "/",
	}
	opts.Definition = kernelDefinition(t, c.Path("definition"), kernelRPM, rel)
	return opts, kernelRPM
}

// kernelDefinition copies the definition folder src to a temp dir, makes
// it name the kernel file (its absolute path, or a copy at rpms/<base>)
// and loads it.
func kernelDefinition(t *testing.T, src, kernelRPM string, rel bool) *repos.Definition {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "definition")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	value := kernelRPM
	if rel {
		value = "rpms/" + filepath.Base(kernelRPM)
		data, err := os.ReadFile(kernelRPM)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "rpms"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, value), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := filepath.Join(dir, repos.SpecFile)
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	edited := regexp.MustCompile(`"kernel": "[^"]*"`).ReplaceAllLiteralString(string(data), `"kernel": "`+value+`"`)
	if edited == string(data) {
		t.Fatalf("%s: no kernel to replace", spec)
	}
	if err := os.WriteFile(spec, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	def, err := repos.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// rpmQuery is rpm's reading of a package file's header.
func rpmQuery(t *testing.T, file string, args ...string) string {
	t.Helper()
	out, err := exec.Command("rpm", append([]string{"-qp", "--nosignature", "--nodigest"}, append(args, file)...)...).Output()
	if err != nil {
		t.Fatalf("rpm -qp %v %s: %v", args, file, err)
	}
	return string(out)
}

// cpioList is what GNU cpio lists of an RPM's payload (rpm2cpio | cpio -t).
func cpioList(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -t --quiet`, "sh", file).Output()
	if err != nil {
		t.Fatalf("rpm2cpio | cpio -t %s: %v", file, err)
	}
	return strings.Fields(string(out))
}

// rpmVmlinuz is the /boot/vmlinuz-* of a kernel RPM as rpm2cpio and GNU
// cpio extract it: its name and content.
func rpmVmlinuz(t *testing.T, kernelRPM string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet './boot/vmlinuz-*'`, "sh", kernelRPM)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm2cpio | cpio -i: %v\n%s", err, out)
	}
	found, err := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if err != nil || len(found) != 1 {
		t.Fatalf("cpio extracted %v (%v)", found, err)
	}
	data, err := os.ReadFile(found[0])
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(found[0]), data
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// A kernel given as an RPM file, by absolute path and by a path in the
// definition folder: the build installs it without resolution — the
// ISO's kernel is the file's vmlinuz and the image holds every module the
// file's payload lists (rpm2cpio | cpio -t, decompressed), and nothing
// else of the kernel's dependencies: its Requires that nothing provides
// (rpm -qpR) are warnings. The lock records it by SHA-256 and the NEVRA
// rpm reads; the ISO does not carry the file, and Verify finds it in the
// cache by digest, or takes it from Options.KernelFile when its digest
// matches.
func TestKernelFile(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "rpm2cpio", "cpio", "sh", "xorriso")
	for _, rel := range []bool{false, true} {
		name := map[bool]string{false: "absolute", true: "relative"}[rel]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			opts, kernelRPM := kernelFileOptions(t, rel)
			opts.CacheDir = t.TempDir() // verify below needs to find the file in this cache only
			res, err := Build(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			nevra := rpmQuery(t, kernelRPM, "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}")
			sum := sha256File(t, kernelRPM)
			if !slices.Contains(res.Packages, nevra) {
				t.Errorf("packages %v lack %s", res.Packages, nevra)
			}
			// The lock: the file by SHA-256, as a local file.
			lk, err := os.ReadFile(res.Lock)
			if err != nil {
				t.Fatal(err)
			}
			l, err := resolver.ParseLock(lk, res.Lock)
			if err != nil {
				t.Fatal(err)
			}
			var locked []resolver.LockedPackage
			for _, lp := range l.Packages {
				if lp.Repo == LocalRepo || strings.HasPrefix(lp.Name, "linux") {
					locked = append(locked, lp)
				}
			}
			wantLoc := kernelRPM
			if rel {
				wantLoc = "rpms/" + filepath.Base(kernelRPM)
			}
			if len(locked) != 1 || locked[0].NEVRA != nevra || locked[0].Checksum != "sha256:"+sum || locked[0].Repo != LocalRepo || locked[0].Location != wantLoc || locked[0].Key == "" {
				t.Errorf("lock has %+v, want one %s sha256:%s from %s at %s, verified by a key", locked, nevra, sum, LocalRepo, wantLoc)
			}
			// Requires that nothing in the image provides are warnings:
			// rpm lists the kernel's Requires, and syslinux (which alone
			// ships isolinux.bin) is not in the image.
			reqs := rpmQuery(t, kernelRPM, "-R")
			if !strings.Contains(reqs, "/usr/share/syslinux/isolinux.bin") {
				t.Fatalf("rpm -qpR %s:\n%s", kernelRPM, reqs)
			}
			var warned bool
			for _, w := range res.Warnings {
				warned = warned || strings.Contains(w, "requires /usr/share/syslinux/isolinux.bin, which nothing in the image provides")
			}
			if !warned || slices.ContainsFunc(res.Packages, func(p string) bool { return strings.HasPrefix(p, "syslinux-") }) {
				t.Errorf("warnings %q, packages %v: want the isolinux.bin requirement warned about and no syslinux installed", res.Warnings, res.Packages)
			}
			checkKernelInISO(t, res.ISO, kernelRPM)

			// Verify: from the cache by digest; with the file given; and
			// refused with another file or a cache without it.
			vopts := opts
			vopts.Definition, vopts.Out = nil, ""
			vr, err := Verify(ctx, res.ISO, vopts)
			if err != nil || !vr.Same {
				t.Fatalf("verify from the cache: %v", err)
			}
			if rel {
				return // the refusals below do not depend on the path
			}
			vopts.CacheDir = t.TempDir()
			if _, err := Verify(ctx, res.ISO, vopts); err == nil || !strings.Contains(err.Error(), sum) || !strings.Contains(err.Error(), "--kernel") {
				t.Errorf("verify with a cache without the kernel: %v", err)
			}
			other := testrepo.PackageFile(t, filepath.Dir(filepath.Dir(kernelRPM)), "kmod")
			vopts.KernelFile = other
			if _, err := Verify(ctx, res.ISO, vopts); err == nil || !strings.Contains(err.Error(), sum) || !strings.Contains(err.Error(), sha256File(t, other)) {
				t.Errorf("verify with another kernel file: %v", err)
			}
			vopts.KernelFile = kernelRPM
			if vr, err := Verify(ctx, res.ISO, vopts); err != nil || !vr.Same {
				t.Errorf("verify with the kernel file given: %v", err)
			}
		})
	}
}

// checkKernelInISO checks the ISO against the kernel file as rpm2cpio and
// GNU cpio read it, and xorriso reads the ISO: /boot/vmlinuz64 is the
// file's /boot/vmlinuz-*, every module of the payload is in the
// initramfs (decompressed), and /boot/vicroot/definition/ does not carry
// the file.
func checkKernelInISO(t *testing.T, isoPath, kernelRPM string) {
	t.Helper()
	name, a := rpmVmlinuz(t, kernelRPM)
	got := filepath.Join(t.TempDir(), "vmlinuz64")
	if out, err := exec.Command("xorriso", "-osirrox", "on", "-indev", isoPath, "-extract", "/boot/vmlinuz64", got).CombinedOutput(); err != nil {
		t.Fatalf("xorriso -extract: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(got)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("/boot/vmlinuz64 (%d bytes) is not the file's %s (%d bytes)", len(b), name, len(a))
	}
	f, err := os.Open(isoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	entries, err := Inspect(context.Background(), f, fi.Size(), isoPath)
	if err != nil {
		t.Fatal(err)
	}
	image := map[string]bool{}
	for _, e := range entries {
		image[e.Path] = true
	}
	n := 0
	for _, p := range cpioList(t, kernelRPM) {
		rest, ok := strings.CutPrefix(p, "./lib/modules/")
		if !ok || !strings.Contains(p, ".ko") {
			continue
		}
		n++
		// /lib is a link to usr/lib in the test image; modules are
		// decompressed.
		mod := "usr/lib/modules/" + strings.TrimSuffix(strings.TrimSuffix(rest, ".xz"), ".gz")
		if !image[mod] {
			t.Errorf("the initramfs lacks %s (the file's %s)", mod, p)
		}
	}
	if n == 0 {
		t.Errorf("cpio lists no module in %s", kernelRPM)
	}
	out, err := exec.Command("xorriso", "-indev", isoPath, "-find", "/boot/vicroot/definition", "-type", "f").Output()
	if err != nil {
		t.Fatalf("xorriso -find: %v", err)
	}
	if strings.Contains(string(out), ".rpm") || !strings.Contains(string(out), "repo-spec.json") {
		t.Errorf("/boot/vicroot/definition holds:\n%s", out)
	}
}

// The image of a kernel file is the image of the same kernel from the
// repository: with syslinux in the base set (the repository kernel's
// dependency resolution brings it in for its isolinux.bin requirement; a
// kernel file has none), the two ISOs as xorriso extracts them are the
// same files byte for byte (diff -r) — the kernel, the initramfs, the boot
// loader — but for the records under /boot/vicroot, which name the kernel
// differently; and their manifests agree line for line.
func TestKernelFileSameImageAsRepositoryKernel(t *testing.T) {
	testrepo.NeedTools(t, "xorriso", "diff")
	ctx := context.Background()
	withSyslinux := func(def *repos.Definition) *repos.Definition {
		spec := filepath.Join(def.Dir, repos.SpecFile)
		data, err := os.ReadFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(data), `"base": "filesystem toybox kmod haveged iptables"`, `"base": "filesystem toybox kmod haveged iptables syslinux"`, 1)
		if edited == string(data) {
			t.Fatalf("%s: base set not as expected", spec)
		}
		if err := os.WriteFile(spec, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := repos.Load(def.Dir)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	fileOpts, kernelRPM := kernelFileOptions(t, false)
	fileOpts.Definition = withSyslinux(fileOpts.Definition)
	repoOpts, _ := testOptions(t)
	repoDef := filepath.Join(t.TempDir(), "definition")
	if err := os.CopyFS(repoDef, os.DirFS(repoOpts.Definition.Dir)); err != nil {
		t.Fatal(err)
	}
	repoOpts.Definition = withSyslinux(&repos.Definition{Dir: repoDef})
	var dirs [2]string
	var trees [2][]string
	for i, o := range []Options{repoOpts, fileOpts} {
		res, err := Build(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		dirs[i] = filepath.Join(t.TempDir(), "iso")
		if out, err := exec.Command("xorriso", "-osirrox", "on", "-indev", res.ISO, "-extract", "/", dirs[i]).CombinedOutput(); err != nil {
			t.Fatalf("xorriso -extract: %v\n%s", err, out)
		}
		mt, err := os.ReadFile(res.MTree)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(mt), "\n") {
			if l != "" && l[0] != '#' {
				trees[i] = append(trees[i], l)
			}
		}
		if i == 1 && !slices.ContainsFunc(res.Packages, func(p string) bool { return strings.HasPrefix(filepath.Base(kernelRPM), p) }) {
			t.Errorf("packages %v lack the kernel file's", res.Packages)
		}
	}
	out, err := exec.Command("diff", "-r", "--exclude=vicroot", dirs[0], dirs[1]).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("diff -r of the two ISOs (without /boot/vicroot): %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "boot", "core.gz")); err != nil {
		t.Errorf("nothing compared: %v", err)
	}
	if !slices.Equal(trees[0], trees[1]) || len(trees[0]) == 0 {
		t.Errorf("the manifests differ: %d and %d lines", len(trees[0]), len(trees[1]))
	}
}

// An unsigned kernel file (rpmsign --delsign, as rpm -K then reports) is
// refused without AllowUnsignedKernel, naming the file; with it, it is
// built, loudly: a warning in the report, an annotation in the SBOM, and
// the ISO records that verify must accept it too.
func TestKernelFileUnsigned(t *testing.T) {
	testrepo.NeedTools(t, "rpmsign", "rpm")
	ctx := context.Background()
	opts, kernelRPM := kernelFileOptions(t, false)
	unsigned := filepath.Join(t.TempDir(), filepath.Base(kernelRPM))
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
	if sig := rpmQuery(t, unsigned, "--qf", "%{RSAHEADER:pgpsig}|%{SIGPGP:pgpsig}"); sig != "(none)|(none)" {
		t.Fatalf("rpm still reads a signature in the copy: %s", sig)
	}
	opts.Definition = kernelDefinition(t, opts.Definition.Dir, unsigned, false)
	if _, err := Build(ctx, opts); err == nil || !strings.Contains(err.Error(), unsigned) || !strings.Contains(err.Error(), "not signed") || !strings.Contains(err.Error(), "--allow-unsigned-kernel") {
		t.Fatalf("unsigned kernel without the flag: %v", err)
	}
	opts.AllowUnsignedKernel = true
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "UNSIGNED KERNEL") && strings.Contains(w, unsigned) }) {
		t.Errorf("warnings %q do not say the kernel is unsigned", res.Warnings)
	}
	rep, err := os.ReadFile(res.Report)
	if err != nil || !bytes.Contains(rep, []byte("UNSIGNED KERNEL")) {
		t.Errorf("the report does not say the kernel is unsigned (%v)", err)
	}
	var doc struct {
		Packages []struct {
			Name        string `json:"name"`
			Annotations []struct {
				Comment string `json:"comment"`
			} `json:"annotations"`
		} `json:"packages"`
	}
	spdx, err := os.ReadFile(res.SPDX)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(spdx, &doc); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, p := range doc.Packages {
		for _, a := range p.Annotations {
			notes = append(notes, p.Name+": "+a.Comment)
		}
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "linux-esx: UNSIGNED") {
		t.Errorf("SBOM annotations %q, want one on linux-esx saying UNSIGNED", notes)
	}
	vopts := opts
	vopts.Definition, vopts.Out, vopts.AllowUnsignedKernel = nil, "", false
	if vr, err := Verify(ctx, res.ISO, vopts); err != nil || !vr.Same {
		t.Errorf("verify of the unsigned-kernel ISO: %v", err)
	}
}

// What is not a usable kernel file is refused before anything is fetched,
// with a message naming the file: not an RPM, an RPM that holds no
// kernel, an RPM whose signature no key of the definition made, a file
// the lock does not pin.
func TestKernelFileRefused(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	ctx := context.Background()
	opts, kernelRPM := kernelFileOptions(t, false)
	repo := filepath.Dir(filepath.Dir(kernelRPM))
	text := filepath.Join(t.TempDir(), "kernel.rpm")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho not an rpm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"not an RPM", text, []string{text, "is not an RPM package"}},
		{"not a kernel", testrepo.PackageFile(t, repo, "kmod"), []string{"kmod-", "is not a kernel package", "/boot/vmlinuz-*"}},
		{"signed by another key", filepath.Join(repo, "negative", "otherkey.rpm"), []string{"otherkey.rpm", "signed by a key not in", "--allow-unsigned-kernel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			o.Definition = kernelDefinition(t, opts.Definition.Dir, tc.file, false)
			_, err := Resolve(ctx, o, nil)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("resolve: %v; want %q in it", err, w)
				}
			}
		})
	}
	// A lock that pins another kernel file.
	lock := &resolver.Lock{Version: 1, Packages: []resolver.LockedPackage{{Name: "linux-esx", NEVRA: "linux-esx-0-1.x86_64", Checksum: "sha256:00", Repo: LocalRepo}}}
	o := opts
	o.Lock = lock
	if _, err := Resolve(ctx, o, nil); err == nil || !strings.Contains(err.Error(), "sha256:00") || !strings.Contains(err.Error(), kernelRPM) {
		t.Errorf("resolve with a lock pinning another kernel file: %v", err)
	}
	// The lock's other packages still pin: Resolve with the lock a
	// build wrote works.
	res, err := Resolve(ctx, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Lock = res.Lock()
	if _, err := Resolve(ctx, o, nil); err != nil {
		t.Errorf("resolve with its own lock: %v", err)
	}
	if errors.Is(err, resolver.ErrLockedGone) {
		t.Error("the kernel file was looked for in the repositories")
	}
}
