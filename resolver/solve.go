package resolver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Request is what to do: install these, erase those, on top of a staged
// set of installed packages.
type Request struct {
	// Install are package names, name.arch, name-version[-release][.arch],
	// provides ("libc.so.6()(64bit)") or file paths, matched in that
	// order of preference as dnf does.
	Install []string
	// Erase are names of installed packages to remove, with everything
	// installed that requires them and is left with no other provider
	// (tdnf erase).
	Erase []string
	// Installed is the staged set the request applies to; nil for a fresh
	// root. Installed packages are kept as they are (never upgraded) and
	// their own requirements are not re-checked.
	Installed []*rpmrepo.Package
	// Lock, when set, pins every name it lists to the locked package, so
	// that the same request gives the same plan; see Lock.
	Lock *Lock
}

// Solve computes the plan for req over the available packages pkgs (all
// repositories together; Package.Repo tells them apart).
func Solve(ctx context.Context, pkgs []*rpmrepo.Package, rq Request, pol Policy) (*Plan, error) {
	s, err := newSolver(ctx, pkgs, rq, &pol)
	if err != nil {
		return nil, err
	}
	s.request = append([]string(nil), rq.Install...)
	if err := s.erase(rq.Erase); err != nil {
		return nil, err
	}
	for _, spec := range rq.Install {
		cands := s.jobCandidates(spec)
		if len(cands) == 0 {
			s.addProblem(Problem{Kind: ProblemNoMatch, Text: fmt.Sprintf("no package matches %q (requested)", spec)})
			return nil, s.unsolvable()
		}
		s.reqs = append(s.reqs, req{from: -1, job: spec, cands: cands})
	}
	for {
		ok, err := s.run(0)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, s.unsolvable()
		}
		if !pol.NoWeakDeps {
			if err := s.weak(); err != nil {
				if errors.Is(err, ErrUnsolvable) {
					// A weak dependency must never make the request fail;
					// should the search not find its way back from one
					// (its conflict sets are coarser than libsolv's learnt
					// clauses), the answer is the one without them.
					pol.NoWeakDeps = true
					return Solve(ctx, pkgs, rq, pol)
				}
				return nil, err
			}
		}
		if !s.minimize() {
			break
		}
	}
	return s.plan(), nil
}

type provEntry struct {
	pkg int32
	dep rpmrepo.Dep
}

// provRef is a provide in the index: package and position in solver.flat.
type provRef struct{ pkg, i int32 }

// reason records why a package was chosen.
type reason struct {
	from int32  // the requiring package, or -1 for the request
	dep  string // the dependency or request string
	weak bool
}

type req struct {
	from  int32 // -1 for a job
	dep   rpmrepo.Dep
	rich  *Rich
	job   string
	cands []int32 // candidates of a job
	weak  bool
	// conflict marks the negation of a rich Conflicts of package from.
	conflict bool
	// pv caches the providers of a plain dep.
	pv []int32
}

func (r *req) String() string {
	if r.from < 0 {
		return r.job
	}
	return r.dep.String()
}

type frame struct {
	m     mark
	cands []int32
	next  int
	why   reason
	// conf collects the decision levels below this frame's own that the
	// failures of its branches depend on (conflict-directed backjumping).
	conf conflictSet
	// nbranch is how many of cands are libsolv's branch: the candidates
	// its policy kept, which minimize may come back to.
	nbranch int
	// tried marks the candidates taken so far (by index), when minimize
	// has taken one out of turn.
	tried []bool
	// weak marks the choice of a weak dependency: when no candidate
	// works, it is left unmet instead of failing.
	weak bool
}

func (f *frame) isTried(i int) bool { return i < len(f.tried) && f.tried[i] }

func (f *frame) setTried(i int) {
	if f.tried == nil {
		f.tried = make([]bool, len(f.cands))
	}
	f.tried[i] = true
}

// conflictSet is the set of decision levels a failure depends on. With
// all set it means every level up to top: a failure that cannot be
// attributed precisely (rich dependencies, requests).
type conflictSet struct {
	lv  []int
	all bool
	top int
}

func (c *conflictSet) add(l int) {
	for _, x := range c.lv {
		if x == l {
			return
		}
	}
	c.lv = append(c.lv, l)
}

func (c *conflictSet) max() int {
	m := 0
	if c.all {
		m = c.top
	}
	for _, x := range c.lv {
		if x > m {
			m = x
		}
	}
	return m
}

// mergeBelow adds the levels of o below level l.
func (c *conflictSet) mergeBelow(o conflictSet, l int) {
	if o.all {
		c.all = true
		if t := min(o.top, l-1); t > c.top {
			c.top = t
		}
	}
	for _, x := range o.lv {
		if x < l {
			c.add(x)
		}
	}
}

func allUpTo(top int) conflictSet { return conflictSet{all: true, top: top} }

type mark struct {
	chosen, reqs, head, conds int
	scan                      scanState
}

type solver struct {
	ctx  context.Context
	pol  *Policy
	pkgs []*rpmrepo.Package
	// request is the Install list as given, for explanations.
	request []string

	installed []bool
	allowed   []bool
	prio      []int
	arch      []int8
	instOnly  []int8          // 0 not yet known, 1 installonly, -1 not
	provs     [][]rpmrepo.Dep // provides including the implicit self-provide
	prov      map[string][]provRef
	flat      []rpmrepo.Dep // every package's provides, self-provide first
	files     map[string][]int32
	byName    map[string][]int32
	recIdx    map[string][]provEntry
	sugIdx    map[string][]provEntry
	supp      []int32 // packages with Supplements

	lockedName map[string]bool
	provCache  map[rpmrepo.Dep][]int32
	richCache  map[string]*Rich
	richErr    map[string]error
	filesTried bool

	sel      []bool
	level    []int32
	why      []reason
	chosen   []int32
	nameSel  map[string][]int32
	conflIdx map[string][]provEntry
	obsIdx   map[string][]provEntry
	obsAvail map[string][]provEntry // obsoletes of every available package
	reqs     []req
	head     int
	conds    []req
	stack    []frame
	multi    []pending // the requirements needing a choice, from propagate
	scan     scanState
	// propFrom, when set, makes propagate look only at the requirements
	// from that index on (those of a weak dependency just installed).
	propFrom int
	// weakTried are the weak candidates that failed to fit; they are not
	// tried again.
	weakTried map[int32]bool
	recReqs   map[int32][]req // each package's Recommends as requirements
	weakMark  []uint8         // scratch flags of weakRound
	steps     int
	erased    []int32

	problems    []Problem
	seenProblem map[string]bool

	// The first candidate eval dropped because another version of its
	// name was chosen, for the explanation.
	lastBlocked, lastBlocker int32
}

func newSolver(ctx context.Context, avail []*rpmrepo.Package, r Request, pol *Policy) (*solver, error) {
	s := &solver{
		ctx: ctx, pol: pol,
		prov: make(map[string][]provRef, 2*len(avail)), files: map[string][]int32{}, byName: make(map[string][]int32, len(avail)),
		lockedName: map[string]bool{},
		provCache:  map[rpmrepo.Dep][]int32{}, richCache: map[string]*Rich{}, richErr: map[string]error{},
		nameSel: map[string][]int32{}, conflIdx: map[string][]provEntry{}, obsIdx: map[string][]provEntry{},
		obsAvail:    map[string][]provEntry{},
		seenProblem: map[string]bool{},
		weakTried:   map[int32]bool{},
		recReqs:     map[int32][]req{},
	}
	arches := pol.arches()
	locked, err := s.applyLock(r.Lock, avail)
	if err != nil {
		return nil, err
	}
	var flat []rpmrepo.Dep
	add := func(p *rpmrepo.Package, inst bool) {
		id := int32(len(s.pkgs))
		s.pkgs = append(s.pkgs, p)
		s.installed = append(s.installed, inst)
		a := archScore(arches, p.Arch)
		ok := inst || a != -2
		if !inst && locked != nil && s.lockedName[p.Name] && !locked[p] {
			ok = false
		}
		s.allowed = append(s.allowed, ok)
		if a < -1 {
			a = int8max
		}
		s.arch = append(s.arch, int8(a))
		s.prio = append(s.prio, pol.priority(p.Repo))
		s.instOnly = append(s.instOnly, 0)
		self := rpmrepo.Dep{Name: p.Name, Flags: rpmrepo.FlagsEQ, EVR: p.EVR}
		start := len(flat)
		flat = append(flat, self)
		for _, d := range p.Provides {
			if d != self {
				flat = append(flat, d)
			}
		}
		pr := flat[start:len(flat):len(flat)]
		s.provs = append(s.provs, pr)
		if !ok && !inst {
			// Packages that may never be chosen stay out of the indexes,
			// so they cannot satisfy anything.
			return
		}
		for i := range pr {
			s.prov[pr[i].Name] = append(s.prov[pr[i].Name], provRef{id, int32(start + i)})
		}
		for _, f := range p.Files {
			s.files[f] = append(s.files[f], id)
		}
		s.byName[p.Name] = append(s.byName[p.Name], id)
		for _, o := range p.Obsoletes {
			s.obsAvail[o.Name] = append(s.obsAvail[o.Name], provEntry{id, o})
		}
		if len(p.Supplements) > 0 && !inst {
			s.supp = append(s.supp, id)
		}
	}
	total := len(r.Installed) + len(avail)
	for _, l := range [][]*rpmrepo.Package{r.Installed, avail} {
		for _, p := range l {
			total += len(p.Provides)
		}
	}
	flat = make([]rpmrepo.Dep, 0, total)
	for _, p := range r.Installed {
		add(p, true)
	}
	for _, p := range avail {
		if p.Arch == "src" || p.Arch == "nosrc" {
			continue
		}
		add(p, false)
	}
	s.flat = flat
	n := len(s.pkgs)
	s.sel = make([]bool, n)
	s.level = make([]int32, n)
	s.why = make([]reason, n)
	return s, nil
}

const int8max = 127

// selfProvide is the "name = epoch:version-release" every package has.
func (s *solver) selfProvide(id int32) rpmrepo.Dep { return s.provs[id][0] }

// providers returns the packages whose provides (or, for a path, whose
// files) satisfy d, in package order.
func (s *solver) providers(d rpmrepo.Dep) []int32 {
	if c, ok := s.provCache[d]; ok {
		return c
	}
	var out []int32
	for _, e := range s.prov[d.Name] {
		if Overlap(s.flat[e.i], d) {
			out = append(out, e.pkg)
		}
	}
	if strings.HasPrefix(d.Name, "/") {
		out = mergeIDs(out, s.files[d.Name])
		if len(out) == 0 && !s.filesTried && s.pol.LoadFiles != nil {
			s.filesTried = true
			if err := s.loadFiles(); err == nil {
				return s.providers(d)
			}
		}
	}
	s.provCache[d] = out
	return out
}

// loadFiles asks the caller to complete the file lists, then indexes the
// files the packages gained.
func (s *solver) loadFiles() error {
	if err := s.pol.LoadFiles(s.ctx); err != nil {
		s.addProblem(Problem{Kind: ProblemFiles, Text: fmt.Sprintf("loading the full file lists failed: %v", err)})
		return err
	}
	s.files = map[string][]int32{}
	for id, p := range s.pkgs {
		if !s.allowed[id] {
			continue
		}
		for _, f := range p.Files {
			s.files[f] = append(s.files[f], int32(id))
		}
	}
	clear(s.provCache)
	return nil
}

func mergeIDs(a, b []int32) []int32 {
	if len(b) == 0 {
		return a
	}
	seen := map[int32]bool{}
	var out []int32
	for _, l := range [][]int32{a, b} {
		for _, id := range l {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func alwaysSatisfied(d rpmrepo.Dep) bool { return strings.HasPrefix(d.Name, "rpmlib(") }

// satisfiedDep reports whether a chosen package provides d.
func (s *solver) satisfiedDep(d rpmrepo.Dep) bool {
	if alwaysSatisfied(d) {
		return true
	}
	for _, id := range s.providers(d) {
		if s.sel[id] {
			return true
		}
	}
	return false
}

// blocked reports why id cannot join the current selection without even
// trying: another version of its name is chosen (it is not installonly,
// and the two are not a multilib pair).
func (s *solver) blocked(id int32) (int32, bool) {
	if s.installOnly(id) {
		return 0, false
	}
	p := s.pkgs[id]
	for _, q := range s.nameSel[p.Name] {
		if q != id && !multilibPair(p, s.pkgs[q]) {
			return q, true
		}
	}
	return 0, false
}

// multilibPair reports whether two packages of one name may be installed
// together as multilib: the same EVR built for two different real arches
// (glibc.x86_64 beside glibc.i686), as rpm and dnf allow.
func multilibPair(a, b *rpmrepo.Package) bool {
	return a.Arch != b.Arch && a.Arch != "noarch" && b.Arch != "noarch" && a.EVR == b.EVR
}

// installOnly is computed on first use: most packages never meet another
// version of their name.
func (s *solver) installOnly(id int32) bool {
	if s.instOnly[id] == 0 {
		s.instOnly[id] = -1
		if s.pol.isInstallOnly(s.pkgs[id]) {
			s.instOnly[id] = 1
		}
	}
	return s.instOnly[id] > 0
}

func (s *solver) rich(d rpmrepo.Dep) (*Rich, error) {
	if r, ok := s.richCache[d.Name]; ok {
		return r, nil
	}
	if err, ok := s.richErr[d.Name]; ok {
		return nil, err
	}
	r, err := ParseRich(d.Name)
	if err != nil {
		s.richErr[d.Name] = err
		return nil, err
	}
	s.richCache[d.Name] = r
	return r, nil
}

// onlyOr reports whether r is an "or" of plain dependencies.
func onlyOr(r *Rich) bool {
	switch r.Op {
	case RichDep:
		return true
	case RichOr:
		return onlyOr(r.Left) && onlyOr(r.Right)
	}
	return false
}

func hasCondition(r *Rich) bool {
	if r == nil || r.Op == RichDep {
		return false
	}
	return r.Op == RichIf || r.Op == RichUnless || hasCondition(r.Left) || hasCondition(r.Right) || hasCondition(r.Else)
}

// select_ adds id to the selection, or returns the problem that prevents it.
func (s *solver) selectPkg(id int32, why reason) *Problem {
	if s.sel[id] {
		return nil
	}
	if pr := s.check(id); pr != nil {
		return pr
	}
	s.apply(id, why)
	return nil
}

// check returns the problem that keeps id out of the selection, or nil
// when it may join.
func (s *solver) check(id int32) *Problem {
	p := s.pkgs[id]
	if !s.allowed[id] {
		return &Problem{Kind: ProblemExcluded, Text: fmt.Sprintf("%s is excluded by the arch policy or the lock", p)}
	}
	if q, ok := s.blocked(id); ok {
		return s.conflict(ProblemSameName, id, q, fmt.Sprintf("cannot install both %s and %s", s.pkgs[q], p))
	}
	for _, o := range p.Obsoletes {
		for _, q := range s.nameSel[o.Name] {
			if s.pkgs[q].Name != p.Name && Overlap(o, s.selfProvide(q)) {
				text := fmt.Sprintf("%s obsoletes %s provided by %s", p, o, s.pkgs[q])
				if s.installed[q] {
					// dnf would replace it; we keep the staged set as it is.
					text += " (an installed package is never replaced here: erase " + s.pkgs[q].Name + " first)"
				}
				return s.conflict(ProblemObsoletes, id, q, text)
			}
		}
	}
	for _, e := range s.obsIdx[p.Name] {
		if s.pkgs[e.pkg].Name != p.Name && Overlap(e.dep, s.selfProvide(id)) {
			return s.conflict(ProblemObsoletes, id, e.pkg, fmt.Sprintf("%s obsoletes %s provided by %s", s.pkgs[e.pkg], e.dep, p))
		}
	}
	for _, c := range p.Conflicts {
		if IsRich(c.Name) {
			continue
		}
		for _, q := range s.providers(c) {
			if q != id && s.sel[q] {
				return s.conflict(ProblemConflict, id, q, fmt.Sprintf("%s conflicts with %s provided by %s", p, c, s.pkgs[q]))
			}
		}
	}
	for _, d := range s.provs[id] {
		for _, e := range s.conflIdx[d.Name] {
			if e.pkg != id && Overlap(d, e.dep) {
				return s.conflict(ProblemConflict, id, e.pkg, fmt.Sprintf("%s conflicts with %s provided by %s", s.pkgs[e.pkg], e.dep, p))
			}
		}
	}
	for _, f := range p.Files {
		for _, e := range s.conflIdx[f] {
			if e.pkg != id {
				return s.conflict(ProblemConflict, id, e.pkg, fmt.Sprintf("%s conflicts with %s provided by %s", s.pkgs[e.pkg], e.dep, p))
			}
		}
	}
	return nil
}

func (s *solver) conflict(kind ProblemKind, a, b int32, text string) *Problem {
	return &Problem{Kind: kind, Text: text, pkgs: []int32{a, b}, levels: []int{int(s.level[b])}}
}

// apply records id as chosen and queues its requirements.
func (s *solver) apply(id int32, why reason) {
	p := s.pkgs[id]
	s.sel[id] = true
	s.level[id] = int32(len(s.stack))
	s.why[id] = why
	s.chosen = append(s.chosen, id)
	s.nameSel[p.Name] = append(s.nameSel[p.Name], id)
	for _, c := range p.Conflicts {
		if IsRich(c.Name) {
			// A rich conflict is a clause like any other: "not expr", which
			// installing something can satisfy ((A unless B) wants B).
			if rr, err := s.rich(c); err == nil {
				r := req{from: id, dep: c, rich: &Rich{Op: richNot, Left: rr}, conflict: true}
				s.reqs = append(s.reqs, r)
				s.conds = append(s.conds, r)
			}
			continue
		}
		s.conflIdx[c.Name] = append(s.conflIdx[c.Name], provEntry{id, c})
	}
	for _, o := range p.Obsoletes {
		s.obsIdx[o.Name] = append(s.obsIdx[o.Name], provEntry{id, o})
	}
	if s.installed[id] {
		return // the staged set's own requirements are not ours to repair
	}
	for _, d := range p.Requires {
		if alwaysSatisfied(d) {
			continue
		}
		r := req{from: id, dep: d}
		if IsRich(d.Name) {
			rr, err := s.rich(d)
			if err == nil {
				r.rich = rr
				if hasCondition(rr) {
					s.conds = append(s.conds, r)
				}
			}
		}
		s.reqs = append(s.reqs, r)
	}
}

// unapply undoes the last apply, which must have been of id.
func (s *solver) unapply(id int32) {
	p := s.pkgs[id]
	s.sel[id] = false
	s.chosen = s.chosen[:len(s.chosen)-1]
	s.nameSel[p.Name] = s.nameSel[p.Name][:len(s.nameSel[p.Name])-1]
	for _, c := range p.Conflicts {
		if !IsRich(c.Name) {
			s.conflIdx[c.Name] = s.conflIdx[c.Name][:len(s.conflIdx[c.Name])-1]
		}
	}
	for _, o := range p.Obsoletes {
		s.obsIdx[o.Name] = s.obsIdx[o.Name][:len(s.obsIdx[o.Name])-1]
	}
}

func (s *solver) mark() mark {
	return mark{chosen: len(s.chosen), reqs: len(s.reqs), head: s.head, conds: len(s.conds), scan: s.scan}
}

func (s *solver) undo(m mark) {
	for len(s.chosen) > m.chosen {
		s.unapply(s.chosen[len(s.chosen)-1])
	}
	s.reqs = s.reqs[:m.reqs]
	s.head = m.head
	s.conds = s.conds[:m.conds]
	s.scan = m.scan
}

type status uint8

const (
	stSat status = iota
	stNone
	stUnit
	stMulti
)

// eval looks at one requirement against the selection: satisfied, or the
// candidates that would make progress on it (after dropping those another
// version of the same name already blocks).
func (s *solver) eval(r *req) (status, []int32, conflictSet) {
	s.lastBlocked = -1
	var cands []int32
	switch {
	case r.from < 0:
		for _, id := range r.cands {
			if s.sel[id] {
				return stSat, nil, conflictSet{}
			}
		}
		cands = r.cands
	case r.rich != nil:
		if s.satRich(r.rich, -1) {
			return stSat, nil, conflictSet{}
		}
		cands = s.progress(r.rich)
	case IsRich(r.dep.Name):
		return stNone, nil, conflictSet{} // malformed: reported by the caller
	default:
		if r.pv == nil {
			if alwaysSatisfied(r.dep) {
				return stSat, nil, conflictSet{}
			}
			r.pv = s.providers(r.dep)
			if r.pv == nil {
				r.pv = []int32{}
			}
		}
		for _, id := range r.pv {
			if s.sel[id] {
				return stSat, nil, conflictSet{}
			}
		}
		cands = r.pv
	}
	out := make([]int32, 0, len(cands))
	var cs conflictSet
	switch {
	case r.from < 0:
		cs.add(0) // a request's candidates are fixed
	case r.rich != nil && !onlyOr(r.rich):
		// What a conditional rich dependency offers depends on the whole
		// selection.
		cs = allUpTo(len(s.stack))
	default:
		// A plain dependency, or an "or" of plain ones, is unmet only
		// because nothing chosen provides it: it depends on its requirer
		// and on what blocks its candidates.
		cs.add(int(s.level[r.from]))
	}
	for _, id := range cands {
		if !s.allowed[id] || s.sel[id] {
			continue
		}
		if q, ok := s.blocked(id); ok {
			cs.add(int(s.level[q]))
			if s.lastBlocked < 0 {
				s.lastBlocked, s.lastBlocker = id, q
			}
			continue
		}
		out = append(out, id)
	}
	switch len(out) {
	case 0:
		return stNone, nil, cs
	case 1:
		return stUnit, out, cs
	}
	return stMulti, out, cs
}

// propagate installs every requirement's only candidate until none is
// left, as unit propagation does. It returns the first requirement that
// needs a choice (nil when all are satisfied) with its candidates and the
// levels their filtering depends on, or false with the levels the failure
// depends on when a requirement cannot be met.
func (s *solver) propagate() (bool, *req, []int32, conflictSet) {
	for {
		progress := false
		s.multi = s.multi[:0]
		visit := func(r *req, i int) (bool, conflictSet) {
			st, cands, cs := s.eval(r)
			switch st {
			case stSat:
				if i == s.head {
					s.head++
				}
			case stNone:
				s.failNothing(r)
				return false, cs
			case stUnit:
				if pr := s.selectPkg(cands[0], s.reasonFor(r)); pr != nil {
					pr.chainFrom = r.from
					s.addProblem(*pr)
					for _, l := range pr.levels {
						cs.add(l)
					}
					return false, cs
				}
				progress = true
			case stMulti:
				s.multi = append(s.multi, pending{r: *r, cands: cands, cs: cs})
			}
			return true, conflictSet{}
		}
		for i := max(s.head, s.propFrom); i < len(s.reqs); i++ {
			if ok, cs := visit(&s.reqs[i], i); !ok {
				return false, nil, nil, cs
			}
		}
		if !progress && len(s.multi) == 0 {
			for i := range s.conds {
				if ok, cs := visit(&s.conds[i], -1); !ok {
					cs.mergeBelow(allUpTo(len(s.stack)), len(s.stack)+1)
					return false, nil, nil, cs
				}
			}
		}
		if !progress {
			if len(s.multi) > 0 {
				p := s.pickRule()
				return true, &p.r, p.cands, p.cs
			}
			return true, nil, nil, conflictSet{}
		}
	}
}

func (s *solver) reasonFor(r *req) reason {
	if r.from < 0 {
		return reason{from: -1, dep: r.job, weak: r.weak}
	}
	return reason{from: r.from, dep: r.dep.Name + depSuffix(r.dep), weak: r.weak}
}

func depSuffix(d rpmrepo.Dep) string {
	if d.Flags == rpmrepo.FlagsNone {
		return ""
	}
	return " " + d.Flags.Op() + " " + d.EVR.String()
}

// failNothing records why a requirement has no candidate left.
func (s *solver) failNothing(r *req) {
	what := r.String()
	var text string
	switch {
	case r.from < 0:
		text = fmt.Sprintf("no installable package for %q (requested)", r.job)
	case r.conflict:
		text = fmt.Sprintf("%s conflicts with %s, which the chosen packages satisfy", s.chain(r.from), r.dep.Name)
	case IsRich(r.dep.Name) && r.rich == nil:
		_, err := s.rich(r.dep)
		text = fmt.Sprintf("%v, needed by %s", err, s.chain(r.from))
	default:
		text = fmt.Sprintf("nothing provides %s needed by %s", what, s.chain(r.from))
	}
	kind := ProblemNothingProvides
	if b := s.lastBlocked; b >= 0 {
		kind = ProblemSameName
		q := s.lastBlocker
		text = fmt.Sprintf("cannot install both %s and %s: %s is %s, and %s would be needed for %s", s.pkgs[b], s.pkgs[q], s.pkgs[q], s.origin(q), s.pkgs[b], what)
		if r.from >= 0 {
			text += " needed by " + s.chain(r.from)
		} else {
			text += " (requested)"
		}
	}
	s.addProblem(Problem{Kind: kind, Text: text, chainFrom: r.from})
}

// run searches until every requirement is met (true) or every choice
// above frame base has failed (false).
func (s *solver) run(base int) (bool, error) {
	maxSteps := s.pol.MaxSteps
	if maxSteps <= 0 {
		maxSteps = defaultMaxSteps
	}
	for {
		s.steps++
		if s.steps > maxSteps {
			msg := ""
			if len(s.problems) > 0 {
				msg = fmt.Sprintf(" (%d choices deep; first problem met: %s)", len(s.stack), s.problems[0].Text)
			}
			return false, fmt.Errorf("resolver: gave up after %d steps%s: %w", maxSteps, msg, ErrTooHard)
		}
		if s.steps&1023 == 0 {
			if err := s.ctx.Err(); err != nil {
				return false, err
			}
		}
		ok, choice, cands, cs := s.propagate()
		if ok {
			if choice == nil {
				return true, nil
			}
			cands, nb := s.orderAdmissible(cands)
			f := frame{m: s.mark(), cands: cands, nbranch: nb, why: s.reasonFor(choice)}
			// Exhausting this frame will depend on whatever filtered its
			// candidates and on its requirer.
			f.conf.mergeBelow(cs, len(s.stack)+1)
			s.stack = append(s.stack, f)
			pr := s.selectPkg(cands[0], f.why)
			if pr == nil {
				continue
			}
			pr.chainFrom = f.why.from
			s.addProblem(*pr)
			cs = conflictSet{lv: append([]int{len(s.stack)}, pr.levels...)}
		}
		if !s.backtrack(base, cs) {
			return false, nil
		}
	}
}

// backtrack does conflict-directed backjumping: it undoes the choices the
// failure does not depend on, takes the next candidate of the latest
// choice it does depend on, and when that choice has none left, goes on
// with the union of what its branches' failures depended on.
func (s *solver) backtrack(base int, cs conflictSet) bool {
	for {
		l := cs.max()
		for len(s.stack) > l && len(s.stack) > base {
			top := len(s.stack) - 1
			s.undo(s.stack[top].m)
			s.stack = s.stack[:top]
		}
		if l <= base || len(s.stack) <= base {
			return false
		}
		f := &s.stack[l-1]
		f.conf.mergeBelow(cs, l)
		s.undo(f.m)
		f.setTried(f.next)
		for f.next++; f.next < len(f.cands); f.next++ {
			if f.isTried(f.next) {
				continue
			}
			f.setTried(f.next)
			pr := s.selectPkg(f.cands[f.next], f.why)
			if pr == nil {
				return true
			}
			pr.chainFrom = f.why.from
			s.addProblem(*pr)
			f.conf.mergeBelow(conflictSet{lv: pr.levels}, l)
		}
		if f.weak {
			// A weak dependency none of whose candidates fits stays unmet.
			for _, c := range f.cands {
				s.weakTried[c] = true
			}
			s.stack = s.stack[:l-1]
			return true
		}
		cs = f.conf
		if cs.all && cs.top >= l {
			cs.top = l - 1
		}
		s.stack = s.stack[:l-1]
	}
}

const defaultMaxSteps = 200_000

// ErrTooHard is wrapped when the search exceeds Policy.MaxSteps.
var ErrTooHard = errors.New("dependency problem too hard")
