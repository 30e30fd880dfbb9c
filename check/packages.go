package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/vicroot/vicroot/internal/rpmhdr"

	"github.com/vicroot/vicroot/rpmrepo"
)

// checkPackages fetches every package of every open repository through the
// cache, verifies it with the repository's keys, and compares its header
// with what primary.xml says about it.
func (c *checker) checkPackages(ctx context.Context) error {
	type job struct {
		rr  *RepoReport
		pkg *rpmrepo.Package
		out *PackageResult
	}
	var jobs []job
	var results []PackageResult
	for i := range c.rep.Repositories {
		rr := &c.rep.Repositories[i]
		if rr.repo == nil {
			continue
		}
		for _, p := range rr.repo.Packages() {
			results = append(results, PackageResult{NEVRA: p.NEVRA(), Repo: rr.ID})
			jobs = append(jobs, job{rr: rr, pkg: p})
		}
	}
	for i := range jobs {
		jobs[i].out = &results[i]
	}
	n := c.opts.Jobs
	if n <= 0 {
		n = 4
	}
	ch := make(chan job)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				verifyPackage(ctx, j.rr, j.pkg, j.out)
			}
		}()
	}
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.rep.Packages = results
	for _, r := range results {
		if r.problem {
			c.rep.problem("package %s (%s): %s: %s", r.NEVRA, r.Repo, r.Verdict, r.Detail)
		}
	}
	return nil
}

// verifyPackage fills out with the verdict on one package.
func verifyPackage(ctx context.Context, rr *RepoReport, p *rpmrepo.Package, out *PackageResult) {
	fetched, err := rr.repo.Fetch(ctx, []*rpmrepo.Package{p})
	var f rpmrepo.Fetched
	if len(fetched) == 1 {
		f = fetched[0]
	}
	gpg := rr.GPGCheck
	out.problem = true
	if f.Verification != nil {
		for _, s := range f.Verification.Signatures {
			if s.Status == rpmrepo.SigNoKey && out.Key == "" {
				out.Key = s.KeyID
			}
		}
		if f.Verification.Fingerprint != "" {
			out.Key = f.Verification.Fingerprint
		}
	}
	if err != nil {
		out.Detail = strings.TrimPrefix(err.Error(), "rpmrepo: "+p.NEVRA()+": ")
		switch {
		case errors.Is(err, rpmrepo.ErrNotFound), errors.Is(err, rpmrepo.ErrOffline):
			out.Verdict = VerdictMissing
		case errors.Is(err, rpmrepo.ErrChecksum), errors.Is(err, rpmrepo.ErrDigest), errors.Is(err, rpmrepo.ErrBadSignature), errors.Is(err, rpmrepo.ErrNotTrusted):
			out.Verdict = VerdictBad
		case errors.Is(err, rpmrepo.ErrMalformedRPM):
			out.Verdict = VerdictMalformed
		case errors.Is(err, rpmrepo.ErrNoKey):
			out.Verdict = VerdictNoKey
		case errors.Is(err, rpmrepo.ErrUnsigned):
			out.Verdict, out.Key = VerdictUnsigned, ""
		default:
			out.Verdict = VerdictBad
		}
		return
	}
	v := f.Verification
	switch {
	case v != nil && v.Fingerprint != "":
		out.Verdict = VerdictOK
	case v != nil && len(v.Signatures) > 0:
		// gpgcheck=0: signed, but by no key the definition gives.
		out.Verdict, out.problem = VerdictNoKey, gpg
		out.Detail = "signed by a key the definition does not give (gpgcheck=0)"
	default:
		out.Verdict, out.problem = VerdictUnsigned, gpg
		out.Detail = "not signed (gpgcheck=0)"
	}
	if msg := headerMismatch(f.Path, p); msg != "" {
		out.Verdict, out.Detail, out.problem = VerdictMismatch, msg, true
		return
	}
	if !out.problem && out.Verdict == VerdictOK {
		out.Detail = ""
	}
	if out.Verdict == VerdictOK {
		out.problem = false
	}
}

// headerMismatch compares the RPM's header with primary.xml's entry:
// name, epoch, version, release, arch. "" when they agree.
func headerMismatch(file string, p *rpmrepo.Package) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("header unreadable: %v", r)
		}
	}()
	fh, err := os.Open(file)
	if err != nil {
		return err.Error()
	}
	defer fh.Close()
	f, err := rpmhdr.ReadFile(fh, -1)
	if err != nil {
		return "header unreadable: " + err.Error()
	}
	nv, err := f.Main.NEVRA()
	if err != nil {
		return "header unreadable: " + err.Error()
	}
	arch := nv.Arch
	if f.Main.Has(tagSourcePackage) {
		arch = "src"
	}
	norm := func(e string) string {
		if e == "" {
			return "0"
		}
		return e
	}
	var diffs []string
	for _, d := range []struct{ what, meta, hdr string }{
		{"name", p.Name, nv.Name}, {"epoch", norm(p.Epoch), strconv.FormatUint(nv.Epoch, 10)}, {"version", p.Version, nv.Version},
		{"release", p.Release, nv.Release}, {"arch", p.Arch, arch},
	} {
		if d.meta != d.hdr {
			diffs = append(diffs, fmt.Sprintf("%s %q in the metadata, %q in the header", d.what, d.meta, d.hdr))
		}
	}
	return strings.Join(diffs, "; ")
}

// tagSourcePackage is RPMTAG_SOURCEPACKAGE, set in source packages.
const tagSourcePackage = 1106
