package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/pipeline"
)

func newBuildCmd() *cobra.Command {
	var (
		opts     pipeline.Options
		def      defFlags
		fetch    fetchFlags
		target   string
		bin      string
		isolinux string
		epoch    int64
		asJSON   bool
		verbose  bool
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build VIC's bootstrap or appliance ISO from a repo definition",
		Long: `build resolves, fetches and verifies the packages of a repo definition,
installs them into an in-memory tree, adds VIC's boot files and the /.tether
plan, and writes <out>/bootstrap.iso (bootstrap-<repo>.iso for a definition
other than photon-2.0) with its lock, mtree manifest, SPDX SBOM and report.
--target appliance writes appliance.iso (appliance-<repo>.iso) instead: the
base set and kernel, the appliance staging and packages, and VIC's appliance
steps, with VIC's daemons and vicadmin-home/ from --bin; --target all writes
both from one shared base plan and one fetch.`,
		Example: `  vicroot build --repo photon-2.0 --out bin/
  vicroot build --repo ./myrepo --out out/ --mirror photon=file:///srv/photon/ --version v1.5.8-0-9489f63`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Target = pipeline.Target(target)
			switch opts.Target {
			case pipeline.TargetBootstrap, pipeline.TargetAppliance, pipeline.TargetAll:
			default:
				return usageError{fmt.Errorf("--target %q: want bootstrap, appliance or all", target)}
			}
			if err := fetch.apply(&opts); err != nil {
				return err
			}
			if err := def.apply(&opts); err != nil {
				return err
			}
			opts.Bin, opts.Isolinux = pipeline.OSDir(bin), isolinuxDir(isolinux)
			if cmd.Flags().Changed("source-date-epoch") {
				t := time.Unix(epoch, 0).UTC()
				opts.SourceDateEpoch = &t
			} else if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				var n int64
				if _, err := fmt.Sscan(s, &n); err != nil {
					return usageError{fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number", s)}
				}
				t := time.Unix(n, 0).UTC()
				opts.SourceDateEpoch = &t
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			opts.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			opts.ToolVersion = vicrootVersion()
			if opts.Version == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "vicroot: warning: no --version given; the ISO publisher says %s, which vic-machine will reject without --force\n", pipeline.DefaultVersion)
			}
			var prog progress
			if !asJSON {
				prog = newProgress(cmd.ErrOrStderr())
				opts.Progress = prog
			}
			res, err := pipeline.Build(cmd.Context(), opts)
			if prog != nil {
				prog.Close()
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			for _, r := range append([]*pipeline.Result{res}, res.Also...) {
				for _, w := range r.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), "vicroot: warning:", w)
				}
				fmt.Fprintf(out, "%s\nsha256 %s\n%d packages, SOURCE_DATE_EPOCH=%d\n", r.ISO, r.SHA256, len(r.Packages), r.Epoch.Unix())
			}
			return nil
		},
	}
	f := cmd.Flags()
	def.register(f)
	fetch.register(f)
	isolinuxFlag(f, &isolinux)
	jobsFlag(f, &opts.Jobs)
	f.StringVar(&opts.Out, "out", "bin", "output directory")
	f.StringVar(&target, "target", "bootstrap", "image to build: bootstrap, appliance or all")
	f.StringVar(&bin, "bin", "bin", "directory holding tether-linux and unpack (bootstrap); vic-init, docker-engine-server, port-layer-server, vicadmin, unpack and vicadmin-home/ (appliance)")
	f.Int64Var(&epoch, "source-date-epoch", 0, "timestamp of every file and of the ISO (default: $SOURCE_DATE_EPOCH, else the newest package BUILDTIME)")
	f.StringVar(&opts.Version, "version", "", "version for the ISO publisher (vic-machine compares it with its own)")
	f.StringArrayVar(&opts.BootArgs, "boot-arg", nil, "extra kernel command-line argument (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&verbose, "verbose", "v", false, "log each stage")
	return cmd
}
