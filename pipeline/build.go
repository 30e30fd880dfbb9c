package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rpmrepo"
)

// Build makes the bootstrap image of a repo definition, following VIC's
// recipe (README.md, "How a build goes"). Each stage takes what the one
// before produced and hands its result on; an error names its stage.
func Build(ctx context.Context, opts Options) (*Result, error) {
	switch opts.Target {
	case "", TargetBootstrap:
	case TargetAppliance, TargetAll:
		return nil, fmt.Errorf("build: target %s: the appliance image is not built yet (only bootstrap)", opts.Target)
	default:
		return nil, fmt.Errorf("build: unknown target %q (want bootstrap, appliance or all)", opts.Target)
	}
	if opts.Out == "" {
		return nil, errors.New("build: no output directory")
	}
	st := newStages(opts)
	if opts.Definition != nil {
		removeStaleOutputs(opts.Out, isoName(opts.Definition), st.log)
	}

	// definition → its repositories, opened and verified
	src, err := open(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	// → the plan: base and kernel, the bootstrap staging, the boot loader
	st.start("resolve")
	pl, err := plan(ctx, src, opts.Lock, opts.Isolinux.FS == nil)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	epoch := buildEpoch(pl.installed, opts.SourceDateEpoch)
	// → the fetched and verified files
	st.start("fetch")
	got, err := fetch(ctx, src, pl)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	// → the installed tree (and the ISO's boot folder with the kernel)
	st.start("install")
	root, err := install(ctx, src.def, pl, got, epoch, installConfig{CacheDir: opts.CacheDir, Jobs: opts.Jobs, Logger: st.log})
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	// → VIC's bootstrap layout on the tree, and its report
	st.start("layout")
	lay, err := layout(ctx, src, root, opts.Bin)
	if err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	// → the media: the initramfs inside the ISO, and the sidecars
	img, err := media(ctx, st, mediaInput{
		src: src, plan: pl, fetched: got, root: root, layout: lay, epoch: epoch, opts: opts,
	})
	if err != nil {
		return nil, err
	}
	defer img.tmp.Discard() // unless publish renamed it
	res, err := sidecars(src, pl, got, root, lay, img, epoch, opts, st.log)
	if err != nil {
		return nil, fmt.Errorf("sidecars: %w", err)
	}
	return res, nil
}

// source is the opening Build, Resolve and Lock share: the definition with
// the --gpgkey keys, and its repositories, opened and verified.
type source struct {
	def        *repos.Definition
	repos      *repoSet
	noWeakDeps bool
	// kernelPath and allowUnsignedKernel are Options.KernelFile and
	// Options.AllowUnsignedKernel.
	kernelPath          string
	allowUnsignedKernel bool
}

// open adds opts.GPGKeys to a copy of the definition and opens its
// repositories, verifying their metadata.
func open(ctx context.Context, st stages, opts Options) (*source, error) {
	st.start("definition")
	if opts.Definition == nil {
		return nil, errors.New("definition: none given")
	}
	def := *opts.Definition
	def.Keys = slices.Clone(def.Keys)
	for _, k := range opts.GPGKeys {
		if err := def.AddKey(k.Name, k.Data); err != nil {
			return nil, fmt.Errorf("definition: %w", err)
		}
	}
	st.start("metadata")
	rs, err := openRepositories(ctx, &def, opts, st.log)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return &source{def: &def, repos: rs, noWeakDeps: opts.NoWeakDeps, kernelPath: opts.KernelFile, allowUnsignedKernel: opts.AllowUnsignedKernel}, nil
}

// stages reports the start of each stage to the log and to Progress.
type stages struct {
	log      *slog.Logger
	progress Progress
}

func newStages(opts Options) stages {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return stages{log: log, progress: opts.Progress}
}

func (s stages) start(name string) {
	s.log.Info("stage", "name", name)
	if s.progress != nil {
		s.progress.Stage(name)
	}
}

// buildEpoch is every timestamp of the image: SOURCE_DATE_EPOCH when
// given, else the newest BUILDTIME among the installed packages.
func buildEpoch(installed []*rpmrepo.Package, override *time.Time) time.Time {
	if override != nil {
		return override.UTC()
	}
	var n int64
	for _, p := range installed {
		if p.BuildTime > n {
			n = p.BuildTime
		}
	}
	return time.Unix(n, 0).UTC()
}

func version(v string) string {
	if v != "" {
		return v
	}
	return DefaultVersion
}
