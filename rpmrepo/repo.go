package rpmrepo

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/pgparmor"
	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/internal/workers"
)

// ErrRepoSignature: repo_gpgcheck is on and repomd.xml.asc is missing or
// does not verify with the repository's keys.
var ErrRepoSignature = errors.New("repomd.xml signature does not verify")

// Options configure Open.
type Options struct {
	// Cache is required: every downloaded file goes through it.
	Cache *Cache
	// Offline: use only the cache (including a repomd.xml stored by an
	// earlier online Open); missing files are listed in a *MissingError.
	Offline bool
	// HTTPClient defaults to one that honours the proxy variables.
	HTTPClient *http.Client
	// Mirror, when set, replaces the .repo file's baseurl list (e.g. a
	// file:// copy of the repository, or a local mirror).
	Mirror string
	// KeyRing holds the keys of the repository's gpgkey list (resolved by
	// the caller). Required when gpgcheck or repo_gpgcheck is on.
	KeyRing *KeyRing
	// Concurrency, Attempts, Backoff and RequestTimeout tune the Fetcher
	// (see there).
	Concurrency    int
	Attempts       int
	Backoff        time.Duration
	RequestTimeout time.Duration
	// Timeout is how long a server may stay silent (Fetcher.Timeout).
	Timeout time.Duration
	// Progress, when set, is told about each download.
	Progress Progress
	Logger   *slog.Logger
}

// Repo is an opened repository: its verified repomd.xml and the packages
// of its primary.xml (Package.Repo is the repository id).
type Repo struct {
	Config *RepoConfig
	MD     *RepoMD
	// Base is the base URL that served repomd.xml; later downloads try it
	// first, then the others.
	Base string
	// RepoMDSignature is set when repo_gpgcheck verified repomd.xml.asc.
	RepoMDSignature *SigCheck
	// Excluded counts packages dropped by exclude/includepkgs.
	Excluded int

	opts    Options
	fetcher *Fetcher
	bases   []string
	pkgs    []*Package

	mu        sync.Mutex
	filelists bool
}

// Open fetches and verifies repomd.xml (and repomd.xml.asc when
// repo_gpgcheck=1), then fetches primary metadata into the cache, verifies
// it against repomd's checksum and parses it as a stream. Filelists are
// not read until LoadFilelists.
func Open(ctx context.Context, cfg *RepoConfig, opts Options) (*Repo, error) {
	if opts.Cache == nil {
		return nil, fmt.Errorf("rpmrepo: repo %s: Options.Cache is required", cfg.ID)
	}
	if (cfg.GPGCheck || cfg.RepoGPGCheck) && opts.KeyRing == nil {
		return nil, fmt.Errorf("rpmrepo: repo %s (%s): gpgcheck or repo_gpgcheck is on but no keys were given: %w", cfg.ID, cfg.Source, ErrNoKey)
	}
	r := &Repo{Config: cfg, opts: opts}
	r.fetcher = &Fetcher{
		Cache: opts.Cache, Client: opts.HTTPClient, Concurrency: opts.Concurrency, Attempts: opts.Attempts, Backoff: opts.Backoff,
		RequestTimeout: opts.RequestTimeout, Timeout: opts.Timeout, Offline: opts.Offline, Progress: opts.Progress, Logger: opts.Logger,
	}
	bases := cfg.BaseURLs
	if opts.Mirror != "" {
		bases = []string{opts.Mirror}
	} else if !opts.Offline {
		for _, ml := range []struct {
			url   string
			parse func([]byte) []string
		}{{cfg.MirrorList, parseMirrorList}, {cfg.Metalink, parseMetalink}} {
			if ml.url == "" {
				continue
			}
			b, _, err := r.fetcher.fetchBytes(ctx, []string{""}, ml.url, 16<<20)
			if err != nil {
				if len(bases) > 0 {
					r.fetcher.log().Warn("mirror list unavailable", "repo", cfg.ID, "url", ml.url, "err", err)
					continue
				}
				return nil, fmt.Errorf("rpmrepo: repo %s: mirror list: %w", cfg.ID, err)
			}
			bases = append(append([]string(nil), bases...), ml.parse(b)...)
		}
	}
	if len(bases) == 0 && !opts.Offline {
		return nil, fmt.Errorf("rpmrepo: repo %s (%s): no base URL (baseurl, mirrorlist or metalink) to fetch from", cfg.ID, cfg.Source)
	}
	r.bases = bases
	// The cached repomd.xml is keyed by where it came from as configured,
	// so offline mode finds it without the mirror list.
	source := opts.Mirror
	if source == "" {
		source = strings.Join(cfg.BaseURLs, " ") + "|" + cfg.MirrorList + "|" + cfg.Metalink
	}
	name := "repomd.xml of " + cfg.ID
	key := cfg.ID + "\x00" + source
	var md []byte
	if opts.Offline {
		b, err := opts.Cache.loadByName("repomd", key)
		if err != nil {
			return nil, &MissingError{Items: []string{cfg.ID + ": repodata/repomd.xml (from " + describeSource(cfg, opts.Mirror) + ")"}}
		}
		md = b
		// Whatever is wrong with it is wrong with the cache, not the
		// server: say so, and how to replace it.
		name += fmt.Sprintf(" (the cached copy %s, stored from %s; an online run fetches it again)", opts.Cache.namedPath("repomd", key), describeSource(cfg, opts.Mirror))
		if len(bases) > 0 {
			r.Base = bases[0]
		}
	} else {
		b, base, err := r.fetcher.fetchBytes(ctx, bases, "repodata/repomd.xml", 64<<20)
		if err != nil {
			return nil, fmt.Errorf("rpmrepo: repo %s: %w", cfg.ID, err)
		}
		md, r.Base = b, base
		// Put the serving base first for every later download.
		r.bases = append([]string{base}, without(bases, base)...)
	}
	if cfg.RepoGPGCheck {
		var asc []byte
		var err error
		if opts.Offline {
			asc, err = opts.Cache.loadByName("repomd-asc", key)
			if err != nil {
				return nil, &MissingError{Items: []string{cfg.ID + ": repodata/repomd.xml.asc (from " + describeSource(cfg, opts.Mirror) + ")"}}
			}
		} else {
			asc, _, err = r.fetcher.fetchBytes(ctx, []string{r.Base}, "repodata/repomd.xml.asc", 1<<20)
			if err != nil {
				return nil, fmt.Errorf("rpmrepo: repo %s: %w: %w", cfg.ID, ErrRepoSignature, err)
			}
		}
		sc, err := VerifyDetached(md, asc, opts.KeyRing)
		if err != nil {
			return nil, fmt.Errorf("rpmrepo: %s: %w", name, err)
		}
		r.RepoMDSignature = sc
		if !opts.Offline {
			if err := opts.Cache.storeByName("repomd-asc", key, asc); err != nil {
				return nil, fmt.Errorf("rpmrepo: cache: %w", err)
			}
		}
	}
	parsed, err := ParseRepoMD(md, name)
	if err != nil {
		return nil, err
	}
	r.MD = parsed
	if !opts.Offline {
		if err := opts.Cache.storeByName("repomd", key, md); err != nil {
			return nil, fmt.Errorf("rpmrepo: cache: %w", err)
		}
	}
	if err := r.loadPrimary(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// describeSource says where a repository's repomd.xml comes from, for
// messages: the mirror, else the base URLs, mirror list and metalink.
func describeSource(cfg *RepoConfig, mirror string) string {
	if mirror != "" {
		return mirror
	}
	var parts []string
	if len(cfg.BaseURLs) > 0 {
		parts = append(parts, strings.Join(cfg.BaseURLs, " "))
	}
	if cfg.MirrorList != "" {
		parts = append(parts, "mirrorlist "+cfg.MirrorList)
	}
	if cfg.Metalink != "" {
		parts = append(parts, "metalink "+cfg.Metalink)
	}
	return strings.Join(parts, ", ")
}

// parseMirrorList reads a yum mirror list: one base URL per line, "#"
// comments.
func parseMirrorList(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || !isBaseURL(l) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// parseMetalink reads the <url> elements of a metalink; they name
// .../repodata/repomd.xml, whose base is the repository URL.
func parseMetalink(b []byte) []string {
	var ml struct {
		URLs []string `xml:"files>file>resources>url"`
	}
	if xml.Unmarshal(b, &ml) != nil {
		return nil
	}
	var out []string
	for _, u := range ml.URLs {
		u = strings.TrimSpace(u)
		if base, ok := strings.CutSuffix(u, "repodata/repomd.xml"); ok && isBaseURL(base) {
			out = append(out, base)
		}
	}
	return out
}

// isBaseURL: u can be fetched from: a known scheme, and nothing a URL
// may not hold unescaped (white space, control characters).
func isBaseURL(u string) bool {
	return hasScheme(u) && strings.IndexFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError }) < 0
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// metadataFile fetches (or finds in the cache) one repomd record.
func (r *Repo) metadataFile(ctx context.Context, kind string) (string, RepoMDData, error) {
	d, err := r.MD.metadata(kind, "repo "+r.Config.ID)
	if err != nil {
		return "", d, err
	}
	p, err := r.fetcher.fetchVerified(ctx, r.bases, d.Location, d.Checksum, d.Size, nil)
	if errors.Is(err, ErrOffline) {
		return "", d, &MissingError{Items: []string{fmt.Sprintf("%s: %s (%s)", r.Config.ID, d.Location, d.Checksum)}}
	}
	if err != nil {
		return "", d, fmt.Errorf("rpmrepo: repo %s: %s: %w", r.Config.ID, kind, err)
	}
	return p, d, nil
}

// openMetadata opens a verified cached metadata file, decompressed.
func openMetadata(p string, d RepoMDData) (io.ReadCloser, func(), error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	// Buffered: the xz decoder reads its headers a few bytes at a time.
	z, err := decompress(bufio.NewReaderSize(f, 64<<10), d.Location)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", d.Location, err)
	}
	return z, func() { z.Close(); f.Close() }, nil
}

func (r *Repo) loadPrimary(ctx context.Context) error {
	p, d, err := r.metadataFile(ctx, "primary")
	if err != nil {
		return err
	}
	z, done, err := openMetadata(p, d)
	if err != nil {
		return fmt.Errorf("rpmrepo: repo %s: %w", r.Config.ID, err)
	}
	defer done()
	name := fmt.Sprintf("%s of %s", path.Base(d.Location), r.Config.ID)
	err = ParsePrimary(z, name, func(pkg *Package) error {
		pkg.Repo = r.Config.ID
		if !r.included(pkg) {
			r.Excluded++
			return nil
		}
		r.pkgs = append(r.pkgs, pkg)
		return nil
	})
	return err
}

// included applies exclude and includepkgs (shell globs on the name or
// the NEVRA, as dnf matches them).
func (r *Repo) included(p *Package) bool {
	match := func(globs []string) bool {
		for _, g := range globs {
			if ok, _ := path.Match(g, p.Name); ok {
				return true
			}
			if ok, _ := path.Match(g, p.NEVRA()); ok {
				return true
			}
		}
		return false
	}
	if match(r.Config.Exclude) {
		return false
	}
	if len(r.Config.IncludePkgs) > 0 && !match(r.Config.IncludePkgs) {
		return false
	}
	return true
}

// Packages returns the repository's packages in primary.xml order.
func (r *Repo) Packages() []*Package { return r.pkgs }

// LoadFilelists reads filelists.xml (once; later calls do nothing) and
// replaces Files of every package of the repository with its complete
// list, setting FilesComplete. The resolver calls it only when a file
// dependency is not satisfied by primary's file subset. It is safe to call
// concurrently, but it writes Package.Files: do not read them meanwhile.
func (r *Repo) LoadFilelists(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.filelists {
		return nil
	}
	p, d, err := r.metadataFile(ctx, "filelists")
	if err != nil {
		return err
	}
	z, done, err := openMetadata(p, d)
	if err != nil {
		return fmt.Errorf("rpmrepo: repo %s: %w", r.Config.ID, err)
	}
	defer done()
	byID := make(map[string][]*Package, len(r.pkgs))
	for _, pkg := range r.pkgs {
		byID[pkg.Checksum.Value] = append(byID[pkg.Checksum.Value], pkg)
	}
	name := fmt.Sprintf("%s of %s", path.Base(d.Location), r.Config.ID)
	err = ParseFilelists(z, name, func(e FilelistEntry) error {
		for _, pkg := range byID[e.PkgID] {
			if pkg.Name == e.Name && pkg.Arch == e.Arch {
				pkg.Files = e.Files
				pkg.FilesComplete = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.filelists = true
	return nil
}

// Fetched is one package downloaded into the cache and verified.
type Fetched struct {
	Package *Package
	// Path is the verified file in the cache.
	Path string
	// Verification is the signature and digest check (gpgcheck as the
	// repository says).
	Verification *Verification
}

// Fetch downloads the packages (each must come from this repository) into
// the cache with bounded concurrency, verifies each against its primary.xml
// checksum before it enters the cache, then checks its digests and (when
// gpgcheck=1) signatures with the repository's keys. Results are in the
// order of pkgs. Offline, every missing package is listed in one
// *MissingError.
func (r *Repo) Fetch(ctx context.Context, pkgs []*Package) ([]Fetched, error) {
	return r.FetchEach(ctx, pkgs, nil)
}

// FetchEach is Fetch that also hands each package to ready as soon as its
// file is in the cache and verified, before FetchEach returns: the caller
// may start using it while the others download. Only a verified file is
// ever handed over. ready runs on the downloading goroutines, several at
// once; it should return quickly. The downloads start in the order of
// pkgs (Concurrency at a time), and every one runs to its end even when
// another fails, so that the error lists every package that failed.
func (r *Repo) FetchEach(ctx context.Context, pkgs []*Package, ready func(Fetched)) ([]Fetched, error) {
	return FetchAll(ctx, []*Repo{r}, pkgs, ready)
}

// FetchAll is FetchEach for packages of several repositories (each
// package's Repo must be one of repos): one queue in the order of pkgs
// across all of them, so that the first packages start first whichever
// repository holds them, worked by as many downloads at once as the
// largest Concurrency of repos. Offline, the one *MissingError lists the
// missing packages repository by repository, in the order of repos.
func FetchAll(ctx context.Context, repos []*Repo, pkgs []*Package, ready func(Fetched)) ([]Fetched, error) {
	index := map[string]int{}
	n := 0
	for i, r := range repos {
		index[r.Config.ID] = i
		n = max(n, r.fetcher.Concurrency)
	}
	if n <= 0 {
		n = 4
	}
	for _, pkg := range pkgs {
		if _, ok := index[pkg.Repo]; !ok {
			ids := make([]string, len(repos))
			for i, r := range repos {
				ids[i] = r.Config.ID
			}
			return nil, fmt.Errorf("rpmrepo: %s is from repo %q, not %q", pkg, pkg.Repo, strings.Join(ids, `", "`))
		}
	}
	out := make([]Fetched, len(pkgs))
	errs := make([]error, len(pkgs))
	workers.Each(len(pkgs), n, func(i int) {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			return
		}
		out[i], errs[i] = repos[index[pkgs[i].Repo]].fetchOne(ctx, pkgs[i])
		if errs[i] == nil && ready != nil {
			ready(out[i])
		}
	})
	missing := make([][]string, len(repos))
	var failed []error
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, ErrOffline):
			r := index[pkgs[i].Repo]
			missing[r] = append(missing[r], fmt.Sprintf("%s: %s (%s)", pkgs[i].Repo, pkgs[i].Location, pkgs[i].Checksum))
		default:
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return out, errors.Join(failed...)
	}
	var items []string
	for _, m := range missing {
		sort.Strings(m)
		items = append(items, m...)
	}
	if len(items) > 0 {
		return out, &MissingError{Items: items}
	}
	return out, nil
}

func (r *Repo) fetchOne(ctx context.Context, pkg *Package) (Fetched, error) {
	bases := r.bases
	if pkg.LocationBase != "" {
		bases = []string{pkg.LocationBase}
	}
	var v *Verification
	var refusedErr error
	var checked string
	var id fileid.ID
	var facts *rpmFacts
	// The file must be what its checksum says, its signature must hold,
	// and what the metadata said about it must be what its header says,
	// before it enters the cache (or stays there). A cached file whose
	// stamp vouches for it has only its headers read (verifyRPMFile).
	var before *stamp
	check := func(p string) error {
		st := takeVouched(p, pkg.Checksum)
		before = st
		var err error
		v, id, facts, err = verifyRPMFile(p, st, r.opts.KeyRing, r.Config.GPGCheck)
		checked = p
		var main *rpmhdr.Header
		if v != nil {
			v.Name = pkg.NEVRA()
			main, v.main = v.main, nil
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// The file could not be opened or read (no file descriptor
			// left, an I/O error): that says nothing of its content,
			// which stays in the cache.
			return unreadable{fmt.Errorf("rpmrepo: %s (repo %s): %w", pkg, r.Config.ID, err)}
		}
		if err != nil {
			refusedErr = fmt.Errorf("rpmrepo: %s (repo %s, gpgcheck=%v): %w", pkg, r.Config.ID, r.Config.GPGCheck, err)
		} else if err := MatchHeader(r.packageURL(pkg), pkg, main); err != nil {
			refusedErr = fmt.Errorf("rpmrepo: %s (repo %s): %w", pkg, r.Config.ID, err)
		}
		if refusedErr != nil {
			os.Remove(stampPath(p))
		}
		return refusedErr
	}
	p, err := r.fetcher.fetchVerified(ctx, bases, pkg.Location, pkg.Checksum, pkg.Size, check)
	if err != nil {
		if refusedErr == nil && !errors.As(err, new(unreadable)) {
			err = fmt.Errorf("rpmrepo: %s: %w", pkg, err)
		}
		return Fetched{Package: pkg, Verification: v}, err
	}
	switch {
	case facts == nil:
		// The stamp held.
	case checked == p:
		// A full check of the cached file: stamp it as it was then, if
		// it is still the file whose checksum Lookup vouched for (its
		// stamp's identity); a file replaced in between is not stamped.
		if before != nil && before.ID == id {
			writeStamp(p, id, pkg.Checksum, facts)
		}
	default:
		// Checked as a download, then renamed into the cache.
		stampFile(p, pkg.Checksum, facts)
	}
	return Fetched{Package: pkg, Path: p, Verification: v}, nil
}

// packageURL is where pkg's file is fetched from (its location under the
// repository's base, or under its own location base).
func (r *Repo) packageURL(pkg *Package) string {
	base := r.Base
	if pkg.LocationBase != "" {
		base = pkg.LocationBase
	}
	return joinURL(base, pkg.Location)
}

// VerifyDetached checks an armored (or binary) detached OpenPGP signature
// over data, as repo_gpgcheck does for repomd.xml. It returns the check of
// the signature that verified.
func VerifyDetached(data, sig []byte, kr *KeyRing) (*SigCheck, error) {
	blob := sig
	if pgparmor.IsArmored(sig) {
		blocks, err := pgparmor.Split(sig)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRepoSignature, err)
		}
		blob = blob[:0:0]
		for _, b := range blocks {
			blob = append(blob, b.Body...)
		}
	}
	pkts, err := splitPackets(blob)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRepoSignature, err)
	}
	v := &Verification{}
	for _, p := range pkts {
		if p.tag != tagSignature {
			continue
		}
		c := SigCheck{Header: true}
		s, err := parsePGPSig(p.full)
		if err != nil {
			c.Status, c.Detail = parseFailure(err)
			v.Signatures = append(v.Signatures, c)
			continue
		}
		c.Kind, c.KeyID, c.Created = s.describe(), fmt.Sprintf("%016x", s.KeyID), s.Created
		h, err := s.newHash()
		if err != nil {
			c.Status, c.Detail = SigUnsupported, err.Error()
			v.Signatures = append(v.Signatures, c)
			continue
		}
		h.Write(data)
		v.Signatures = append(v.Signatures, c)
		v.checkSig(len(v.Signatures)-1, s, kr, hashVerifier(s, h, nil))
		if v.Signatures[len(v.Signatures)-1].Status == SigOK {
			sc := v.Signatures[len(v.Signatures)-1]
			return &sc, nil
		}
	}
	if len(v.Signatures) == 0 {
		return nil, fmt.Errorf("%w: no signature packet", ErrRepoSignature)
	}
	var msgs []string
	for _, c := range v.Signatures {
		msgs = append(msgs, c.String())
	}
	return nil, fmt.Errorf("%w: %v", ErrRepoSignature, msgs)
}
