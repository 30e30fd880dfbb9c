package check

import (
	"context"

	"github.com/vicroot/vicroot/pipeline"
	"github.com/vicroot/vicroot/rpmrepo"
)

// keyRing is the keys a repository trusts, taken as a build takes them
// (pipeline.KeyRing): its gpgkey list and every --gpgkey, a pinned key
// from the release package that ships it.
func (c *checker) keyRing(ctx context.Context, cfg *rpmrepo.RepoConfig, o rpmrepo.Options) (*rpmrepo.KeyRing, error) {
	return pipeline.KeyRing(ctx, c.keys, cfg, o)
}
