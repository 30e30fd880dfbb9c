package check

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rpmrepo"
)

// keyRing is the keys a repository trusts: those its gpgkey list names and
// every --gpgkey, as a build takes them. A pinned key without material is
// taken from the release package that ships it (releaseKey).
func (c *checker) keyRing(ctx context.Context, cfg *rpmrepo.RepoConfig, o rpmrepo.Options) (*rpmrepo.KeyRing, error) {
	names := map[string]bool{}
	for _, u := range cfg.GPGKeys {
		names[u] = true
	}
	var files []rpmrepo.KeyFile
	for _, k := range c.keys {
		if k.Source != repos.KeyFromGPGKeyFlag && !names[k.URL] {
			continue
		}
		if k.Armored == nil {
			if err := releaseKey(ctx, cfg, o, k); err != nil {
				return nil, err
			}
		}
		name := k.File
		if name == "" {
			name = k.URL
		}
		files = append(files, rpmrepo.KeyFile{Name: name, Data: k.Armored})
	}
	if len(files) == 0 {
		if cfg.GPGCheck || cfg.RepoGPGCheck {
			return nil, fmt.Errorf("gpgcheck or repo_gpgcheck is on (%s) but the definition supplies no key for it", cfg.Source)
		}
		return nil, nil
	}
	return rpmrepo.ReadKeyFiles(files...)
}

// releaseKey fills a pinned key from the repository's package that installs
// it at its image path (pgdg-redhat-repo, photon-repos), accepted only when
// its fingerprint matches the pin. The package is trusted by its
// primary.xml checksum until then; its signature is checked with the key
// like every other package's.
func releaseKey(ctx context.Context, cfg *rpmrepo.RepoConfig, o rpmrepo.Options, k *repos.Key) error {
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
		for _, f := range p.Files {
			if f == k.ImagePath {
				cands = append(cands, p)
				break
			}
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
		t := rootfs.New()
		if _, err := t.InstallRPM(ctx, rootfs.RPMFile{Path: fetched[0].Path}, rootfs.InstallOptions{}); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		data, err := t.ReadFile(strings.TrimPrefix(path.Clean(k.ImagePath), "/"))
		if err != nil {
			continue
		}
		if _, err := k.Verify(data); err != nil {
			return fmt.Errorf("key %s from %s: %w", k.ImagePath, p.NEVRA(), err)
		}
		k.Armored = data
		return nil
	}
	return fmt.Errorf("key %s: no package listing it could be read: %s", k.ImagePath, strings.Join(errs, "; "))
}
