package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vicroot/vicroot/build"
	"github.com/vicroot/vicroot/rpmrepo"
)

func newLockCmd() *cobra.Command {
	var (
		opts    build.Options
		mirrors []string
		out     string
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
			var err error
			if opts.Mirrors, err = parseMirrors(mirrors); err != nil {
				return err
			}
			prog := newProgress(cmd.ErrOrStderr())
			opts.Progress = prog
			lk, err := build.Lock(cmd.Context(), opts)
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
			tmp := out + ".tmp"
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "vicroot: wrote %s (%d packages)\n", out, len(lk.Packages))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Repo, "repo", "photon-2.0", "repo definition: an embedded name or a folder")
	f.StringVarP(&out, "output", "o", "", "lock file to write (default: standard output)")
	f.StringArrayVar(&mirrors, "mirror", nil, "REPOID=URL: fetch that repository from URL (repeatable)")
	f.StringArrayVar(&opts.GPGKeys, "gpgkey", nil, "armored key file trusted for every repository (repeatable)")
	f.StringVar(&opts.CacheDir, "cache", defaultCacheDir(), "package cache directory")
	f.BoolVar(&opts.Offline, "offline", false, "use only the cache")
	f.DurationVar(&opts.Timeout, "timeout", rpmrepo.DefaultTimeout, "how long a server may stay silent before a download is retried (a mirror silent on every attempt fails)")
	f.StringVar(&opts.LockFile, "lock", "", "start from this lock (pins every package it lists)")
	f.StringVar(&opts.IsolinuxDir, "isolinux", "", "the boot loader comes from this folder, not the syslinux package")
	f.BoolVar(&opts.NoWeakDeps, "no-weak-deps", false, "do not install weak dependencies")
	return cmd
}
