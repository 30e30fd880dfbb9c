package rootfs_test

import (
	"context"

	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/hook"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// root is a tree with its package database and configuration, as the
// build stage assembles them: the tests below check the three packages
// together against rpm, dnf, bash, shadow-utils and systemd.
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
