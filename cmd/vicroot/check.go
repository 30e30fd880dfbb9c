package main

import (
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/check"
)

func newCheckCmd() *cobra.Command {
	var (
		opts    check.Options
		mirrors []string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Audit a definition and its repositories without building",
		Long: `check loads a definition as build does and audits every enabled repository:
repomd.xml and its signature (repo_gpgcheck=1), every metadata checksum,
package counts by arch; for every package whether each requirement has a
provider and whether it can be installed from these repositories alone;
whether the definition's package sets resolve. With --packages it fetches and
verifies every package (ok, nokey, unsigned, bad, malformed, mismatch with
the metadata, missing), with a progress bar on a terminal (plain lines
elsewhere; none with --json); with --lock, the locked packages the repositories no
longer serve as locked. Exit 0 when all is well, 1 when something is wrong.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Mirrors, err = parseMirrors(mirrors); err != nil {
				return err
			}
			var prog progress
			if !asJSON {
				prog = newProgress(cmd.ErrOrStderr())
				opts.Progress = prog
			}
			rep, err := check.Run(cmd.Context(), opts)
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
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := rep.WriteText(out); err != nil {
				return err
			}
			if !rep.OK() {
				return &exitError{code: exitFailure, err: errors.New("check found problems")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Repo, "repo", "photon-2.0", "repo definition: an embedded name or a folder")
	f.BoolVar(&opts.Packages, "packages", false, "fetch and verify every package of every enabled repository")
	f.StringVar(&opts.LockFile, "lock", "", "check this lock against what the repositories serve")
	f.StringArrayVar(&mirrors, "mirror", nil, "REPOID=URL: fetch that repository from URL (repeatable)")
	f.StringArrayVar(&opts.GPGKeys, "gpgkey", nil, "armored key file trusted for every repository (repeatable)")
	f.StringVar(&opts.CacheDir, "cache", defaultCacheDir(), "package cache directory")
	f.BoolVar(&opts.Offline, "offline", false, "use only the cache")
	f.IntVar(&opts.Jobs, "jobs", 0, "parallel downloads (0: 4)")
	f.BoolVar(&opts.NoWeakDeps, "no-weak-deps", false, "resolve the definition's sets without weak dependencies")
	f.BoolVar(&opts.AllowUnsignedKernel, "allow-unsigned-kernel", false, "accept a kernel RPM file (the definition's kernel given by path) that no key of the definition signed")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (no progress output)")
	return cmd
}
