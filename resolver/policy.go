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

// order sorts the candidates of a choice the way libsolv's
// policy_filter_unwanted does in its CHOOSE mode, so that the first is the
// one libsolv (and so dnf) takes:
//
//  1. prune_to_highest_prio: the best repository priority;
//  2. prune_to_best_arch: the best arch (noarch always kept);
//  3. prune_to_best_version: the best version of each name, names in
//     strcmp order, and candidates obsoleted by another one dropped;
//  4. prune_to_recommended: when a chosen package recommends some of them
//     (or some supplement the chosen set), only those;
//
// then, reordering what is left (choose only):
//
//  5. dislike_old_versions: a candidate whose name has a newer version
//     (of the same arch) that does not qualify goes to the back;
//  6. sort_by_common_dep: among candidates with versioned provides of the
//     same name ("Y = 2", "Y <= 2", "Y < 2"), the highest version first;
//  7. move_installed_to_front: names already installed first;
//  8. prefer_suggested: candidates that a chosen package suggests, or
//     whose Enhances the chosen set satisfies, first.
//
// Locked packages go first of all (a Lock pins the earlier plan). libsolv
// drops the candidates the prunings remove; we keep them behind the
// winners so that backtracking can still reach them (libsolv reaches them
// through learnt clauses). Without choose (picking the best version of a
// supplementing name, libsolv's RECOMMEND mode) steps 4 to 8 are left
// out.
func (s *solver) order(c []int32, choose bool) []int32 {
	if len(c) <= 1 {
		return c
	}
	first, rest := s.prune(c, choose)
	if choose && len(first) > 1 {
		first = s.dislikeOldVersions(first)
		first = s.sortByCommonDep(first)
		first = stableFront(first, func(id int32) bool { return s.installed[id] || len(s.installedName(id)) > 0 })
		first = stableFront(first, func(id int32) bool { return s.installed[id] || s.suggested(id) || s.enhancing(id) })
	}
	if len(s.lockedName) > 0 {
		first = stableFront(first, func(id int32) bool { return s.lockedName[s.pkgs[id].Name] })
	}
	return append(first, rest...)
}

// prune splits the candidates into the winners of libsolv's prunings
// (steps 1 to 4; step 4 only with choose), in name order, and the rest:
// libsolv's policy_filter_unwanted in its CHOOSE_NOREORDER mode.
func (s *solver) prune(c []int32, choose bool) (first, rest []int32) {
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
	first, rest = nil, nil
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
	if choose && len(first) > 1 {
		first, rest = s.pruneToRecommended(first, rest)
	}
	return first, rest
}

// stableFront moves the members for which front holds to the front,
// keeping the order within both groups.
func stableFront(l []int32, front func(int32) bool) []int32 {
	out := make([]int32, 0, len(l))
	var back []int32
	for _, id := range l {
		if front(id) {
			out = append(out, id)
		} else {
			back = append(back, id)
		}
	}
	return append(out, back...)
}

// pruneToRecommended is libsolv's prune_to_recommended: when at least two
// candidates are not installed and some of them are recommended by a
// chosen package or supplement the chosen set, only those (and the
// installed ones) stay in front. libsolv does this even with weak
// dependencies off (dnf install_weak_deps=False still picks them).
func (s *solver) pruneToRecommended(first, rest []int32) ([]int32, []int32) {
	ninst := 0
	for _, id := range first {
		if s.installed[id] {
			ninst++
		}
	}
	if len(first)-ninst < 2 {
		return first, rest
	}
	var keep, drop []int32
	found := false
	for _, id := range first {
		switch {
		case s.installed[id]:
			keep = append(keep, id)
		case s.recommended(id) || s.supplementing(id):
			keep = append(keep, id)
			found = true
		default:
			drop = append(drop, id)
		}
	}
	if !found {
		return first, rest
	}
	return keep, append(drop, rest...)
}

// dislikeOldVersions is libsolv's dislike_old_versions: a candidate goes
// to the back when another package of its name and arch is newer (at the
// same repository priority) or comes from a better repository.
func (s *solver) dislikeOldVersions(l []int32) []int32 {
	return stableFront(l, func(id int32) bool {
		if s.installed[id] {
			return true
		}
		p := s.pkgs[id]
		for _, q := range s.byName[p.Name] {
			qp := s.pkgs[q]
			if q == id || qp.Arch != p.Arch || !s.allowed[q] {
				continue
			}
			if s.prio[q] != s.prio[id] {
				if s.prio[q] < s.prio[id] {
					return false
				}
				continue
			}
			if compareFullEVR(qp.EVR, p.EVR) > 0 {
				return false
			}
		}
		return true
	})
}

// sortByCommonDep is libsolv's sort_by_common_dep: for each name that
// several candidates provide with "=", "<=" or "<" and a version, the
// candidates are ranked by that version, highest first ("<" after "=" and
// "<=" of the same version); a candidate's badness is the sum of its
// ranks, and the candidates are sorted by badness, stably. Installed
// candidates have none. "= hash" provides (all hex, 4 or more digits)
// are ignored.
func (s *solver) sortByCommonDep(l []int32) []int32 {
	type ent struct {
		i   int
		dep rpmrepo.Dep
	}
	byName := map[string][]ent{}
	var names []string
	for i, id := range l {
		for _, d := range s.provs[id] {
			if IsRich(d.Name) || d.EVR.Version == "" {
				continue
			}
			switch d.Flags {
			case rpmrepo.FlagsEQ:
				if isHash(d.EVR.String()) {
					continue
				}
			case rpmrepo.FlagsLE, rpmrepo.FlagsLT:
			default:
				continue
			}
			if _, ok := byName[d.Name]; !ok {
				names = append(names, d.Name)
			}
			byName[d.Name] = append(byName[d.Name], ent{i, d})
		}
	}
	bad := make([]int, len(l))
	havebad := false
	cmp := func(a, b ent) int { // <0 when a ranks first
		if c := CompareEVR(b.dep.EVR, a.dep.EVR); c != 0 {
			return c
		}
		la, lb := a.dep.Flags == rpmrepo.FlagsLT, b.dep.Flags == rpmrepo.FlagsLT
		switch {
		case la && !lb:
			return 1
		case !la && lb:
			return -1
		}
		return 0
	}
	for _, n := range names {
		es := byName[n]
		if len(es) < 2 {
			continue
		}
		sort.SliceStable(es, func(i, j int) bool { return cmp(es[i], es[j]) < 0 })
		b := 0
		for k := 1; k < len(es); k++ {
			if es[k].i != es[k-1].i && cmp(es[k-1], es[k]) < 0 {
				b++
				havebad = true
			}
			bad[es[k].i] += b
		}
	}
	if !havebad {
		return l
	}
	idx := make([]int, len(l))
	for i := range idx {
		idx[i] = i
		if s.installed[l[i]] {
			bad[i] = 0
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return bad[idx[a]] < bad[idx[b]] })
	out := make([]int32, len(l))
	for i, k := range idx {
		out[i] = l[k]
	}
	return out
}

// isHash reports whether an EVR is a hash (4 or more hex digits), which
// sort_by_common_dep ignores.
func isHash(v string) bool {
	if len(v) < 4 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// installedName lists the installed packages of id's name.
func (s *solver) installedName(id int32) []int32 {
	var out []int32
	for _, q := range s.byName[s.pkgs[id].Name] {
		if s.installed[q] {
			out = append(out, q)
		}
	}
	return out
}

// supplementing reports whether the chosen set satisfies one of id's
// Supplements (libsolv's solver_is_supplementing).
func (s *solver) supplementing(id int32) bool { return s.anySat(s.pkgs[id].Supplements) }

// enhancing reports whether the chosen set satisfies one of id's Enhances
// (libsolv's solver_is_enhancing).
func (s *solver) enhancing(id int32) bool { return s.anySat(s.pkgs[id].Enhances) }

func (s *solver) anySat(deps []rpmrepo.Dep) bool {
	for _, d := range deps {
		if s.satWeak(d) {
			return true
		}
	}
	return false
}

// recommended reports whether a chosen package recommends id.
func (s *solver) recommended(id int32) bool {
	return s.wantedBy(&s.recIdx, func(p *rpmrepo.Package) []rpmrepo.Dep { return p.Recommends }, id)
}

// suggested reports whether a chosen package suggests id.
func (s *solver) suggested(id int32) bool {
	return s.wantedBy(&s.sugIdx, func(p *rpmrepo.Package) []rpmrepo.Dep { return p.Suggests }, id)
}

// wantedBy reports whether a chosen package names id in the weak
// dependencies deps returns. The index *idx of those dependencies (plain
// ones and the names of "or" rich ones, by name) is built on first use.
func (s *solver) wantedBy(idx *map[string][]provEntry, deps func(*rpmrepo.Package) []rpmrepo.Dep, id int32) bool {
	if *idx == nil {
		m := map[string][]provEntry{}
		for i, p := range s.pkgs {
			if !s.allowed[i] {
				continue
			}
			for _, d := range deps(p) {
				if !IsRich(d.Name) {
					m[d.Name] = append(m[d.Name], provEntry{int32(i), d})
					continue
				}
				// libsolv marks the positive literals of a rich weak
				// dependency; for an "or" of names those are its names.
				if r, err := s.rich(d); err == nil && onlyOr(r) {
					r.leaves(func(l rpmrepo.Dep) { m[l.Name] = append(m[l.Name], provEntry{int32(i), l}) })
				}
			}
		}
		*idx = m
	}
	for _, d := range s.provs[id] {
		for _, e := range (*idx)[d.Name] {
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
