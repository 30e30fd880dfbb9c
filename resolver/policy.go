package resolver

import (
	"context"
	"path"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Policy is how the solver chooses, the knobs dnf and tdnf have.
type Policy struct {
	// Arches are the architectures that may be installed, best first.
	// "noarch" is always allowed. Default: x86_64 (then noarch); i686 is
	// never chosen unless listed.
	Arches []string
	// NoWeakDeps turns off installing Recommends and Supplements
	// (dnf's install_weak_deps=False, tdnf's default is on too).
	NoWeakDeps bool
	// Priorities maps a repository id to its priority; lower wins, as in
	// a .repo file's priority=. Repositories not listed have 99.
	Priorities map[string]int
	// InstallOnly names the packages of which several versions may be
	// installed side by side: exact names or path.Match globs
	// ("kernel-*"). Packages providing installonlypkg(...) are installonly
	// too. Nil means DefaultInstallOnly().
	InstallOnly []string
	// LoadFiles, when set, is called at most once, the first time a file
	// dependency ("/usr/bin/perl") has no provider among the files that
	// primary.xml lists. It must complete the Files of the same
	// *rpmrepo.Package values Solve was given (setting FilesComplete);
	// rpmrepo does this by reading filelists.xml. The solver then looks
	// again. Without it, file dependencies only see primary's files.
	LoadFiles func(ctx context.Context) error
	// MaxSteps bounds the search (decisions tried, backtracks included)
	// so that a pathological input ends with an error instead of running
	// for ever. Zero means 200,000.
	MaxSteps int
}

// DefaultInstallOnly returns the installonly names used when
// Policy.InstallOnly is nil: dnf's kernel names plus Photon's (linux,
// linux-esx, ...). Packages providing installonlypkg(...) are always
// installonly.
func DefaultInstallOnly() []string {
	return []string{"kernel", "kernel-*", "linux", "linux-esx", "linux-secure", "linux-aws", "linux-rt"}
}

func (pol *Policy) arches() []string {
	if len(pol.Arches) == 0 {
		return []string{"x86_64", "noarch"}
	}
	return pol.Arches
}

// archScore is the rank of an allowed arch (0 best), -1 for noarch and
// -2 for an arch that may not be installed.
func archScore(arches []string, arch string) int {
	if arch == "noarch" {
		return -1
	}
	for i, a := range arches {
		if a == arch {
			return i
		}
	}
	return -2
}

func (pol *Policy) priority(repo string) int {
	if p, ok := pol.Priorities[repo]; ok {
		return p
	}
	return 99
}

func (pol *Policy) isInstallOnly(p *rpmrepo.Package) bool {
	globs := pol.InstallOnly
	if globs == nil {
		globs = DefaultInstallOnly()
	}
	for _, g := range globs {
		if g == p.Name {
			return true
		}
		if strings.ContainsAny(g, "*?[") && (g[0] == '*' || g[0] == '?' || g[0] == '[' || g[0] == p.Name[0]) {
			if ok, _ := path.Match(g, p.Name); ok {
				return true
			}
		}
	}
	for _, d := range p.Provides {
		if strings.HasPrefix(d.Name, "installonlypkg(") {
			return true
		}
	}
	return false
}

// order sorts candidates the way libsolv's policy_filter_unwanted does
// for a choice: the highest priority, then the best arch (noarch always
// kept), then the best version of each name, names in strcmp order, with
// packages recommended by what is already chosen and locked packages
// first. libsolv drops the losers; we keep them behind the winners so that
// backtracking can still reach them (libsolv reaches them through
// learnt clauses).
func (s *solver) order(c []int32) []int32 {
	if len(c) <= 1 {
		return c
	}
	out := append([]int32(nil), c...)
	bestPrio, bestArch := 1<<30, 1<<30
	for _, id := range out {
		if p := s.prio[id]; p < bestPrio {
			bestPrio = p
		}
	}
	for _, id := range out {
		if s.prio[id] == bestPrio && s.arch[id] >= 0 && int(s.arch[id]) < bestArch {
			bestArch = int(s.arch[id])
		}
	}
	// tier 0: wins priority and arch; 1: loses only arch; 2: loses priority.
	tier := func(id int32) int {
		if s.prio[id] != bestPrio {
			return 2
		}
		if s.arch[id] >= 0 && int(s.arch[id]) != bestArch {
			return 1
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ta, tb := tier(a), tier(b); ta != tb {
			return ta < tb
		}
		pa, pb := s.pkgs[a], s.pkgs[b]
		if pa.Name != pb.Name {
			return pa.Name < pb.Name
		}
		if c := compareFullEVR(pa.EVR, pb.EVR); c != 0 {
			return c > 0
		}
		if ka, kb := archKey(s.arch[a]), archKey(s.arch[b]); ka != kb {
			return ka < kb
		}
		return a < b
	})
	// Within the winning tier, the best version of each name comes before
	// any second-best version.
	var first, rest []int32
	seen := map[string]bool{}
	for _, id := range out {
		n := s.pkgs[id].Name
		if tier(id) == 0 && !seen[n] && !s.obsoletedAmong(id, out) {
			seen[n] = true
			first = append(first, id)
		} else {
			rest = append(rest, id)
		}
	}
	if len(first) > 1 {
		sort.SliceStable(first, func(i, j int) bool {
			return s.preferRank(first[i]) < s.preferRank(first[j])
		})
	}
	return append(first, rest...)
}

// preferRank puts locked packages first, then packages recommended by
// what is already chosen (libsolv's prune_to_recommended).
func (s *solver) preferRank(id int32) int {
	if s.lockedName[s.pkgs[id].Name] {
		return 0
	}
	// libsolv prefers recommended candidates even with weak dependencies
	// off (dnf install_weak_deps=False still picks them).
	if s.recommended(id) {
		return 1
	}
	return 2
}

// recommended reports whether a chosen package recommends id. The index
// of Recommends is built on first use.
func (s *solver) recommended(id int32) bool {
	if s.recIdx == nil {
		s.recIdx = map[string][]provEntry{}
		for i, p := range s.pkgs {
			if !s.allowed[i] {
				continue
			}
			for _, d := range p.Recommends {
				if !IsRich(d.Name) {
					s.recIdx[d.Name] = append(s.recIdx[d.Name], provEntry{int32(i), d})
				}
			}
		}
	}
	for _, d := range s.provs[id] {
		for _, e := range s.recIdx[d.Name] {
			if s.sel[e.pkg] && Overlap(d, e.dep) {
				return true
			}
		}
	}
	return false
}

// archKey orders arches for a tie between equal versions: the best real
// arch first, noarch last.
func archKey(score int8) int {
	if score < 0 {
		return 1 << 10
	}
	return int(score)
}

// obsoletedAmong reports whether another candidate obsoletes id: libsolv
// prunes such candidates, so "f-old or f-new" picks f-new when f-new
// obsoletes f-old.
func (s *solver) obsoletedAmong(id int32, cands []int32) bool {
	p := s.pkgs[id]
	for _, e := range s.obsAvail[p.Name] {
		if s.pkgs[e.pkg].Name == p.Name || !Overlap(e.dep, s.selfProvide(id)) {
			continue
		}
		for _, c := range cands {
			if c == e.pkg {
				return true
			}
		}
	}
	return false
}
