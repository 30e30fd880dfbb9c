package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "vicroot",
		Short: "Build VIC's bootstrap and appliance ISOs from RPM repositories",
		Long: `vicroot builds the boot images of the VIC engine (bootstrap.iso, appliance.iso)
from a repo definition: it reads yum repodata, verifies every RPM against the
definition's keys, resolves dependencies, installs payloads into an in-memory
tree and writes a reproducible initramfs and bootable ISO. No root, no chroot,
no host package manager.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(), newReposCmd(), newInspectCmd(), newBuildCmd(), newResolveCmd(), newVerifyCmd(), newDiffCmd(), newLockCmd(), newCheckCmd())
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}
