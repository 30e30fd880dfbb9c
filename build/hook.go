package build

import (
	"bytes"
	"context"
	"fmt"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rootfs"
)

// runTreeHook runs a definition's base.sh or staging.sh on the tree, with
// VIC's variables; its output goes to the build log.
func runTreeHook(ctx context.Context, t *rootfs.Tree, def *repos.Definition, name string, script []byte) error {
	var out bytes.Buffer
	env := rootfs.HookEnv{
		RepoFS: def.FS,
		Vars: map[string]string{
			"REPO":            def.Name,
			"PACKAGE_MANAGER": def.Spec.PackageManager,
		},
		Stdout: &out,
		Stderr: &out,
	}
	if err := t.RunHook(ctx, name, script, env); err != nil {
		return fmt.Errorf("build: hook %s of %s: %w\n%s", name, def.Name, err, out.String())
	}
	return nil
}
