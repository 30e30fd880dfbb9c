package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vicroot/vicroot/pipeline"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// The flags several commands share are declared here, once, with one help
// text each.

// fetchFlags say where packages come from: build, lock, resolve, verify.
type fetchFlags struct {
	mirrors []string
	cache   string
	offline bool
	timeout time.Duration
}

func (ff *fetchFlags) register(f *pflag.FlagSet) {
	f.StringArrayVar(&ff.mirrors, "mirror", nil, "REPOID=URL: fetch that repository from URL instead of its baseurl; the image's .repo files keep theirs (repeatable)")
	f.StringVar(&ff.cache, "cache", defaultCacheDir(), "package cache directory")
	f.BoolVar(&ff.offline, "offline", false, "use only the cache; list what is missing")
	f.DurationVar(&ff.timeout, "timeout", rpmrepo.DefaultTimeout, "how long a server may stay silent before a download is retried (a mirror silent on every attempt fails)")
}

// apply sets the fetching options.
func (ff *fetchFlags) apply(opts *pipeline.Options) error {
	m, err := parseMirrors(ff.mirrors)
	if err != nil {
		return err
	}
	opts.Mirrors, opts.CacheDir, opts.Offline, opts.Timeout = m, ff.cache, ff.offline, ff.timeout
	return nil
}

// defFlags say what is built: build, lock, resolve.
type defFlags struct {
	repo       string
	gpgkeys    []string
	lock       string
	noWeakDeps bool
	// allowUnsignedKernel is --allow-unsigned-kernel.
	allowUnsignedKernel bool
}

func (df *defFlags) register(f *pflag.FlagSet) {
	f.StringVar(&df.repo, "repo", repos.DefaultName, "repo definition: an embedded name or a folder")
	f.StringArrayVar(&df.gpgkeys, "gpgkey", nil, "armored key file trusted for every repository (repeatable)")
	f.StringVar(&df.lock, "lock", "", "pin every package to this lock file")
	f.BoolVar(&df.noWeakDeps, "no-weak-deps", false, "do not install weak dependencies (Recommends, Supplements)")
	f.BoolVar(&df.allowUnsignedKernel, "allow-unsigned-kernel", false, "accept a kernel RPM file (the definition's kernel given by path) that no key of the definition signed; the report warns and the SBOM says so")
}

// apply reads the definition, the --gpgkey files and the lock into opts.
func (df *defFlags) apply(opts *pipeline.Options) error {
	def, err := repos.Load(df.repo)
	if err != nil {
		return err
	}
	keys, err := pipeline.ReadKeyFiles(df.gpgkeys)
	if err != nil {
		return err
	}
	opts.Definition, opts.GPGKeys, opts.NoWeakDeps, opts.AllowUnsignedKernel = def, keys, df.noWeakDeps, df.allowUnsignedKernel
	if df.lock != "" {
		data, err := os.ReadFile(df.lock)
		if err != nil {
			return fmt.Errorf("--lock: %w", err)
		}
		if opts.Lock, err = resolver.ParseLock(data, df.lock); err != nil {
			return err
		}
	}
	return nil
}

// isolinuxFlag is --isolinux: build, lock, verify.
func isolinuxFlag(f *pflag.FlagSet, dir *string) {
	f.StringVar(dir, "isolinux", "", "directory with isolinux.bin (and ldlinux.c32) instead of the repository's syslinux package")
}

// isolinuxDir is the value of --isolinux ("" for none).
func isolinuxDir(dir string) pipeline.Dir {
	if dir == "" {
		return pipeline.Dir{}
	}
	return pipeline.OSDir(dir)
}

// jobsFlag is --jobs: build, verify.
func jobsFlag(f *pflag.FlagSet, jobs *int) {
	f.IntVar(jobs, "jobs", 0, "parallel downloads and decompressions (default: number of CPUs)")
}

// parseMirrors reads --mirror REPOID=URL flags.
func parseMirrors(flags []string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range flags {
		id, url, ok := strings.Cut(s, "=")
		if !ok || id == "" || url == "" {
			return nil, usageError{fmt.Errorf("--mirror %q: want REPOID=URL", s)}
		}
		m[id] = url
	}
	return m, nil
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return d + "/vicroot"
	}
	return ".vicroot-cache"
}
