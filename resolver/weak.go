package resolver

import (
	"slices"

	"github.com/vicroot/vicroot/rpmrepo"
)

// weak installs what chosen packages recommend and what supplements the
// chosen set, as libsolv's resolve_weak does after the hard requirements,
// until a round adds nothing; each round's additions have their own
// requirements resolved (run) before the next. A weak dependency never
// makes the request fail: a candidate that does not fit is left out.
func (s *solver) weak() error {
	for s.weakRound() {
		s.scan = scanState{}
		ok, err := s.run(0)
		if err != nil {
			return err
		}
		if !ok {
			return s.unsolvable()
		}
	}
	return nil
}

// weakRound is one pass of libsolv's resolve_weak. It gathers the
// candidates of every unmet Recommends of a chosen package (packages in
// repository order) and the packages that supplement the chosen set,
// keeps the best version of each name (POLICY_MODE_RECOMMEND), installs
// the supplementing ones, then walks the packages in the order they were
// chosen and installs, for each unmet Recommends, its best candidate by
// the choice policy. Each install is propagated before the next; the
// first that does not fit ends the round (and is not tried again). It
// reports whether it installed or ruled out anything.
func (s *solver) weakRound() bool {
	open := func(id int32) bool {
		return !s.sel[id] && s.allowed[id] && !s.weakTried[id] && s.check(id) == nil
	}
	ids := make([]int32, 0, len(s.chosen)+len(s.supp))
	ids = append(ids, s.chosen...)
	ids = append(ids, s.supp...)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var dq, dqs []int32
	// in and keep are flags per package (bits 1 and 2 of s.weakMark),
	// cleared on return.
	if s.weakMark == nil {
		s.weakMark = make([]uint8, len(s.pkgs))
	}
	mark := s.weakMark
	var marked []int32
	defer func() {
		for _, id := range marked {
			mark[id] = 0
		}
	}()
	in := func(id int32) bool { return mark[id]&1 != 0 }
	keep := func(id int32) bool { return mark[id]&2 != 0 }
	set := func(id int32, bit uint8) {
		if mark[id] == 0 {
			marked = append(marked, id)
		}
		mark[id] |= bit
	}
	for _, id := range ids {
		if !s.sel[id] {
			if open(id) && s.supplementing(id) {
				dqs = append(dqs, id)
			}
			continue
		}
		if s.installed[id] {
			continue
		}
		for i := range s.pkgs[id].Recommends {
			for _, c := range s.weakCands(id, i) {
				if open(c) && !in(c) {
					set(c, 1)
					dq = append(dq, c)
				}
			}
		}
	}
	for _, c := range dqs {
		if !in(c) {
			set(c, 1)
			dq = append(dq, c)
		}
	}
	switch len(dq) {
	case 0:
		return false
	case 1:
		why := reason{from: -1, dep: "weak dependency", weak: true}
		for _, id := range ids {
			if s.sel[id] {
				for i, d := range s.pkgs[id].Recommends {
					if slices.Contains(s.weakCands(id, i), dq[0]) {
						why = s.reasonFor(&req{from: id, dep: d, weak: true})
					}
				}
			}
		}
		if slices.Contains(dqs, dq[0]) {
			why = s.supplementReason(dq[0])
		}
		s.weakPick([]int32{dq[0]}, 1, why)
		return true
	}
	best, _ := s.prune(dq, false)
	for _, id := range best {
		set(id, 2)
	}
	dqs = slices.DeleteFunc(dqs, func(id int32) bool { return !keep(id) })
	if len(dqs) > 1 {
		dqs = s.reorderSupplements(dqs)
	}
	n := len(s.chosen)
	for _, id := range dqs {
		if !open(id) {
			continue
		}
		if !s.weakPick([]int32{id}, 1, s.supplementReason(id)) {
			return true
		}
	}
	for i := 0; i < n && i < len(s.chosen); i++ {
		id := s.chosen[i]
		if s.installed[id] {
			continue
		}
		for i, d := range s.pkgs[id].Recommends {
			var cands []int32
			for _, c := range s.weakCands(id, i) {
				if keep(c) && open(c) {
					cands = append(cands, c)
				}
			}
			if len(cands) == 0 {
				continue
			}
			nb := 1
			if len(cands) > 1 {
				first, _ := s.prune(cands, true)
				nb = len(first)
				cands = s.order(cands, true)
			}
			if !s.weakPick(cands, nb, s.reasonFor(&req{from: id, dep: d, weak: true})) {
				return true
			}
		}
	}
	return true
}

// weakCands returns the candidates of package id's i-th Recommends, or
// nil when the chosen set already meets it.
func (s *solver) weakCands(id int32, i int) []int32 {
	rs, ok := s.recReqs[id]
	if !ok {
		for _, d := range s.pkgs[id].Recommends {
			r := req{from: id, dep: d, weak: true}
			if IsRich(d.Name) {
				if rr, err := s.rich(d); err == nil {
					r.rich = rr
				}
			}
			rs = append(rs, r)
		}
		s.recReqs[id] = rs
	}
	r := &rs[i]
	if IsRich(r.dep.Name) && r.rich == nil {
		return nil
	}
	st, cands, _ := s.eval(r)
	if st != stUnit && st != stMulti {
		return nil
	}
	return cands
}

func (s *solver) supplementReason(id int32) reason {
	for _, d := range s.pkgs[id].Supplements {
		if s.satWeak(d) {
			return reason{from: -1, dep: "supplements " + d.Name + depSuffix(d), weak: true}
		}
	}
	return reason{from: -1, dep: "supplements", weak: true}
}

// reorderSupplements is policy_filter_unwanted in libsolv's SUPPLEMENT
// mode: no pruning, only dislike_old_versions, sort_by_common_dep and
// prefer_suggested.
func (s *solver) reorderSupplements(l []int32) []int32 {
	l = s.dislikeOldVersions(l)
	l = s.sortByCommonDep(l)
	return stableFront(l, func(id int32) bool { return s.installed[id] || s.suggested(id) || s.enhancing(id) })
}

// weakPick installs the first of cands for a weak dependency, as a choice
// of its own (libsolv opens a branch when there are several), and
// propagates. When that fails, the candidate is undone and never tried
// again, and weakPick reports false.
func (s *solver) weakPick(cands []int32, nbranch int, why reason) bool {
	f := frame{m: s.mark(), cands: cands, nbranch: nbranch, why: why, weak: true}
	f.setTried(0)
	s.stack = append(s.stack, f)
	nprob := len(s.problems)
	ok := s.selectPkg(cands[0], why) == nil
	if ok {
		s.propFrom = f.m.reqs
		ok, _, _, _ = s.propagate()
		s.propFrom = 0
	}
	s.dropProblems(nprob)
	if ok {
		return true
	}
	s.undo(f.m)
	s.stack = s.stack[:len(s.stack)-1]
	s.weakTried[cands[0]] = true
	return false
}

// satWeak reports whether the chosen set meets d (a weak dependency, plain
// or rich).
func (s *solver) satWeak(d rpmrepo.Dep) bool {
	if IsRich(d.Name) {
		r, err := s.rich(d)
		return err == nil && s.satRich(r, -1)
	}
	return s.satisfiedDep(d)
}
