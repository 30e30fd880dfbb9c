package rpminstall

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
