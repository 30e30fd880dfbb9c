package build

import (
	"log/slog"
	"time"
)

// Target is which image a build makes.
type Target string

// The targets.
const (
	TargetBootstrap Target = "bootstrap"
	TargetAppliance Target = "appliance"
	TargetAll       Target = "all"
)

// DefaultVersion fills the ISO Publisher when no version is given; the
// build warns, since vic-machine compares it with its own version.
const DefaultVersion = "v0.0.0-0-0000000"

// Options are a build's inputs besides the repositories themselves.
type Options struct {
	// Repo is an embedded definition's name or a definition folder.
	Repo string
	// Out is the output directory.
	Out    string
	Target Target
	// BinDir holds tether-linux and unpack.
	BinDir string
	// IsolinuxDir, when set, holds isolinux.bin (and ldlinux.c32); else
	// the boot loader comes from the repository's syslinux package.
	IsolinuxDir string
	// GPGKeys are extra armored key files trusted for every repository.
	GPGKeys []string
	// Mirrors replace a repository's baseurl/mirrorlist for fetching only,
	// by repository id.
	Mirrors map[string]string
	// CacheDir is the content-addressed package cache.
	CacheDir string
	// Offline uses only the cache.
	Offline bool
	// Timeout is how long a server may stay silent before a download is
	// retried (rpmrepo.Fetcher.Timeout; 0: rpmrepo.DefaultTimeout).
	Timeout time.Duration
	// LockFile pins the build to a lock; "" writes a new lock.
	LockFile string
	// SourceDateEpoch overrides the epoch (default: the newest BUILDTIME
	// among the installed packages).
	SourceDateEpoch *time.Time
	// Version fills the ISO Publisher ("VMware Inc. <Version>").
	Version string
	// Jobs bounds parallel downloads and decompression (0: GOMAXPROCS).
	Jobs int
	// NoWeakDeps turns off Recommends/Supplements.
	NoWeakDeps bool
	// BootArgs are appended to the kernel command line (tests).
	BootArgs []string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Progress, when set, is told about stages, and about each download
	// when it is also an rpmrepo.Progress.
	Progress Progress
	// ToolVersion is vicroot's own version, for the SBOM.
	ToolVersion string
}

// Progress receives a build's progress, for a terminal or plain lines.
type Progress interface {
	// Stage starts a named stage.
	Stage(name string)
}

// Result names what a build wrote.
type Result struct {
	ISO, Lock, MTree, SPDX, Report string
	SHA256                         string
	Epoch                          time.Time
	Packages                       []string // NEVRAs, install order
	Warnings                       []string
}
