package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/pipeline"
	"github.com/vicroot/vicroot/resolver"
)

func newResolveCmd() *cobra.Command {
	var (
		opts   pipeline.Options
		def    defFlags
		fetch  fetchFlags
		target string
		why    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "resolve [PKG…]",
		Short: "Print the packages a build would install, in install order",
		Long: `resolve prints one line per package, name-[epoch:]version-release.arch, in
install order: the target image's packages, or with PKG arguments exactly the
plan of "dnf install PKG…" on a fresh root (PKG: a name, a provide or
name-version). A kernel RPM file the definition names by path is listed as
"NEVRA (local file PATH)": it is installed as it is, without resolution.
When there is no solution it prints why and exits 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Target = pipeline.Target(target)
			if err := fetch.apply(&opts); err != nil {
				return err
			}
			if err := def.apply(&opts); err != nil {
				return err
			}
			res, err := pipeline.Resolve(cmd.Context(), opts, args)
			var un *resolver.Unsolvable
			if errors.As(err, &un) {
				fmt.Fprintln(cmd.OutOrStdout(), strings.TrimRight(un.Explain(), "\n"))
				return &exitError{code: exitFailure, err: errors.New("no solution")}
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if why != "" {
				chain := res.Why(why)
				if chain == nil {
					return &exitError{code: exitFailure, err: fmt.Errorf("%s is not in the resolution", why)}
				}
				fmt.Fprintln(out, strings.Join(chain, "\n"))
				return nil
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res.Lock())
			}
			for _, p := range res.Packages {
				if p.Repo == pipeline.LocalRepo {
					// The definition's kernel RPM file: not from a repository.
					fmt.Fprintf(out, "%s (local file %s)\n", p.NEVRA(), p.Location)
					continue
				}
				fmt.Fprintln(out, p.NEVRA())
			}
			return nil
		},
	}
	f := cmd.Flags()
	def.register(f)
	fetch.register(f)
	f.StringVar(&target, "target", "bootstrap", "image whose packages to resolve")
	f.StringVar(&why, "why", "", "print the chain that brought PKG in")
	f.BoolVar(&asJSON, "json", false, "print the resolution as a lock (JSON)")
	return cmd
}
