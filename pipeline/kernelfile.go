package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// LocalRepo is the repository a package has when it comes from a file
// rather than a repository (dnf's name for it): the kernel RPM that a
// definition names by path. The lock lists it with this repository, its
// SHA-256 and, as its location, the path the definition gives.
const LocalRepo = "@commandline"

// KernelFile is a definition's kernel RPM file, verified (LoadKernelFile).
type KernelFile struct {
	// Package describes the file from its verified header; its Repo is
	// LocalRepo, its Location the path the definition gives.
	Package *rpmrepo.Package
	// Path is the verified copy in the cache, which the build reads.
	Path         string
	Verification *rpmrepo.Verification
	// Label names the file in messages (its host path).
	Label string
	// Unsigned says why the file was accepted without a signature by a
	// key of the definition (AllowUnsigned); "" when a key verified it.
	Unsigned string
}

// LoadKernelFile brings the definition's kernel RPM file (or the one
// path names in its place) into the cache through the cache's verified
// path, and verifies the copy as every repository
// package is verified (digests, and a signature by a key of the
// definition), then checks what its header says against what this build
// expects: a binary x86_64 package holding /boot/vmlinuz-* and modules,
// the digest the definition records (verify) and the one the lock pins.
// The definition's keys must have their material (as they have once its
// repositories are opened); def.KernelSHA256 is set to the file's.
func LoadKernelFile(def *repos.Definition, cache *rpmrepo.Cache, path string, allowUnsigned bool, lock *resolver.Lock) (*KernelFile, error) {
	kf := &KernelFile{Label: def.KernelLabel()}
	var r io.ReadCloser
	var err error
	if path != "" {
		kf.Label = path
		r, err = os.Open(path)
	} else {
		r, err = def.OpenKernel()
	}
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	kr, err := definitionKeyRing(def)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("kernel RPM file %s: %w", kf.Label, err)
	}
	// The file is verified before it is renamed into the cache, so the
	// cache never holds a kernel this build refused.
	var verr, digestErr error
	errRefused := errors.New("refused")
	cached, sum, err := cache.Add(r, func(tmp string, sum rpmrepo.Checksum) error {
		if want := def.KernelSHA256; want != "" && sum.Value != want {
			digestErr = fmt.Errorf("kernel RPM file %s has sha256 %s, but the definition records %s (sha256 %s)", kf.Label, sum.Value, def.KernelFile, want)
			return errRefused
		}
		kf.Package, kf.Verification, verr = rpmrepo.VerifyLocalRPM(tmp, kf.Label, LocalRepo, sum, kr)
		unsigned := errors.Is(verr, rpmrepo.ErrUnsigned) || errors.Is(verr, rpmrepo.ErrNoKey)
		if verr == nil || (unsigned && kf.Package != nil && allowUnsigned) {
			return nil
		}
		return errRefused
	})
	r.Close()
	if err != nil && !errors.Is(err, errRefused) {
		return nil, fmt.Errorf("kernel RPM file %s: into the cache: %w", kf.Label, err)
	}
	if digestErr != nil {
		return nil, digestErr
	}
	err = verr
	unsigned := errors.Is(err, rpmrepo.ErrUnsigned) || errors.Is(err, rpmrepo.ErrNoKey)
	switch {
	case err == nil:
	case errors.Is(err, rpmrepo.ErrMalformedRPM):
		return nil, fmt.Errorf("kernel RPM file %s is not an RPM package: %w", kf.Label, err)
	case unsigned && kf.Package != nil && allowUnsigned:
		kf.Unsigned = strings.TrimPrefix(err.Error(), "rpmrepo: "+kf.Label+": ")
	case unsigned:
		return nil, fmt.Errorf("kernel: %w (a kernel RPM file is verified against the definition's keys like any package; give --allow-unsigned-kernel to build with one you built and did not sign)", err)
	default:
		return nil, fmt.Errorf("kernel: %w", err)
	}
	kf.Path = cached
	kf.Package.Location = def.KernelFile
	// The ISO records the file by this digest (definition.json).
	def.KernelSHA256 = sum.Value
	if err := kf.checkHeader(lock); err != nil {
		return nil, err
	}
	return kf, nil
}

// checkHeader checks the verified header against the build: the package
// is a binary one for repos.BaseArch, holds a kernel image and modules,
// and is the file the lock pins, when the lock pins one.
func (kf *KernelFile) checkHeader(lock *resolver.Lock) error {
	p := kf.Package
	if p.Arch == "src" {
		return fmt.Errorf("kernel RPM file %s is a source package (%s), not a binary kernel package", kf.Label, p.NEVRA())
	}
	if p.Arch != repos.BaseArch {
		return fmt.Errorf("kernel RPM file %s (%s) is for %s, but the image is %s", kf.Label, p.NEVRA(), p.Arch, repos.BaseArch)
	}
	var image, modules bool
	for _, f := range p.Files {
		if d, b := path.Split(f); d == "/boot/" && strings.HasPrefix(b, "vmlinuz-") {
			image = true
		}
		for _, m := range []string{"/lib/modules/", "/usr/lib/modules/"} {
			if rest, ok := strings.CutPrefix(f, m); ok && rest != "" {
				modules = true
			}
		}
	}
	switch {
	case !image:
		return fmt.Errorf("kernel RPM file %s (%s) is not a kernel package: it holds no /boot/vmlinuz-*", kf.Label, p.NEVRA())
	case !modules:
		return fmt.Errorf("kernel RPM file %s (%s) is not a kernel package: it holds nothing under /lib/modules/", kf.Label, p.NEVRA())
	}
	if lock == nil {
		return nil
	}
	var pinned []string
	for _, lp := range lock.Packages {
		if lp.Repo != LocalRepo {
			continue
		}
		if lp.Checksum == p.Checksum.String() {
			return nil
		}
		pinned = append(pinned, fmt.Sprintf("%s (%s)", lp.NEVRA, lp.Checksum))
	}
	if len(pinned) > 0 {
		return fmt.Errorf("kernel RPM file %s (%s, %s) is not the kernel file the lock pins: %s", kf.Label, p.NEVRA(), p.Checksum, strings.Join(pinned, ", "))
	}
	return nil
}

// definitionKeyRing is every key of the definition that has material (the
// pinned ones were filled in when the repositories were opened) and every
// --gpgkey: the keys a kernel RPM file may be signed with. nil when there
// is none.
func definitionKeyRing(def *repos.Definition) (*rpmrepo.KeyRing, error) {
	var files []rpmrepo.KeyFile
	for i := range def.Keys {
		k := &def.Keys[i]
		if k.Armored != nil {
			files = append(files, rpmrepo.KeyFile{Name: keyName(k), Data: k.Armored})
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	return rpmrepo.ReadKeyFiles(files...)
}

// repoLock is the lock without the packages that come from files: what
// the resolver pins among the repositories' packages.
func repoLock(lock *resolver.Lock) *resolver.Lock {
	if lock == nil {
		return nil
	}
	out := *lock
	out.Packages = slices.DeleteFunc(slices.Clone(lock.Packages), func(lp resolver.LockedPackage) bool { return lp.Repo == LocalRepo })
	return &out
}

// Warnings are what the build reports about the kernel file: that it is
// unsigned, when it is, and each of its requirements that nothing in the
// image provides (it is installed without dependency resolution, as VIC
// installs it).
//
// loadFiles loads the repositories' complete file lists (a requirement
// of a path may need them).
func (kf *KernelFile) Warnings(ctx context.Context, image []*rpmrepo.Package, loadFiles func(context.Context) error) ([]string, error) {
	var out []string
	if kf.Unsigned != "" {
		out = append(out, fmt.Sprintf("UNSIGNED KERNEL: %s (%s, sha256 %s) is not signed by a key of the definition and was accepted because of --allow-unsigned-kernel: %s",
			kf.Label, kf.Package.NEVRA(), kf.Package.Checksum.Value, kf.Unsigned))
	}
	self := append([]*rpmrepo.Package{kf.Package}, image...)
	loaded := false
	for _, d := range kf.Package.Requires {
		if strings.HasPrefix(d.Name, "rpmlib(") {
			continue
		}
		if resolver.IsRich(d.Name) {
			out = append(out, fmt.Sprintf("kernel RPM file %s (%s) requires %s: a rich dependency, not checked (a kernel file is installed without dependency resolution)", kf.Label, kf.Package.NEVRA(), d))
			continue
		}
		ok := provided(d, self)
		if !ok && strings.HasPrefix(d.Name, "/") && !loaded {
			// primary.xml lists only some files: look at filelists.xml too.
			if err := loadFiles(ctx); err != nil {
				return nil, err
			}
			loaded = true
			ok = provided(d, self)
		}
		if !ok {
			out = append(out, fmt.Sprintf("kernel RPM file %s (%s) requires %s, which nothing in the image provides (a kernel file is installed without dependency resolution, as VIC does)", kf.Label, kf.Package.NEVRA(), d))
		}
	}
	return out, nil
}

// provided reports whether one of pkgs provides d: by a provide, its own
// name and EVR, or (a path) a file it holds.
func provided(d rpmrepo.Dep, pkgs []*rpmrepo.Package) bool {
	for _, p := range pkgs {
		if resolver.Satisfies(rpmrepo.Dep{Name: p.Name, Flags: rpmrepo.FlagsEQ, EVR: p.EVR}, d) {
			return true
		}
		for _, pr := range p.Provides {
			if resolver.Satisfies(pr, d) {
				return true
			}
		}
		if strings.HasPrefix(d.Name, "/") && slices.Contains(p.Files, d.Name) {
			return true
		}
	}
	return false
}

// sbomNotes are the SBOM's comment on the kernel file's package and, when
// it is unsigned, the annotation that says so.
func (kf *KernelFile) sbomNotes() (comment, annotation string) {
	comment = fmt.Sprintf("kernel RPM file %s named by the repo definition, not fetched from a repository", kf.Package.Location)
	if kf.Unsigned != "" {
		annotation = "UNSIGNED: no key of the repo definition signed this kernel RPM file; it was accepted with --allow-unsigned-kernel (" + kf.Unsigned + ")"
	}
	return comment, annotation
}
