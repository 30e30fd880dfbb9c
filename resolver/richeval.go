package resolver

// satRich evaluates a rich dependency against the chosen packages,
// ignoring package self (a package never conflicts with itself); self -1
// ignores nothing.
func (s *solver) satRich(r *Rich, self int32) bool {
	switch r.Op {
	case RichDep:
		if alwaysSatisfied(r.Dep) {
			return true
		}
		for _, id := range s.providers(r.Dep) {
			if id != self && s.sel[id] {
				return true
			}
		}
		return false
	case RichAnd:
		return s.satRich(r.Left, self) && s.satRich(r.Right, self)
	case RichOr:
		return s.satRich(r.Left, self) || s.satRich(r.Right, self)
	case RichIf:
		// (A if B) is A or not B; with else, "B ? A : C".
		if s.satRich(r.Right, self) {
			return s.satRich(r.Left, self)
		}
		return r.Else == nil || s.satRich(r.Else, self)
	case RichUnless:
		// libsolv's reading: (A unless B) is A and not B; with else it is
		// "not B ? A : C". rpm allows it where that makes sense (Conflicts,
		// weak dependencies).
		if r.Else == nil {
			return s.satRich(r.Left, self) && !s.satRich(r.Right, self)
		}
		if !s.satRich(r.Right, self) {
			return s.satRich(r.Left, self)
		}
		return s.satRich(r.Else, self)
	case richNot:
		return !s.satRich(r.Left, self)
	case RichWith, RichWithout:
		for _, id := range s.providerSet(r) {
			if id != self && s.sel[id] {
				return true
			}
		}
	}
	return false
}

// providerSet is the packages that satisfy r on their own: what "with"
// and "without" are about.
func (s *solver) providerSet(r *Rich) []int32 {
	switch r.Op {
	case RichDep:
		return s.providers(r.Dep)
	case RichOr:
		return mergeIDs(s.providerSet(r.Left), s.providerSet(r.Right))
	case RichAnd, RichWith:
		return intersect(s.providerSet(r.Left), s.providerSet(r.Right), true)
	case RichWithout:
		return intersect(s.providerSet(r.Left), s.providerSet(r.Right), false)
	}
	return nil
}

// intersect keeps the members of a that are (keep) or are not (!keep) in b.
func intersect(a, b []int32, keep bool) []int32 {
	in := make(map[int32]bool, len(b))
	for _, id := range b {
		in[id] = true
	}
	var out []int32
	for _, id := range a {
		if in[id] == keep {
			out = append(out, id)
		}
	}
	return out
}

// progress lists the packages any one of which brings an unsatisfied rich
// dependency closer to being satisfied; the solver re-evaluates it after
// each choice.
func (s *solver) progress(r *Rich) []int32 {
	switch r.Op {
	case RichDep:
		if alwaysSatisfied(r.Dep) {
			return nil
		}
		return s.providers(r.Dep)
	case RichAnd:
		if !s.satRich(r.Left, -1) {
			return s.progress(r.Left)
		}
		return s.progress(r.Right)
	case RichOr:
		return appendNew(s.progress(r.Left), s.progress(r.Right))
	case RichIf:
		if s.satRich(r.Right, -1) {
			return s.progress(r.Left)
		}
		if r.Else != nil {
			// libsolv's clauses for (A if B else C) are (A or not B) and
			// (B or C): with neither B nor C chosen, either one helps, and
			// the choice among them is the usual one (names in order).
			return appendNew(s.progress(r.Else), s.progress(r.Right))
		}
	case RichUnless:
		if !s.satRich(r.Right, -1) {
			if r.Else != nil {
				// (A unless B else C) is (C if B else A): (A or B) and
				// (C or not B).
				return appendNew(s.progress(r.Left), s.progress(r.Right))
			}
			return s.progress(r.Left)
		}
		if r.Else != nil {
			return s.progress(r.Else)
		}
	case RichWith, RichWithout:
		return s.providerSet(r)
	case richNot:
		return s.negProgress(r.Left)
	}
	return nil
}

// negProgress lists the packages whose installation helps make a
// satisfied r false. Only conditionals can be falsified by installing
// something (their condition); everything else needs a package gone.
func (s *solver) negProgress(r *Rich) []int32 {
	switch r.Op {
	case RichAnd:
		var out []int32
		if s.satRich(r.Left, -1) {
			out = s.negProgress(r.Left)
		}
		if s.satRich(r.Right, -1) {
			out = appendNew(out, s.negProgress(r.Right))
		}
		return out
	case RichOr:
		if s.satRich(r.Left, -1) {
			return s.negProgress(r.Left)
		}
		return s.negProgress(r.Right)
	case RichIf:
		if s.satRich(r.Right, -1) {
			return s.negProgress(r.Left)
		}
		if r.Else != nil {
			return appendNew(s.negProgress(r.Else), s.progress(r.Right))
		}
		// (A if B) is "A or not B": with B not chosen it holds, and
		// installing B (then keeping A out) makes it false, as libsolv
		// resolves a Conflicts on it.
		return s.progress(r.Right)
	case RichUnless:
		if r.Else == nil {
			// A and not B is falsified by installing B.
			return s.progress(r.Right)
		}
		if !s.satRich(r.Right, -1) {
			return appendNew(s.progress(r.Right), s.negProgress(r.Left))
		}
		return s.negProgress(r.Else)
	case richNot:
		return s.progress(r.Left)
	}
	return nil
}

// appendNew appends the members of b not in a, keeping a's order first.
func appendNew(a, b []int32) []int32 {
	out := append([]int32(nil), a...)
	in := make(map[int32]bool, len(a))
	for _, id := range a {
		in[id] = true
	}
	for _, id := range b {
		if !in[id] {
			in[id] = true
			out = append(out, id)
		}
	}
	return out
}
