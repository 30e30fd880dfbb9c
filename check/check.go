// Package check audits a repo definition and its repositories without
// building: the definition as a build loads it, every enabled
// repository's repomd.xml, signature and metadata checksums, optionally
// every package (downloaded through the cache and verified), the closure
// and installability of every package, whether the definition's package
// sets resolve, and a lock against what the repositories serve now.
//
// It reports problems instead of stopping at the first: Run returns an
// error only when the definition itself cannot be loaded or the context
// ends; everything else is in the Report, whose OK says whether all is well.
package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/pipeline"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// Options are what to check and how to reach the repositories; the flags
// mean what they mean for a build.
type Options struct {
	// Repo is an embedded definition's name or a definition folder.
	Repo string
	// GPGKeys are extra armored key files trusted for every repository.
	GPGKeys []string
	// Mirrors replace a repository's baseurl/mirrorlist for fetching, by id.
	Mirrors map[string]string
	// CacheDir is the content-addressed cache (required).
	CacheDir string
	// Offline uses only the cache.
	Offline bool
	// Packages fetches and verifies every package of every enabled
	// repository.
	Packages bool
	// LockFile, when set, is checked against what the repositories serve.
	LockFile string
	// Jobs bounds parallel downloads (0: 4).
	Jobs int
	// NoWeakDeps resolves the definition's sets without weak dependencies.
	NoWeakDeps bool
	// AllowUnsignedKernel accepts a kernel RPM file no key of the
	// definition signed, as a build with --allow-unsigned-kernel does.
	AllowUnsignedKernel bool
	// Progress, when set, is told about each download and, when it is
	// also a Counter, about the packages verified so far (Packages).
	Progress rpmrepo.Progress
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Report is everything Run found. The JSON form is what `vicroot check
// --json` prints.
type Report struct {
	Definition   string       `json:"definition"`
	Repositories []RepoReport `json:"repositories"`
	// Packages is filled only when packages are fetched (Options.Packages).
	Packages      []PackageResult `json:"packages"`
	Unresolved    []Unresolved    `json:"unresolved"`
	Uninstallable []Uninstallable `json:"uninstallable"`
	// Installable counts the packages checked and found installable.
	Installable int         `json:"installable"`
	Sets        []SetResult `json:"sets"`
	// Kernel is the definition's kernel RPM file, when it names one.
	Kernel *KernelReport `json:"kernel,omitempty"`
	Lock   []LockIssue   `json:"lock,omitempty"`
	// Problems are every defect, one sentence each, in report order.
	Problems []string `json:"problems"`
}

// RepoReport is one enabled repository.
type RepoReport struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Signature is the fingerprint of the key that verified repomd.xml
	// (repo_gpgcheck=1), "not checked" otherwise.
	Signature string          `json:"signature"`
	GPGCheck  bool            `json:"gpgcheck"`
	Metadata  []MetadataCheck `json:"metadata"`
	Packages  int             `json:"packages"`
	ByArch    map[string]int  `json:"by_arch"`
	Excluded  int             `json:"excluded,omitempty"`
	Error     string          `json:"error,omitempty"`
	repo      *rpmrepo.Repo   `json:"-"`
	cfg       *rpmrepo.RepoConfig
}

// MetadataCheck is one <data> record of repomd.xml, fetched and checked.
type MetadataCheck struct {
	Type     string `json:"type"`
	Location string `json:"location"`
	Checksum string `json:"checksum"`
	OK       bool   `json:"ok"`
	Problem  string `json:"problem,omitempty"`
}

// Verdicts of a package check.
const (
	VerdictOK        = "ok"
	VerdictNoKey     = "nokey"
	VerdictUnsigned  = "unsigned"
	VerdictBad       = "bad"
	VerdictMalformed = "malformed"
	VerdictMismatch  = "mismatch"
	VerdictMissing   = "missing"
)

// PackageResult is one package fetched and verified.
type PackageResult struct {
	NEVRA   string `json:"nevra"`
	Repo    string `json:"repo"`
	Verdict string `json:"verdict"`
	// Key is the fingerprint of the key that verified the signature (ok),
	// or the key ID of the signature no key verified (nokey).
	Key    string `json:"key"`
	Detail string `json:"detail,omitempty"`
	// problem is whether the verdict is a defect under the repository's
	// gpgcheck setting.
	problem bool
}

// Unresolved is a requirement no package of the repositories provides.
type Unresolved struct {
	NEVRA    string `json:"nevra"`
	Repo     string `json:"repo"`
	Requires string `json:"requires"`
}

// Uninstallable is a package that cannot be installed from these
// repositories alone.
type Uninstallable struct {
	NEVRA   string `json:"nevra"`
	Repo    string `json:"repo"`
	Problem string `json:"problem"`
}

// SetResult is whether one of the definition's package sets resolves.
type SetResult struct {
	Name     string `json:"name"`
	Resolves bool   `json:"resolves"`
	Packages int    `json:"packages"`
	Problem  string `json:"problem,omitempty"`
}

// LockIssue is a locked package the repositories no longer serve as locked.
type LockIssue struct {
	NEVRA   string `json:"nevra"`
	Problem string `json:"problem"`
}

// OK reports whether nothing is wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Run checks the definition opts.Repo.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.CacheDir == "" {
		return nil, errors.New("check: no cache directory")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := opts.Repo
	if name == "" {
		name = repos.DefaultName
	}
	def, err := repos.Load(name)
	if err != nil {
		return nil, err
	}
	for _, k := range opts.GPGKeys {
		if err := def.AddKeyFile(k); err != nil {
			return nil, err
		}
	}
	rep := &Report{Definition: def.Name, Packages: []PackageResult{}, Unresolved: []Unresolved{},
		Uninstallable: []Uninstallable{}, Sets: []SetResult{}, Problems: []string{}}
	c := &checker{opts: opts, def: def, log: log, rep: rep,
		ro: rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: filepath.Clean(opts.CacheDir)}, Offline: opts.Offline, Concurrency: opts.Jobs, Logger: log, Progress: opts.Progress}}
	pipeline.RemoveStaleTemps(c.ro.Cache, log)
	if err := c.openRepos(ctx); err != nil {
		return nil, err
	}
	c.checkKernelFile()
	for i := range rep.Repositories {
		if err := c.checkMetadata(ctx, &rep.Repositories[i]); err != nil {
			return nil, err
		}
	}
	if opts.Packages {
		if err := c.checkPackages(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.checkInstallability(ctx); err != nil {
		return nil, err
	}
	c.checkSets(ctx)
	if opts.LockFile != "" {
		if err := c.checkLock(); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

type checker struct {
	opts Options
	def  *repos.Definition
	log  *slog.Logger
	rep  *Report
	ro   rpmrepo.Options
	keys []*repos.Key
	pkgs []*rpmrepo.Package
	prio map[string]int
	// kernel is the definition's kernel RPM file, verified (nil when it
	// names none, or it did not verify).
	kernel *pipeline.KernelFile
}

// openRepos opens every enabled repository as a build does (keys from the
// definition, pinned keys from their release package, --mirror), keeping
// a repository that fails as a problem instead of stopping.
func (c *checker) openRepos(ctx context.Context) error {
	vars := rpmrepo.Vars{"releasever": c.def.Releasever, "basearch": repos.BaseArch, "arch": repos.BaseArch}
	for i := range c.def.Keys {
		c.keys = append(c.keys, &c.def.Keys[i])
	}
	c.prio = map[string]int{}
	var cfgs []*rpmrepo.RepoConfig
	for _, f := range c.def.RepoFiles {
		l, err := rpmrepo.ParseRepoFile(f.Name, f.Data, vars)
		if err != nil {
			return err
		}
		cfgs = append(cfgs, l...)
	}
	used := map[string]bool{}
	seen := map[string]bool{}
	for _, cfg := range cfgs {
		if !cfg.Enabled {
			continue
		}
		if seen[cfg.ID] {
			return fmt.Errorf("check: repository id %q is defined twice (%s)", cfg.ID, cfg.Source)
		}
		seen[cfg.ID] = true
		o := c.ro
		if m, ok := c.opts.Mirrors[cfg.ID]; ok {
			o.Mirror = m
			used[cfg.ID] = true
		}
		rr := RepoReport{ID: cfg.ID, Signature: "not checked", GPGCheck: cfg.GPGCheck, ByArch: map[string]int{}, Metadata: []MetadataCheck{}, cfg: cfg}
		rr.URL = strings.Join(cfg.BaseURLs, " ")
		if rr.URL == "" {
			rr.URL = cfg.MirrorList + cfg.Metalink
		}
		kr, err := c.keyRing(ctx, cfg, o)
		if err == nil {
			o.KeyRing = kr
			rr.repo, err = rpmrepo.Open(ctx, cfg, o)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			rr.Error = err.Error()
			c.rep.problem("repository %s: %v", cfg.ID, err)
			c.rep.Repositories = append(c.rep.Repositories, rr)
			continue
		}
		if s := rr.repo.RepoMDSignature; s != nil {
			rr.Signature = s.Fingerprint
		}
		rr.Excluded = rr.repo.Excluded
		for _, p := range rr.repo.Packages() {
			rr.Packages++
			rr.ByArch[p.Arch]++
		}
		c.prio[cfg.ID] = cfg.Priority
		c.pkgs = append(c.pkgs, rr.repo.Packages()...)
		c.rep.Repositories = append(c.rep.Repositories, rr)
	}
	for id := range c.opts.Mirrors {
		if !used[id] {
			return fmt.Errorf("check: --mirror %s: no enabled repository has that id", id)
		}
	}
	if len(seen) == 0 {
		c.rep.problem("definition %s: no enabled repository", c.def.Name)
	}
	return nil
}

// checkMetadata fetches every record repomd.xml lists through the cache
// and checks it against its checksum and size.
func (c *checker) checkMetadata(ctx context.Context, rr *RepoReport) error {
	if rr.repo == nil {
		return nil
	}
	f := &rpmrepo.Fetcher{Cache: c.ro.Cache, Offline: c.opts.Offline, Logger: c.log}
	for _, d := range rr.repo.MD.Data {
		mc := MetadataCheck{Type: d.Type, Location: d.Location, Checksum: d.Checksum.String(), OK: true}
		if _, err := f.FetchFile(ctx, []string{rr.repo.Base}, d.Location, d.Checksum, d.Size); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mc.OK, mc.Problem = false, err.Error()
			c.rep.problem("repository %s: metadata %s (%s): %v", rr.ID, d.Type, d.Location, err)
		}
		rr.Metadata = append(rr.Metadata, mc)
	}
	return nil
}

// checkLock compares a lock with what the repositories serve.
func (c *checker) checkLock() error {
	data, err := os.ReadFile(c.opts.LockFile)
	if err != nil {
		return fmt.Errorf("check: --lock: %w", err)
	}
	l, err := resolver.ParseLock(data, c.opts.LockFile)
	if err != nil {
		return err
	}
	byNEVRA := map[string][]*rpmrepo.Package{}
	for _, p := range c.pkgs {
		byNEVRA[p.NEVRA()] = append(byNEVRA[p.NEVRA()], p)
	}
	for _, lp := range l.Packages {
		cands := byNEVRA[lp.NEVRA]
		var issue string
		switch {
		case lp.Repo == pipeline.LocalRepo:
			issue = c.lockedKernel(lp.Checksum)
		case len(cands) == 0:
			issue = "no repository serves it any more"
		default:
			issue = "served with another checksum: "
			var sums []string
			for _, p := range cands {
				if p.Checksum.String() == lp.Checksum {
					issue = ""
					break
				}
				sums = append(sums, p.Repo+" "+p.Checksum.String())
			}
			if issue != "" {
				issue += strings.Join(sums, ", ") + " (locked " + lp.Checksum + ")"
			}
		}
		if issue != "" {
			c.rep.Lock = append(c.rep.Lock, LockIssue{NEVRA: lp.NEVRA, Problem: issue})
			c.rep.problem("lock: %s: %s", lp.NEVRA, issue)
		}
	}
	return nil
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
