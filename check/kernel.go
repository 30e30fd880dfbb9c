package check

import (
	"context"
	"errors"

	"github.com/vicroot/vicroot/pipeline"
	"github.com/vicroot/vicroot/rpmrepo"
)

// KernelReport is the definition's kernel RPM file (a kernel given by
// path), verified as a build verifies it (pipeline.LoadKernelFile).
type KernelReport struct {
	File   string `json:"file"`
	NEVRA  string `json:"nevra,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Verdict is ok, unsigned (accepted with AllowUnsignedKernel, or a
	// problem), nokey, bad or malformed, as for packages.
	Verdict string `json:"verdict"`
	// Key is the fingerprint of the key that verified it.
	Key     string `json:"key,omitempty"`
	Problem string `json:"problem,omitempty"`
	// Warnings: an unsigned kernel accepted, requirements nothing in the
	// bootstrap image provides (it is installed without resolution).
	Warnings []string `json:"warnings,omitempty"`
}

// checkKernelFile verifies the definition's kernel RPM file, when it
// names one, once the repositories (and so the pinned keys) are open.
func (c *checker) checkKernelFile() {
	if c.def.KernelFile == "" {
		return
	}
	kr := &KernelReport{File: c.def.KernelLabel()}
	c.rep.Kernel = kr
	kf, err := pipeline.LoadKernelFile(c.def, c.ro.Cache, "", c.opts.AllowUnsignedKernel, nil)
	if err != nil {
		switch {
		case errors.Is(err, rpmrepo.ErrMalformedRPM):
			kr.Verdict = VerdictMalformed
		case errors.Is(err, rpmrepo.ErrNoKey):
			kr.Verdict = VerdictNoKey
		case errors.Is(err, rpmrepo.ErrUnsigned):
			kr.Verdict = VerdictUnsigned
		default:
			kr.Verdict = VerdictBad
		}
		kr.Problem = err.Error()
		c.rep.problem("%s", err)
		return
	}
	c.kernel = kf
	// It is available to closure, installability and the sets as a
	// local RPM on dnf's command line is ("@commandline").
	c.pkgs = append(c.pkgs, kf.Package)
	kr.NEVRA, kr.SHA256, kr.Key = kf.Package.NEVRA(), kf.Package.Checksum.Value, kf.Verification.Fingerprint
	kr.Verdict = VerdictOK
	if kf.Unsigned != "" {
		kr.Verdict = VerdictUnsigned
		kr.Warnings = append(kr.Warnings, "UNSIGNED KERNEL accepted (--allow-unsigned-kernel): "+kf.Unsigned)
	}
}

// kernelWarnings fills in the kernel file's warnings for the image whose
// packages are given.
func (c *checker) kernelWarnings(ctx context.Context, image []*rpmrepo.Package) {
	if c.kernel == nil {
		return
	}
	w, err := c.kernel.Warnings(ctx, image, c.loadFiles)
	if err != nil {
		c.rep.problem("kernel RPM file %s: %v", c.kernel.Label, err)
		return
	}
	c.rep.Kernel.Warnings = w // the unsigned warning again, and the requirements
}

// withKernel is the kernel file's package, as the installed set the
// definition's sets resolve on (none when the kernel is a package).
func (c *checker) withKernel() []*rpmrepo.Package {
	if c.kernel == nil {
		return nil
	}
	return []*rpmrepo.Package{c.kernel.Package}
}

// lockedKernel reports whether a locked package of repository repo with
// this checksum is the kernel file: "" when it is, else the problem.
func (c *checker) lockedKernel(checksum string) string {
	switch {
	case c.kernel == nil:
		return "a kernel RPM file, but the definition names none (or it did not verify)"
	case c.kernel.Package.Checksum.String() != checksum:
		return "the kernel RPM file " + c.kernel.Label + " is now " + c.kernel.Package.Checksum.String() + " (locked " + checksum + ")"
	}
	return ""
}
