package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/pipeline"
)

func newInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect ISO|INITRAMFS",
		Short: "Print the initramfs tree of an ISO or initramfs as an mtree manifest",
		Long: `inspect prints, in BSD mtree format, every path of the initramfs inside an
ISO (/boot/core.gz) or of an initramfs file (gzip, xz, zstd or plain cpio):
type, mode, uid, gid, size, sha256 and, when the ISO records it, the package
that installed the path.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			entries, err := pipeline.Inspect(cmd.Context(), f, fi.Size(), args[0])
			if err != nil {
				return err
			}
			if err := pipeline.WriteManifest(cmd.OutOrStdout(), entries); err != nil {
				return err
			}
			stale, err := pipeline.StaleSidecars(args[0])
			if err != nil {
				return err
			}
			for _, w := range stale {
				fmt.Fprintln(cmd.ErrOrStderr(), "vicroot: warning:", w)
			}
			return nil
		},
	}
}
