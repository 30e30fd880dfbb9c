package resolver

import (
	"slices"
	"sort"
)

// pending is a requirement that needs a choice among several candidates.
type pending struct {
	r     req
	cands []int32
	cs    conflictSet
}

// scanState is where libsolv's resolve_dependencies stands in its walk
// over the rules: the rule it decided last (the walk goes on after it),
// and whether ambiguous rules are still being postponed.
type scanState struct {
	set  bool  // false: the walk starts at the first rule
	incl bool  // the walk starts at the rule itself, not after it
	from int32 // requiring package of the rule
	lits []int32
	// postponed: 0 none yet, 1 the first postponed rule is in post,
	// -1 postponing is over.
	postponed int8
	post      ruleKey
}

type ruleKey struct {
	from int32
	lits []int32
}

// pickRule chooses which pending requirement to decide next, in the
// order libsolv does:
//
//   - requests first, in the order given (resolve_jobrules);
//   - then the rules in libsolv's rule order (its package rules are
//     sorted by requiring package, last package in the repository
//     first, then by the ids of their candidates), walking on from the
//     rule decided last and wrapping around (resolve_dependencies).
//     While the walk has not yet found a rule that stays ambiguous, the
//     rules whose candidates libsolv's prunings narrow to one are taken
//     first and the ambiguous ones postponed; once a whole round finds
//     none, the walk returns to the first postponed rule and takes every
//     rule in turn.
func (s *solver) pickRule() *pending {
	for i := range s.multi {
		if s.multi[i].r.from < 0 {
			return &s.multi[i]
		}
	}
	keys := make([]ruleKey, len(s.multi))
	idx := make([]int, len(s.multi))
	for i := range s.multi {
		keys[i] = s.ruleKey(&s.multi[i].r)
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return cmpRuleKey(keys[idx[a]], keys[idx[b]]) < 0 })
	// Rotate so that the walk starts where libsolv's would.
	start := 0
	if st := s.scan; st.set {
		pos := ruleKey{st.from, st.lits}
		start = sort.Search(len(idx), func(k int) bool {
			c := cmpRuleKey(keys[idx[k]], pos)
			return c > 0 || st.incl && c == 0
		})
	}
	walk := append(idx[start:len(idx):len(idx)], idx[:start]...)
	take := func(i int) *pending {
		s.scan.set, s.scan.incl = true, false
		s.scan.from, s.scan.lits = keys[i].from, keys[i].lits
		return &s.multi[i]
	}
	if s.scan.postponed >= 0 {
		for _, i := range walk {
			p := &s.multi[i]
			if first, _ := s.prune(s.admissible(p.cands), true); len(first) == 1 {
				return take(i)
			}
			if s.scan.postponed == 0 {
				s.scan.postponed, s.scan.post = 1, keys[i]
			}
		}
		// A whole round without a rule to decide: back to the first
		// postponed one, taking every rule from there on.
		s.scan.postponed = -1
		s.scan.set, s.scan.incl = true, true
		s.scan.from, s.scan.lits = s.scan.post.from, s.scan.post.lits
		return s.pickRule()
	}
	return take(walk[0])
}

// admissible drops the candidates that cannot join the selection as it
// stands (a conflict or an obsoletes with a chosen package), which
// libsolv has already decided against when it looks at a rule.
func (s *solver) admissible(c []int32) []int32 {
	out := make([]int32, 0, len(c))
	for _, id := range c {
		if s.check(id) == nil {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return c
	}
	return out
}

// ruleKey is the sort key of libsolv's rule for r: the requiring package
// and the rule's candidates in id order.
func (s *solver) ruleKey(r *req) ruleKey {
	k := ruleKey{from: r.from}
	if r.rich == nil {
		k.lits = s.providers(r.dep)
		return k
	}
	var lits []int32
	var walk func(x *Rich)
	walk = func(x *Rich) {
		if x == nil {
			return
		}
		if x.Op == RichDep {
			lits = append(lits, s.providers(x.Dep)...)
			return
		}
		walk(x.Left)
		walk(x.Right)
		walk(x.Else)
	}
	walk(r.rich)
	slices.Sort(lits)
	k.lits = slices.Compact(lits)
	return k
}

// cmpRuleKey orders rules as libsolv's unifyrules_sortcmp: by the first
// literal, minus the requiring package (so the last package first), then
// by the candidates.
func cmpRuleKey(a, b ruleKey) int {
	if a.from != b.from {
		if a.from > b.from {
			return -1
		}
		return 1
	}
	return slices.Compare(a.lits, b.lits)
}

// orderAdmissible orders the candidates that can join the selection by
// the choice policy, as libsolv orders the undecided literals of a rule,
// and puts those that cannot behind them (they are kept so that the
// failure records what excluded them).
func (s *solver) orderAdmissible(c []int32) ([]int32, int) {
	ok := s.admissible(c)
	first, _ := s.prune(ok, true)
	out := s.order(ok, true)
	if len(ok) == len(c) {
		return out, len(first)
	}
	for _, id := range c {
		if !slices.Contains(ok, id) {
			out = append(out, id)
		}
	}
	return out, len(first)
}

// minimize is libsolv's auto-minimization, run once a solution is found:
// the earliest choice one of whose other candidates (among those the
// policy kept) was installed anyway later, or, when the package taken is
// not recommended, one that a chosen package now recommends or that
// supplements the chosen set, is taken again with that candidate, and the
// search goes on from there. It reports whether it took one.
func (s *solver) minimize() bool {
	for k := range s.stack {
		f := &s.stack[k]
		if f.next >= len(f.cands) {
			continue
		}
		found, rec := -1, -1
		for i := 0; i < f.nbranch && i < len(f.cands); i++ {
			if i == f.next || f.isTried(i) {
				continue
			}
			c := f.cands[i]
			if s.sel[c] && int(s.level[c]) > k {
				found = i
				break
			}
			if rec < 0 && (s.recommended(c) || s.supplementing(c)) {
				rec = i
			}
		}
		if found < 0 && rec >= 0 {
			if cur := f.cands[f.next]; !s.recommended(cur) && !s.supplementing(cur) {
				found = rec
			}
		}
		if found < 0 {
			continue
		}
		for len(s.stack) > k+1 {
			top := len(s.stack) - 1
			s.undo(s.stack[top].m)
			s.stack = s.stack[:top]
		}
		f = &s.stack[k]
		s.undo(f.m)
		f.setTried(f.next)
		f.next = found
		f.setTried(found)
		s.scan = scanState{}
		if pr := s.selectPkg(f.cands[found], f.why); pr != nil {
			s.backtrack(0, conflictSet{lv: append([]int{k + 1}, pr.levels...)})
		}
		return true
	}
	return false
}
