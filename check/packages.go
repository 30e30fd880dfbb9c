package check

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Counter is told how many of the packages Options.Packages fetches and
// verifies are done (Options.Progress, when it is one). Calls come from
// several goroutines.
type Counter interface {
	Count(done, total int)
}

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
	counter, _ := c.opts.Progress.(Counter)
	var done atomic.Int64
	if counter != nil {
		counter.Count(0, len(jobs))
	}
	ch := make(chan job)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				verifyPackage(ctx, j.rr, j.pkg, j.out)
				if counter != nil {
					counter.Count(int(done.Add(1)), len(jobs))
				}
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
		case errors.Is(err, rpmrepo.ErrHeaderMismatch):
			// The fetcher matched the verified header with primary.xml
			// (rpmrepo.MatchHeader), as every build does.
			out.Verdict = VerdictMismatch
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
	if !out.problem && out.Verdict == VerdictOK {
		out.Detail = ""
	}
	if out.Verdict == VerdictOK {
		out.problem = false
	}
}
