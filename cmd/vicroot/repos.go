package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/repos"
)

func newReposCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repos",
		Short: "List the embedded repo definitions",
		Long: `List the embedded repo definitions. A build takes one of these names or a
folder holding repo-spec.json, *.repo, init.sh and optional keys and hooks
(see repos/README.md).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sums, err := repos.Embedded()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, s := range sums {
				name := s.Name
				if s.Default {
					name += " (default)"
				}
				fmt.Fprintf(w, "%s\t%s\tkernel %s\t%s\n", name, s.PackageManager, s.Kernel, s.Description)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(newReposShowCmd(), newReposExportCmd())
	return cmd
}

func newReposShowCmd() *cobra.Command {
	var gpgkeys []string
	cmd := &cobra.Command{
		Use:   "show NAME|DIR",
		Short: "Print the effective repo definition (defaults filled in) as JSON",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := repos.Load(args[0])
			if err != nil {
				return err
			}
			for _, k := range gpgkeys {
				if err := d.AddKeyFile(k); err != nil {
					return err
				}
			}
			b, err := d.Effective()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringArrayVar(&gpgkeys, "gpgkey", nil, "add a trusted key `FILE` (repeatable)")
	return cmd
}

func newReposExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export NAME DIR",
		Short: "Copy a repo definition's files into DIR, to start a new definition from it",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := repos.Load(args[0])
			if err != nil {
				return err
			}
			return d.Export(args[1])
		},
	}
}

// exactArgs requires n positional arguments, as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
