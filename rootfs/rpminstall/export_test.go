package rpminstall

import "context"

// Test helper: what the tests' installer holds.

// Packages returns the installed packages in install order.
func (in *Installer) Packages() []PackageRecord {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]PackageRecord, 0, len(in.pkgOrder))
	for _, n := range in.pkgOrder {
		p := *in.pkgs[n]
		p.Files = append([]string(nil), p.Files...)
		out = append(out, p)
	}
	return out
}

// InstallRPM installs one package.
func (in *Installer) InstallRPM(ctx context.Context, f RPMFile, opts InstallOptions) (*PackageRecord, error) {
	recs, err := in.Install(ctx, []RPMFile{f}, opts)
	if err != nil {
		return nil, err
	}
	return &recs[0], nil
}

// Install installs packages in the given order (the plan's): it decodes
// them ahead in parallel (StartDecoding) and applies each to the tree only
// after all before it.
func (in *Installer) Install(ctx context.Context, files []RPMFile, opts InstallOptions) ([]PackageRecord, error) {
	dec := StartDecoding(ctx, files, opts)
	defer dec.Stop()
	return in.InstallNext(ctx, dec, len(files), opts)
}

// StartDecoding starts decoding files (see Decoding), all of them ready,
// with opts.Workers goroutines (default GOMAXPROCS), the payload cache and
// spill directory of opts. Stop ends it.
func StartDecoding(ctx context.Context, files []RPMFile, opts InstallOptions) *Decoding {
	dec := NewDecoding(ctx, len(files), opts)
	dec.setReady(files)
	return dec
}
