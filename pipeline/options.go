package pipeline

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
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

// Options are a build's inputs besides the repositories themselves. The
// definition, the lock, the keys and the --bin files are values: the
// command line reads them from disk, Verify from what an ISO records.
type Options struct {
	// Definition is the repo definition (repos.Load or repos.LoadFS). The
	// pipeline does not change it: GPGKeys are added to a copy.
	Definition *repos.Definition
	// GPGKeys are extra armored keys trusted for every repository
	// (--gpgkey); the ISO records them so that verify can rebuild.
	GPGKeys []KeyFile
	// Lock pins the build; nil resolves afresh.
	Lock *resolver.Lock
	// Out is the output directory.
	Out    string
	Target Target
	// Bin holds tether-linux and unpack (the bootstrap) and VIC's
	// daemons vic-init, docker-engine-server, port-layer-server, vicadmin
	// and unpack, and the folder vicadmin-home/ (the appliance).
	Bin Dir
	// Isolinux, when its FS is set, holds isolinux.bin (and ldlinux.c32);
	// else the boot loader comes from the repository's syslinux package.
	Isolinux Dir
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
	// SourceDateEpoch overrides the epoch (default: the newest BUILDTIME
	// among the installed packages).
	SourceDateEpoch *time.Time
	// Version fills the ISO Publisher ("VMware Inc. <Version>").
	Version string
	// Jobs bounds parallel downloads and decompression (0: GOMAXPROCS).
	Jobs int
	// NoWeakDeps turns off Recommends/Supplements.
	NoWeakDeps bool
	// AllowUnsignedKernel accepts a kernel RPM file (a definition's
	// kernel given by path) that no key of the definition signed: loudly,
	// with a warning in the report and an annotation in the SBOM.
	AllowUnsignedKernel bool
	// KernelFile, when set, is read in place of the definition's kernel
	// RPM file (verify: --kernel, or the copy in the cache found by the
	// digest the ISO records).
	KernelFile string
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

// Dir is a folder of input files as a value: its files, and the name that
// messages give it (the folder's path).
type Dir struct {
	FS   fs.FS
	Name string
}

// OSDir is the folder p on disk.
func OSDir(p string) Dir { return Dir{FS: os.DirFS(p), Name: p} }

// KeyFile is an armored key file and the name it was given by.
type KeyFile struct {
	Name string
	Data []byte
}

// ReadKeyFiles reads --gpgkey files.
func ReadKeyFiles(paths []string) ([]KeyFile, error) {
	var out []KeyFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--gpgkey: %w", err)
		}
		out = append(out, KeyFile{Name: p, Data: data})
	}
	return out, nil
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
	// Also are the other images of the same build (TargetAll: the
	// appliance's, after the bootstrap's).
	Also []*Result `json:",omitempty"`
}
