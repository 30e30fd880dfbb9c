package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/pipeline"
)

func newInspectCmd() *cobra.Command {
	var rpmdb bool
	cmd := &cobra.Command{
		Use:   "inspect ISO|INITRAMFS",
		Short: "Print the initramfs tree of an ISO or initramfs as an mtree manifest",
		Long: `inspect prints, in BSD mtree format, every path of the initramfs inside an
ISO (/boot/core.gz) or of an initramfs file (gzip, xz, zstd or plain cpio):
type, mode, uid, gid, size, sha256 and, when the ISO records it, the package
that installed the path.

With --rpmdb it prints instead what the image's own rpm and tdnf will see:
the entries of the rpm database at /var/lib/rpm, one NEVRA a line in
header-number order (as rpm -qa --qf '%{NEVRA}\n' prints them), after a
comment line naming the database file and its format. A database that
cannot be read is an error naming the file; an image without one prints
nothing and says so on stderr.`,
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
			if rpmdb {
				db, err := pipeline.InspectRPMDB(cmd.Context(), f, fi.Size(), args[0])
				if err != nil {
					return err
				}
				if db == nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "vicroot: %s has no rpm database at /var/lib/rpm\n", args[0])
					return nil
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "# %s (%s): %d entries\n", db.File, db.Format, len(db.Packages))
				for _, p := range db.Packages {
					fmt.Fprintln(w, p)
				}
				return nil
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
	cmd.Flags().BoolVar(&rpmdb, "rpmdb", false, "list the packages of the image's rpm database (/var/lib/rpm) instead")
	return cmd
}
