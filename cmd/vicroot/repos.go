package main

import (
	"github.com/spf13/cobra"
)

func newReposCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "repos",
		Short: "List the embedded repo definitions",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The embedded definitions arrive with the repos package (issue 3).
			return nil
		},
	}
}
