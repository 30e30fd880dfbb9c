package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/pipeline"
)

func newVerifyCmd() *cobra.Command {
	var (
		opts     pipeline.Options
		fetch    fetchFlags
		bin      string
		isolinux string
	)
	cmd := &cobra.Command{
		Use:   "verify ISO",
		Short: "Rebuild an ISO from what it records and compare byte for byte",
		Long: `verify reads the definition, lock, epoch and version an ISO records under
/boot/vicroot, rebuilds it with the given repositories and cache, and compares the two
images. The tether and unpack (for an appliance: VIC's daemons and the
vicadmin-home folder; and the ISOLINUX of a build with --isolinux) are taken
from the ISO itself, checked against the digests it records, unless --bin
(--isolinux) names other ones; only the packages are fetched.
An ISO whose definition gives the kernel as an RPM file records that file by
its SHA-256 only: verify finds it in the cache (the build put it there) or
takes --kernel FILE, refused when its SHA-256 differs. It exits 0 when they are identical and 3 when they
differ, listing the differences by package and by file.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fetch.apply(&opts); err != nil {
				return err
			}
			// Without --bin (and --isolinux), verify takes them from the
			// ISO, checked against the digests it records.
			opts.Isolinux = isolinuxDir(isolinux)
			if bin != "" {
				opts.Bin = pipeline.OSDir(bin)
			}
			opts.ToolVersion = vicrootVersion()
			prog := newProgress(cmd.ErrOrStderr())
			opts.Progress = prog
			res, err := pipeline.Verify(cmd.Context(), args[0], opts)
			prog.Close()
			out := cmd.OutOrStdout()
			if res != nil && !errors.Is(err, pipeline.ErrStaleSidecar) {
				for _, w := range res.Stale {
					fmt.Fprintln(cmd.ErrOrStderr(), "vicroot: warning:", w)
				}
			}
			if errors.Is(err, pipeline.ErrDiffers) {
				printDifference(out, res.Difference)
				return &exitError{code: exitDiffers, err: err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: identical to its rebuild (sha256 %s)\n", args[0], res.Rebuilt.SHA256)
			return nil
		},
	}
	f := cmd.Flags()
	fetch.register(f)
	isolinuxFlag(f, &isolinux)
	jobsFlag(f, &opts.Jobs)
	f.StringVar(&opts.KernelFile, "kernel", "", "the kernel RPM file the ISO was built with, when its definition gives the kernel by path (default: found in the cache by the SHA-256 the ISO records)")
	f.StringVar(&bin, "bin", "", "directory holding the tether-linux and unpack (an appliance: VIC's daemons and vicadmin-home/) the ISO was built with (default: those in the ISO)")
	return cmd
}

func newDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff A.iso B.iso",
		Short: "List how two ISOs differ, by package and then by file",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := pipeline.Diff(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if d.Empty() {
				fmt.Fprintln(cmd.OutOrStdout(), "no differences")
				return nil
			}
			printDifference(cmd.OutOrStdout(), d)
			return &exitError{code: exitDiffers, err: fmt.Errorf("%s and %s differ", args[0], args[1])}
		},
	}
}

func printDifference(w io.Writer, d *pipeline.Difference) {
	for _, p := range d.PackagesRemoved {
		fmt.Fprintf(w, "package removed: %s\n", p)
	}
	for _, p := range d.PackagesAdded {
		fmt.Fprintf(w, "package added:   %s\n", p)
	}
	for _, p := range d.PackagesChanged {
		fmt.Fprintf(w, "package changed: %s\n", p)
	}
	for _, f := range d.Files {
		pkg := ""
		if f.Package != "" {
			pkg = " (" + f.Package + ")"
		}
		fmt.Fprintf(w, "file %s: %s%s\n", f.Path, f.Change, pkg)
	}
}
