package rpminstall

import "sort"

// Report is what a build did to the tree beyond unpacking payloads: for
// every package, each scriptlet and trigger and whether its effect was
// emulated (and by what) or skipped, plus warnings. It is plain data,
// ready for encoding/json.
type Report struct {
	Packages []PackageReport `json:"packages"`
	// Warnings not tied to one package (hooks, clean-up).
	Warnings []string `json:"warnings,omitempty"`
}

// PackageReport is the part of the report about one package.
type PackageReport struct {
	NEVRA      string            `json:"nevra"`
	Scriptlets []ScriptletReport `json:"scriptlets,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
}

// ScriptletReport says what became of one scriptlet.
type ScriptletReport struct {
	Kind string `json:"kind"`
	Prog string `json:"prog"`
	// Emulated is true when the scriptlet's effects that matter were done
	// natively; By names how ("accounts", "systemd-preset", "depmod",
	// "ldconfig", ...). Skipped ones say why in Note.
	Emulated bool     `json:"emulated"`
	By       []string `json:"by,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// Report returns a copy of the build report so far.
func (in *Installer) Report() Report {
	in.mu.Lock()
	defer in.mu.Unlock()
	r := Report{Warnings: append([]string(nil), in.report.Warnings...)}
	for _, p := range in.report.Packages {
		q := PackageReport{NEVRA: p.NEVRA, Warnings: append([]string(nil), p.Warnings...)}
		for _, s := range p.Scriptlets {
			s.By = append([]string(nil), s.By...)
			q.Scriptlets = append(q.Scriptlets, s)
		}
		r.Packages = append(r.Packages, q)
	}
	return r
}

// pkgReport returns the report entry of nevra, creating it. Callers hold
// the write lock.
func (in *Installer) pkgReport(nevra string) *PackageReport {
	for i := range in.report.Packages {
		if in.report.Packages[i].NEVRA == nevra {
			return &in.report.Packages[i]
		}
	}
	in.report.Packages = append(in.report.Packages, PackageReport{NEVRA: nevra})
	return &in.report.Packages[len(in.report.Packages)-1]
}

// Deferred returns, sorted, the effects that emulated scriptlets rely on
// the build stage for ("depmod", "ldconfig", "machine-id",
// "systemd-preset", "sysusers"): the scriptlet is counted as emulated
// only once the build has run them.
func (r Report) Deferred() []string {
	seen := map[string]bool{}
	for _, p := range r.Packages {
		for _, s := range p.Scriptlets {
			if !s.Emulated {
				continue
			}
			for _, b := range s.By {
				if b != "accounts" && b != "no-op" {
					seen[b] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
