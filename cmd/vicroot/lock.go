package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/pipeline"
)

func newLockCmd() *cobra.Command {
	var (
		opts     pipeline.Options
		def      defFlags
		fetch    fetchFlags
		isolinux string
		out      string
	)
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Resolve, fetch and verify a definition's packages and write the lock",
		Long: `lock writes the lock a build would write — every package by NEVRA, checksum,
repository, URL and signing key fingerprint — without building. Give it to
"vicroot build --lock FILE" to pin a build; with --lock it refreshes nothing
and fails if a locked package is gone.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fetch.apply(&opts); err != nil {
				return err
			}
			if err := def.apply(&opts); err != nil {
				return err
			}
			opts.Isolinux = isolinuxDir(isolinux)
			prog := newProgress(cmd.ErrOrStderr())
			opts.Progress = prog
			lk, err := pipeline.Lock(cmd.Context(), opts)
			prog.Close()
			if err != nil {
				return err
			}
			data, err := lk.Marshal()
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := atomicfile.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "vicroot: wrote %s (%d packages)\n", out, len(lk.Packages))
			return nil
		},
	}
	f := cmd.Flags()
	def.register(f)
	fetch.register(f)
	isolinuxFlag(f, &isolinux)
	f.StringVarP(&out, "output", "o", "", "lock file to write (default: standard output)")
	return cmd
}
