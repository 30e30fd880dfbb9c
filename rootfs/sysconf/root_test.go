package sysconf_test

import (
	"context"
	"testing"

	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/hook"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// sourceDateEpoch is the time the oracles and the tree are given.
const sourceDateEpoch = 1700000000

// root is a tree with its system configuration; hooks (run by the real
// shell emulation) set up the files the oracles also get.
type root struct {
	*rootfs.Tree
	*sysconf.System
}

func newRoot() *root {
	t := rootfs.New()
	return &root{Tree: t, System: sysconf.New(t)}
}

// RunHook runs a hook script on the tree.
func (r *root) RunHook(ctx context.Context, name string, script []byte, env hook.Env) error {
	return hook.Run(ctx, r.Tree, name, script, env)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
