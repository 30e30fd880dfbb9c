package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rpmrepo"
)

// Build makes the images of opts.Target from a repo definition, following
// VIC's recipes (README.md, "How a build goes"): the bootstrap, the
// appliance, or both from one shared base plan and ONE fetch of the union
// of their packages. Each stage takes what the one before produced and
// hands its result on; an error names its stage. The images and their
// sidecars are published only when every image is made: on error, none is
// written. For TargetAll the result is the bootstrap's, with the
// appliance's in Also.
func Build(ctx context.Context, opts Options) (*Result, error) {
	targets, err := targetsOf(opts.Target)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if opts.Out == "" {
		return nil, errors.New("build: no output directory")
	}
	st := newStages(opts)
	defer st.finish()
	if opts.Definition != nil {
		for _, t := range targets {
			removeStaleOutputs(opts.Out, isoName(t, opts.Definition.Name), st.log)
		}
	}

	// definition → its repositories, opened and verified
	src, err := open(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	// → the plans: one base plan and the kernel, each target's staging on
	// top of it, the boot loader
	st.start("resolve")
	pls, err := targetPlans(ctx, src, opts.Lock, targets, opts.Isolinux.FS == nil)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	// → the fetched and verified files: every package once, in the
	// background; the first image's install decodes each package as soon
	// as it is verified. A fetch that fails stops the images' work at
	// once, and its error is the build's, as if the fetch had ended before
	// install began.
	st.start("fetch")
	ictx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	fetch := startFetch(ctx, src, stop, pls...)
	var made []*made
	defer func() {
		for _, m := range made {
			m.discard()
		}
	}()
	for _, pl := range pls {
		m, err := buildImage(ictx, st, src, pl, fetch, opts)
		if err != nil {
			if _, ferr := fetch.wait(); ferr != nil {
				return nil, fmt.Errorf("fetch: %w", ferr)
			}
			return nil, err
		}
		made = append(made, m)
	}
	// Every image is made: publish them, each ISO renamed into place last.
	var results []*Result
	for _, m := range made {
		if err := publish(m.img, m.outs); err != nil {
			return nil, fmt.Errorf("sidecars: %w", err)
		}
		results = append(results, m.res)
	}
	res := results[0]
	res.Also = results[1:]
	return res, nil
}

// made is one image ready to publish: the ISO in its temp file, its
// sidecars, and what the build says of it.
type made struct {
	img  *image
	outs []output
	res  *Result
}

// discard removes the ISO's temp file unless publish renamed it.
func (m *made) discard() {
	if m.img != nil && m.img.tmp != nil {
		m.img.tmp.Discard()
	}
}

// buildImage runs the stages after fetch for one target's plan: install
// (as the fetch goes on), layout, media and the sidecars' contents.
func buildImage(ctx context.Context, st *stages, src *source, pl *plans, fetch *fetching, opts Options) (*made, error) {
	epoch := buildEpoch(pl.installed, opts.SourceDateEpoch)
	// → the installed tree (and the ISO's boot folder with the kernel)
	st.start("install")
	root, err := install(ctx, src.def, pl, fetch, epoch, installConfig{CacheDir: opts.CacheDir, Jobs: opts.Jobs, Logger: st.log})
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	got, err := fetch.wait()
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	// → VIC's layout of the target on the tree, and its report
	st.start("layout")
	var lay *laidOut
	if pl.target == TargetAppliance {
		lay, err = applianceLayout(ctx, src, root, opts.Bin)
	} else {
		lay, err = layout(ctx, src, root, opts.Bin)
	}
	if err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	if pl.target == TargetAppliance {
		// → the rpm database the appliance's rpm and tdnf read
		if lay.rpmdb, err = imageRPMDB(ctx, root, pl, got, src.repos.imageKeys, epoch); err != nil {
			return nil, fmt.Errorf("rpmdb: %w", err)
		}
	}
	// → the media: the initramfs inside the ISO, and the sidecars
	img, err := media(ctx, st, mediaInput{
		src: src, plan: pl, fetched: got, root: root, layout: lay, epoch: epoch, opts: opts,
	})
	if err != nil {
		return nil, err
	}
	res, outs, err := sidecars(src, pl, got, root, lay, img, epoch, opts, st.log)
	if err != nil {
		img.tmp.Discard()
		return nil, fmt.Errorf("sidecars: %w", err)
	}
	return &made{img: img, outs: outs, res: res}, nil
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
func open(ctx context.Context, st *stages, opts Options) (*source, error) {
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
