package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rpmrepo"
	"github.com/vicroot/vicroot/vic"
)

// repoSet is the definition's enabled repositories, opened and verified:
// the package index the resolver reads, and the fetcher of RPM files.
type repoSet struct {
	repos      map[string]*rpmrepo.Repo
	order      []string // repository ids, as the .repo files list them
	pkgs       []*rpmrepo.Package
	priorities map[string]int
	imageKeys  []vic.ImageKey
	keys       []*repos.Key
	opts       rpmrepo.Options
	log        *slog.Logger
}

func openRepositories(ctx context.Context, def *repos.Definition, opts Options, log *slog.Logger) (*repoSet, error) {
	if opts.CacheDir == "" {
		return nil, errors.New("no cache directory")
	}
	vars := rpmrepo.Vars{"releasever": def.Releasever, "basearch": repos.BaseArch, "arch": repos.BaseArch}
	rs := &repoSet{
		repos: map[string]*rpmrepo.Repo{}, priorities: map[string]int{}, log: log,
		opts: rpmrepo.Options{
			Cache: &rpmrepo.Cache{Dir: filepath.Clean(opts.CacheDir)}, Offline: opts.Offline,
			Concurrency: opts.Jobs, Timeout: opts.Timeout, Logger: log,
		},
	}
	if p, ok := opts.Progress.(rpmrepo.Progress); ok {
		rs.opts.Progress = p
	}
	RemoveStaleTemps(rs.opts.Cache, log)
	for i := range def.Keys {
		rs.keys = append(rs.keys, &def.Keys[i])
	}
	var cfgs []*rpmrepo.RepoConfig
	for _, f := range def.RepoFiles {
		c, err := rpmrepo.ParseRepoFile(f.Name, f.Data, vars)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, c...)
	}
	used := map[string]bool{}
	for _, cfg := range cfgs {
		if !cfg.Enabled {
			continue
		}
		if _, dup := rs.repos[cfg.ID]; dup {
			return nil, fmt.Errorf("repository id %q is defined twice (%s)", cfg.ID, cfg.Source)
		}
		o := rs.opts
		if m, ok := opts.Mirrors[cfg.ID]; ok {
			o.Mirror = m
			used[cfg.ID] = true
		}
		kr, err := rs.keyRing(ctx, cfg, o)
		if err != nil {
			return nil, err
		}
		o.KeyRing = kr
		r, err := rpmrepo.Open(ctx, cfg, o)
		if err != nil {
			if cfg.SkipIfUnavailable {
				log.Warn("repository unavailable, skipped", "repo", cfg.ID, "err", err)
				continue
			}
			return nil, err
		}
		rs.repos[cfg.ID] = r
		rs.order = append(rs.order, cfg.ID)
		rs.priorities[cfg.ID] = cfg.Priority
		rs.pkgs = append(rs.pkgs, r.Packages()...)
	}
	for id := range opts.Mirrors {
		if !used[id] {
			return nil, fmt.Errorf("--mirror %s: no enabled repository has that id", id)
		}
	}
	if len(rs.repos) == 0 {
		return nil, fmt.Errorf("%s: no enabled repository", def.Name)
	}
	for _, k := range rs.keys {
		if k.ImagePath != "" && k.Armored != nil {
			rs.imageKeys = append(rs.imageKeys, vic.ImageKey{Path: k.ImagePath, Armored: k.Armored})
		}
	}
	sort.Slice(rs.imageKeys, func(i, j int) bool { return rs.imageKeys[i].Path < rs.imageKeys[j].Path })
	return rs, nil
}

// RemoveStaleTemps removes the temp files killed processes left in the
// cache (those no running process holds locked), logging each.
func RemoveStaleTemps(c *rpmrepo.Cache, log *slog.Logger) {
	removed, err := c.RemoveStale()
	for _, p := range removed {
		log.Info("removed a temp file a killed process left", "path", p)
	}
	if err != nil {
		log.Warn("removing stale temp files", "err", err)
	}
}

// keyRing is the keys a repository of this build trusts (KeyRing).
func (rs *repoSet) keyRing(ctx context.Context, cfg *rpmrepo.RepoConfig, o rpmrepo.Options) (*rpmrepo.KeyRing, error) {
	return KeyRing(ctx, rs.keys, cfg, o)
}

// KeyRing is the keys a repository trusts: those of keys its gpgkey list
// names, and every --gpgkey. A pinned key without material is taken from
// the release package that ships it (ReleaseKey) and filled in.
func KeyRing(ctx context.Context, keys []*repos.Key, cfg *rpmrepo.RepoConfig, o rpmrepo.Options) (*rpmrepo.KeyRing, error) {
	var files []rpmrepo.KeyFile
	names := map[string]bool{}
	for _, u := range cfg.GPGKeys {
		names[u] = true
	}
	for _, k := range keys {
		if k.Source != repos.KeyFromGPGKeyFlag && !names[k.URL] {
			continue
		}
		if k.Armored == nil {
			if err := ReleaseKey(ctx, cfg, o, k); err != nil {
				return nil, err
			}
		}
		files = append(files, rpmrepo.KeyFile{Name: keyName(k), Data: k.Armored})
	}
	if len(files) == 0 {
		if cfg.GPGCheck || cfg.RepoGPGCheck {
			return nil, fmt.Errorf("repository %s (%s) has gpgcheck on but the definition supplies no key for it", cfg.ID, cfg.Source)
		}
		return nil, nil
	}
	return rpmrepo.ReadKeyFiles(files...)
}

func keyName(k *repos.Key) string {
	if k.File != "" {
		return k.File
	}
	return k.URL
}

// ReleaseKey fills in the material of a key the definition pins but does
// not ship (the embedded definitions): from the repository's package that
// installs the key at its image path (photon-repos, centos-release,
// pgdg-redhat-repo), newest version first, one at a time, so that a
// repository that no longer serves an older release package still works.
// The package is trusted only by its primary.xml checksum until the key's
// fingerprint matches the pin; the package's own signature is then checked
// like every other's when it is fetched for installation.
func ReleaseKey(ctx context.Context, cfg *rpmrepo.RepoConfig, o rpmrepo.Options, k *repos.Key) error {
	if k.ImagePath == "" {
		return fmt.Errorf("key %s is pinned but has no image path to find it in a release package", k.URL)
	}
	o.KeyRing = nil
	bare := *cfg
	bare.GPGCheck, bare.RepoGPGCheck = false, false
	r, err := rpmrepo.Open(ctx, &bare, o)
	if err != nil {
		return fmt.Errorf("looking for the release package of key %s: %w", k.ImagePath, err)
	}
	var cands []*rpmrepo.Package
	for _, p := range r.Packages() {
		if slices.Contains(p.Files, k.ImagePath) {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return fmt.Errorf("key %s: no package of repository %s ships %s, and the definition has no such file", k.URL, cfg.ID, k.ImagePath)
	}
	// The newest first: an older release package may ship an older key.
	sort.SliceStable(cands, func(i, j int) bool { return resolver.CompareEVR(cands[i].EVR, cands[j].EVR) > 0 })
	var errs []string
	for _, p := range cands {
		fetched, err := r.Fetch(ctx, []*rpmrepo.Package{p})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		files, err := rpminstall.Payload(ctx, rpminstall.RPMFile{Path: fetched[0].Path})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		data, err := files.ReadFile(strings.TrimPrefix(path.Clean(k.ImagePath), "/"))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s does not ship %s", p.NEVRA(), k.ImagePath))
			continue
		}
		if _, err := k.Verify(data); err != nil {
			return fmt.Errorf("key %s from %s: %w", k.ImagePath, p.NEVRA(), err)
		}
		k.Armored = data
		return nil
	}
	return fmt.Errorf("key %s: no release package listing it could be read: %s", k.ImagePath, strings.Join(errs, "; "))
}

func (rs *repoSet) loadFiles(ctx context.Context) error {
	for _, id := range rs.order {
		if err := rs.repos[id].LoadFilelists(ctx); err != nil {
			return err
		}
	}
	return nil
}

// fetched is the fetch stage's result: the verified file of each package
// and how it was verified.
type fetched struct {
	files    map[*rpmrepo.Package]string
	verified map[*rpmrepo.Package]*rpmrepo.Verification
}

// keyOf is the fingerprint of the key that verified p ("" when p was not
// fetched).
func (f *fetched) keyOf(p *rpmrepo.Package) string {
	if f == nil {
		return ""
	}
	if v := f.verified[p]; v != nil {
		return v.Fingerprint
	}
	return ""
}

// fetch downloads and verifies every package of the plans (the boot
// loader's included), each once, on one queue across the repositories.
func fetch(ctx context.Context, src *source, pls ...*plans) (*fetched, error) {
	return startFetch(ctx, src, nil, pls...).wait()
}

// fetching is fetch under way, in the background: each package is
// announced (whenReady) as soon as its file is in the cache and verified,
// so that install decodes it while the others download.
type fetching struct {
	mu      sync.Mutex
	files   map[*rpmrepo.Package]string         // the packages verified so far
	waiters map[*rpmrepo.Package][]func(string) // who waits for which package
	done    chan struct{}                       // closed when got and err are set
	got     *fetched
	err     error
}

// startFetch starts fetching every package of the plans. failed, when
// set, is called with the fetch's error as soon as the fetch ends with
// one, so that the work waiting for its packages stops.
func startFetch(ctx context.Context, src *source, failed func(error), pls ...*plans) *fetching {
	f := &fetching{files: map[*rpmrepo.Package]string{}, waiters: map[*rpmrepo.Package][]func(string){}, done: make(chan struct{})}
	// The kernel RPM file is already in the cache, verified (the plans
	// share it: it is part of the base plan).
	kernels := map[*rpmrepo.Package]*KernelFile{}
	for _, pl := range pls {
		if k := pl.kernel; k != nil {
			kernels[k.Package] = k
			f.files[k.Package] = k.Path
		}
	}
	go func() {
		defer close(f.done)
		start := time.Now()
		got, err := src.repos.fetch(ctx, fetchOrder(pls), f.verified)
		if err != nil {
			f.err = err
			if failed != nil {
				failed(err)
			}
			return
		}
		for p, k := range kernels {
			got.files[p], got.verified[p] = k.Path, k.Verification
		}
		f.got = got
		src.repos.log.Info("fetch done", "packages", len(got.files), "wall", fmt.Sprintf("%.2fs", time.Since(start).Seconds()))
	}()
	return f
}

// fetchOrder is the union of the plans' packages in the order their
// downloads start: image by image, as they are built; in each, the big
// packages first, biggest first, as install decodes them
// (rpminstall.Decoding), so that the longest decodings start early, then
// the rest in plan order.
func fetchOrder(pls []*plans) []*rpmrepo.Package {
	const big = 1 << 20
	image := map[*rpmrepo.Package]int{} // the first plan with the package
	for i := len(pls) - 1; i >= 0; i-- {
		for _, p := range pls[i].fetch() {
			image[p] = i
		}
	}
	out := union(pls)
	sort.SliceStable(out, func(i, j int) bool {
		p, q := out[i], out[j]
		if image[p] != image[q] {
			return image[p] < image[q]
		}
		if a, b := p.Size >= big, q.Size >= big; a != b {
			return a
		}
		return p.Size >= big && p.Size > q.Size
	})
	return out
}

// verified records a package's verified file and tells those waiting
// for it.
func (f *fetching) verified(got rpmrepo.Fetched) {
	f.mu.Lock()
	f.files[got.Package] = got.Path
	ws := f.waiters[got.Package]
	delete(f.waiters, got.Package)
	f.mu.Unlock()
	for _, w := range ws {
		w(got.Path)
	}
}

// whenReady calls ready with the path of p's verified file: now, if it is
// there, or as soon as it is. ready is never called for a package the
// fetch did not verify. p must be a package of the plans startFetch was
// given.
func (f *fetching) whenReady(p *rpmrepo.Package, ready func(path string)) {
	f.mu.Lock()
	path, ok := f.files[p]
	if !ok {
		f.waiters[p] = append(f.waiters[p], ready)
	}
	f.mu.Unlock()
	if ok {
		ready(path)
	}
}

// wait waits for the fetch to end and returns its result.
func (f *fetching) wait() (*fetched, error) {
	<-f.done
	return f.got, f.err
}

// fetch fetches pkgs, each once, in their order across the repositories
// (rpmrepo.FetchAll: one queue, so the first packages start first
// whichever repository holds them), handing each verified package to
// ready as it comes. Offline, the error lists the missing packages of
// every repository, in the order of the .repo files.
func (rs *repoSet) fetch(ctx context.Context, pkgs []*rpmrepo.Package, ready func(rpmrepo.Fetched)) (*fetched, error) {
	var list []*rpmrepo.Package
	seen := map[*rpmrepo.Package]bool{}
	for _, p := range pkgs {
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	repos := make([]*rpmrepo.Repo, 0, len(rs.order))
	for _, id := range rs.order {
		repos = append(repos, rs.repos[id])
	}
	got, err := rpmrepo.FetchAll(ctx, repos, list, ready)
	if err != nil {
		return nil, err
	}
	out := &fetched{files: map[*rpmrepo.Package]string{}, verified: map[*rpmrepo.Package]*rpmrepo.Verification{}}
	for _, f := range got {
		out.files[f.Package] = f.Path
		out.verified[f.Package] = f.Verification
	}
	return out, nil
}

// url is where p comes from: the repository's own base URL, never a
// --mirror (which is a fetching detail, often a machine path).
func (rs *repoSet) url(p *rpmrepo.Package) string {
	r := rs.repos[p.Repo]
	if r == nil {
		return ""
	}
	base := r.Base
	if len(r.Config.BaseURLs) > 0 {
		base = r.Config.BaseURLs[0]
	}
	if p.LocationBase != "" {
		base = p.LocationBase
	}
	return strings.TrimSuffix(base, "/") + "/" + p.Location
}
