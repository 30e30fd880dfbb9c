package rootfs_test

import (
	"context"

	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/hook"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// root is a tree with its package database and configuration, as the
// build stage assembles them: the tests below check the packages together
// against rpm, dnf and bash (scriptlets); each package's own comparisons
// with shadow-utils, systemd and bash are in its directory.
type root struct {
	*rootfs.Tree
	*rpminstall.Installer
	*sysconf.System
}

func newRoot() *root {
	t := rootfs.New()
	sys := sysconf.New(t)
	return &root{Tree: t, Installer: rpminstall.New(t, sys), System: sys}
}

// RunHook runs a hook script on the tree.
func (r *root) RunHook(ctx context.Context, name string, script []byte, env hook.Env) error {
	return hook.Run(ctx, r.Tree, name, script, env)
}

const sourceDateEpoch = 1700000000

// Install installs files in the given order with the installer's
// decoding scheduler, every file ready from the start (as a build whose
// packages are all in the cache).
func (r *root) Install(ctx context.Context, files []rpminstall.RPMFile, opts rpminstall.InstallOptions) ([]rpminstall.PackageRecord, error) {
	dec := rpminstall.NewDecoding(ctx, len(files), opts)
	defer dec.Stop()
	for i, f := range files {
		dec.Ready(i, f)
	}
	return r.Installer.InstallNext(ctx, dec, len(files), opts)
}
