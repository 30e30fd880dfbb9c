package resolver

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// jobCandidates finds what an install argument means, the way dnf reads
// it: a package name; name.arch; name-[epoch:]version[-release][.arch];
// then a provide (optionally "name op evr"); then a file path. The first
// form that matches anything wins.
func (s *solver) jobCandidates(spec string) []int32 {
	if ids := s.byName[spec]; len(ids) > 0 {
		return s.withObsoleters(ids)
	}
	var out []int32
	for i := len(spec) - 1; i > 0; i-- {
		c := spec[i]
		if c != '.' && c != '-' {
			continue
		}
		for _, id := range s.byName[spec[:i]] {
			if nevraMatches(s.pkgs[id], spec[i+1:], c) {
				out = append(out, id)
			}
		}
		if len(out) > 0 {
			return s.withObsoleters(out)
		}
	}
	d := rpmrepo.Dep{Name: spec}
	if f := strings.Fields(spec); len(f) == 3 {
		if fl, ok := opFlags[f[1]]; ok {
			d = rpmrepo.Dep{Name: f[0], Flags: fl, EVR: ParseEVR(f[2])}
		}
	}
	return s.providers(d)
}

var opFlags = map[string]rpmrepo.Flags{
	"<": rpmrepo.FlagsLT, "<=": rpmrepo.FlagsLE, "=": rpmrepo.FlagsEQ,
	">=": rpmrepo.FlagsGE, ">": rpmrepo.FlagsGT,
}

// nevraMatches reports whether rest (what follows the name and its
// separator sep) spells p's arch, or its [epoch:]version[-release][.arch].
func nevraMatches(p *rpmrepo.Package, rest string, sep byte) bool {
	if sep == '.' {
		return rest == p.Arch
	}
	if a, ok := strings.CutSuffix(rest, "."+p.Arch); ok {
		rest = a
	}
	e := ParseEVR(rest)
	if e.Epoch != "" && compareEpoch(e.Epoch, p.Epoch) != 0 {
		return false
	}
	if e.Release == "" {
		return e.Version == p.Version
	}
	return e.Version == p.Version && e.Release == p.Release ||
		// A version that itself holds '-' cannot be told apart; accept
		// the whole string as the version-release too.
		rest == p.Version+"-"+p.Release
}

// erase removes the named installed packages and, repeatedly, every
// installed package that loses the last provider of one of its
// requirements, as tdnf erase does (no clean-up of unused dependencies).
// It then marks the remaining staged set as chosen.
func (s *solver) erase(names []string) error {
	var inst []int32
	for id := range s.pkgs {
		if s.installed[id] {
			inst = append(inst, int32(id))
			s.sel[id] = true
		}
	}
	before := map[int32][]bool{}
	for _, id := range inst {
		sat := make([]bool, len(s.pkgs[id].Requires))
		for i, d := range s.pkgs[id].Requires {
			sat[i] = s.satWeak(d)
		}
		before[id] = sat
	}
	for _, n := range names {
		found := false
		for _, id := range inst {
			if s.sel[id] && (s.pkgs[id].Name == n || s.pkgs[id].NEVRA() == n) {
				s.sel[id] = false
				s.erased = append(s.erased, id)
				found = true
			}
		}
		if !found {
			s.addProblem(Problem{Kind: ProblemNotInstalled, Text: fmt.Sprintf("no installed package named %q to erase", n)})
			return s.unsolvable()
		}
	}
	for changed := len(names) > 0; changed; {
		changed = false
		for _, id := range inst {
			if !s.sel[id] {
				continue
			}
			for i, d := range s.pkgs[id].Requires {
				if before[id][i] && !s.satWeak(d) {
					s.sel[id] = false
					s.erased = append(s.erased, id)
					s.why[id] = reason{from: -1, dep: d.Name + depSuffix(d)}
					changed = true
					break
				}
			}
		}
	}
	for _, id := range inst {
		keep := s.sel[id]
		s.sel[id] = false
		if keep {
			s.apply(id, reason{from: -1, dep: "installed"})
		}
	}
	sort.Slice(s.erased, func(i, j int) bool { return s.pkgs[s.erased[i]].NEVRA() < s.pkgs[s.erased[j]].NEVRA() })
	return nil
}

// withObsoleters adds the packages that obsolete one of ids, as dnf does
// for a name it is asked to install (obsoletes=True): "install f-old"
// gives f-new when f-new obsoletes it.
func (s *solver) withObsoleters(ids []int32) []int32 {
	out := append([]int32(nil), ids...)
	seen := map[int32]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for _, id := range ids {
		for _, e := range s.obsAvail[s.pkgs[id].Name] {
			if !seen[e.pkg] && s.pkgs[e.pkg].Name != s.pkgs[id].Name && Overlap(e.dep, s.selfProvide(id)) {
				seen[e.pkg] = true
				out = append(out, e.pkg)
			}
		}
	}
	return out
}
