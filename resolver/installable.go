package resolver

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Installability answers, for every package of a repository set, the two
// questions a repository audit asks: does each requirement have a provider
// (closure, as `dnf repoclosure` decides it), and can the package actually
// be installed on an empty root from these packages alone (as `dnf install
// --assumeno` decides it)?
//
// It is built once and answers many questions: the provider index, the
// requirement clauses and the exclusions (conflicts, obsoletes, one
// version per name) are compiled once; packages that cannot be installed
// because a requirement has no installable provider are found for all
// packages together by a fixed point; the rest are checked by a complete
// backtracking search over the compiled index, and every package of a
// found installation is known installable without a search of its own.
// Unlike the Solve path it does not pick dnf's preferred answer: it only
// decides whether an answer exists.
//
// File requirements see the Files of the packages as given: load the full
// file lists (filelists.xml) before building it to resolve them as dnf
// does. It is not safe for concurrent use.
type Installability struct {
	pkgs    []*rpmrepo.Package
	allowed []bool
	prov    map[string][]instProv
	files   map[string][]int32

	clauseOf map[rpmrepo.Dep]int32
	clauses  []instClause
	reqs     [][]int32 // per package: clause ids of its requirements
	richConf [][]*Rich // per package: its rich Conflicts
	excl     [][]int32 // per package: packages it may not be installed with
	nameID   []int32
	instOnly []bool
	hasRich  []bool

	broken    []bool
	brokenWhy []string
	ok        []bool

	// search state, reused across questions
	sel     []bool
	level   []int32
	nameSel []int32
	trail   []int32
	agenda  []instItem
	frames  []instFrame
	steps   int
	bound   int
	fail    string
	// MaxSteps bounds the search of one package (choices tried); 0 means
	// 100,000. A package whose search exceeds it is reported Undecided.
	MaxSteps int
}

type instProv struct {
	pkg int32
	dep rpmrepo.Dep
}

type instClause struct {
	dep   rpmrepo.Dep
	rich  *Rich
	cands []int32 // allowed providers, preferred first (plain deps)
	err   error   // a malformed rich dependency
}

// instItem is a requirement to meet: clause of package from; lvl is the
// level it depends on (from's, or the choice of a rich option that
// added it).
type instItem struct{ from, clause, lvl int32 }

// instFrame is a choice: the candidates of a requirement (or the options
// of a rich one) and the one being tried.
type instFrame struct {
	trail, agenda, head int
	cands               []int32
	options             [][]int32
	next                int
	// conf is the set of levels the failures of this choice's
	// alternatives depend on (conflict-directed backjumping); all means
	// every level below (a rich dependency, not attributed precisely).
	conf []int32
	all  bool
}

// Verdicts of Installability.Check.
const (
	Installable   = "installable"
	Uninstallable = "uninstallable"
	Undecided     = "undecided"
)

// NewInstallability compiles the index for pkgs under pol (its Arches and
// InstallOnly; packages of other arches are never chosen and not checked).
func NewInstallability(pkgs []*rpmrepo.Package, pol Policy) *Installability {
	n := len(pkgs)
	ix := &Installability{
		pkgs: pkgs, allowed: make([]bool, n), prov: make(map[string][]instProv, 2*n), files: map[string][]int32{},
		clauseOf: map[rpmrepo.Dep]int32{}, reqs: make([][]int32, n), richConf: make([][]*Rich, n),
		excl: make([][]int32, n), nameID: make([]int32, n), instOnly: make([]bool, n), hasRich: make([]bool, n),
		broken: make([]bool, n), brokenWhy: make([]string, n), ok: make([]bool, n), sel: make([]bool, n), level: make([]int32, n),
	}
	arches := pol.Arches
	if len(arches) == 0 {
		arches = []string{"x86_64", "noarch"}
	}
	names := map[string]int32{}
	byName := map[string][]int32{}
	for i, p := range pkgs {
		id := int32(i)
		ix.allowed[i] = instArchAllowed(arches, p.Arch)
		nid, seen := names[p.Name]
		if !seen {
			nid = int32(len(names))
			names[p.Name] = nid
		}
		ix.nameID[i] = nid
		if !ix.allowed[i] {
			continue
		}
		ix.instOnly[i] = instInstallOnly(pol.InstallOnly, p)
		byName[p.Name] = append(byName[p.Name], id)
		ix.prov[p.Name] = append(ix.prov[p.Name], instProv{id, rpmrepo.Dep{Name: p.Name, Flags: rpmrepo.FlagsEQ, EVR: p.EVR}})
		for _, d := range p.Provides {
			ix.prov[d.Name] = append(ix.prov[d.Name], instProv{id, d})
		}
		for _, f := range p.Files {
			ix.files[f] = append(ix.files[f], id)
		}
	}
	ix.nameSel = make([]int32, len(names))
	for i := range ix.nameSel {
		ix.nameSel[i] = -1
	}
	exclude := func(a, b int32) {
		if a != b {
			ix.excl[a] = append(ix.excl[a], b)
			ix.excl[b] = append(ix.excl[b], a)
		}
	}
	for i, p := range pkgs {
		if !ix.allowed[i] {
			continue
		}
		id := int32(i)
		for _, d := range p.Requires {
			if strings.HasPrefix(d.Name, "rpmlib(") {
				continue
			}
			c := ix.clause(d)
			ix.reqs[i] = append(ix.reqs[i], c)
			if ix.clauses[c].rich != nil {
				ix.hasRich[i] = true
			}
		}
		for _, d := range p.Conflicts {
			if IsRich(d.Name) {
				if r, err := ParseRich(d.Name); err == nil {
					ix.richConf[i] = append(ix.richConf[i], r)
					ix.hasRich[i] = true
					r.leaves(func(l rpmrepo.Dep) { ix.clause(l) })
				}
				continue
			}
			for _, q := range ix.providers(d) {
				exclude(id, q)
			}
		}
		for _, d := range p.Obsoletes {
			for _, q := range byName[d.Name] {
				if Overlap(d, rpmrepo.Dep{Name: d.Name, Flags: rpmrepo.FlagsEQ, EVR: pkgs[q].EVR}) {
					exclude(id, q)
				}
			}
		}
	}
	for i := range ix.excl {
		l := ix.excl[i]
		sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
		ix.excl[i] = dedupSorted(l)
	}
	// Candidates that exclude nothing cannot block later choices: try them
	// first (the search only decides whether an installation exists).
	for c := range ix.clauses {
		l := ix.clauses[c].cands
		sort.SliceStable(l, func(a, b int) bool { return len(ix.excl[l[a]]) == 0 && len(ix.excl[l[b]]) != 0 })
	}
	ix.fixpoint()
	return ix
}

func dedupSorted(l []int32) []int32 {
	out := l[:0]
	for i, x := range l {
		if i == 0 || x != l[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// providers are the allowed packages whose provides (or files, for a path)
// satisfy d.
func (ix *Installability) providers(d rpmrepo.Dep) []int32 {
	var out []int32
	for _, e := range ix.prov[d.Name] {
		if Overlap(e.dep, d) && (len(out) == 0 || out[len(out)-1] != e.pkg) {
			out = append(out, e.pkg)
		}
	}
	if strings.HasPrefix(d.Name, "/") {
		out = append(out, ix.files[d.Name]...)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return dedupSorted(out)
}

// clause compiles a requirement once (leaves of rich ones too).
func (ix *Installability) clause(d rpmrepo.Dep) int32 {
	if c, ok := ix.clauseOf[d]; ok {
		return c
	}
	id := int32(len(ix.clauses))
	ix.clauseOf[d] = id
	ix.clauses = append(ix.clauses, instClause{dep: d})
	if IsRich(d.Name) {
		r, err := ParseRich(d.Name)
		if err != nil {
			ix.clauses[id].err = err
			return id
		}
		ix.clauses[id].rich = r
		r.leaves(func(l rpmrepo.Dep) {
			if !strings.HasPrefix(l.Name, "rpmlib(") {
				ix.clause(l)
			}
		})
		return id
	}
	cands := ix.providers(d)
	// Preferred first: the newest version of each name, names in order.
	sort.SliceStable(cands, func(a, b int) bool {
		pa, pb := ix.pkgs[cands[a]], ix.pkgs[cands[b]]
		if pa.Name != pb.Name {
			return pa.Name < pb.Name
		}
		return CompareEVR(pa.EVR, pb.EVR) > 0
	})
	ix.clauses[id].cands = cands
	return id
}

// fixpoint marks every package one of whose plain requirements has no
// provider that is not itself broken, with the reason. It may run again
// after more packages are found broken (CheckAll does): packages already
// broken count as absent providers.
func (ix *Installability) fixpoint() {
	count := make([]int32, len(ix.clauses))
	provIn := make([][]int32, len(ix.pkgs)) // package -> plain clauses it can satisfy
	reqBy := make([][]int32, len(ix.clauses))
	for c, cl := range ix.clauses {
		if cl.rich != nil || cl.err != nil {
			continue
		}
		for _, q := range cl.cands {
			provIn[q] = append(provIn[q], int32(c))
			if !ix.broken[q] {
				count[c]++
			}
		}
	}
	var work []int32
	for i := range ix.pkgs {
		if !ix.allowed[i] {
			continue
		}
		for _, c := range ix.reqs[i] {
			cl := &ix.clauses[c]
			if cl.err != nil {
				if !ix.broken[i] {
					ix.markBroken(int32(i), fmt.Sprintf("requires %s, which is malformed: %v", cl.dep.Name, cl.err))
					work = append(work, int32(i))
				}
				continue
			}
			if cl.rich != nil {
				continue
			}
			reqBy[c] = append(reqBy[c], int32(i))
			if count[c] == 0 && !ix.broken[i] {
				if len(cl.cands) == 0 {
					ix.markBroken(int32(i), fmt.Sprintf("nothing provides %s needed by %s", cl.dep, ix.pkgs[i].NEVRA()))
				} else {
					ix.markBroken(int32(i), fmt.Sprintf("%s requires %s, but none of its providers can be installed: %s",
						ix.pkgs[i].NEVRA(), cl.dep, ix.providerReasons(c)))
				}
				work = append(work, int32(i))
			}
		}
	}
	for len(work) > 0 {
		q := work[len(work)-1]
		work = work[:len(work)-1]
		for _, c := range provIn[q] {
			count[c]--
			if count[c] != 0 {
				continue
			}
			for _, p := range reqBy[c] {
				if !ix.broken[p] {
					ix.markBroken(p, fmt.Sprintf("%s requires %s, but none of its providers can be installed: %s",
						ix.pkgs[p].NEVRA(), ix.clauses[c].dep, ix.providerReasons(int32(c))))
					work = append(work, p)
				}
			}
		}
	}
}

func (ix *Installability) markBroken(p int32, why string) {
	ix.broken[p] = true
	ix.brokenWhy[p] = why
}

// providerReasons names why each provider of a clause is broken (the first
// few).
func (ix *Installability) providerReasons(c int32) string {
	var parts []string
	for i, q := range ix.clauses[c].cands {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ix.clauses[c].cands)-3))
			break
		}
		w := ix.brokenWhy[q]
		if strings.HasPrefix(w, "nothing provides") {
			parts = append(parts, w)
		} else {
			parts = append(parts, ix.pkgs[q].NEVRA())
		}
	}
	return strings.Join(parts, "; ")
}

// Unresolved is a requirement without any provider among the packages.
type Unresolved struct {
	Package  *rpmrepo.Package
	Requires rpmrepo.Dep
}

// Unresolved lists, for every allowed package, the requirements no package
// provides, as `dnf repoclosure` does: rpmlib() requirements are always
// met; a rich requirement is met when libsolv's whatprovides for it is not
// empty (or: union; and, with: one package providing both; if, unless:
// the providers of the left side, or of the else branch).
func (ix *Installability) Unresolved() []Unresolved {
	var out []Unresolved
	for i, p := range ix.pkgs {
		if !ix.allowed[i] {
			continue
		}
		seen := map[string]bool{}
		for _, c := range ix.reqs[i] {
			cl := &ix.clauses[c]
			// dnf names each requirement once (Requires and Requires(pre)
			// of one name are one line).
			if seen[cl.dep.String()] {
				continue
			}
			seen[cl.dep.String()] = true
			switch {
			case cl.err != nil:
				out = append(out, Unresolved{p, cl.dep})
			case cl.rich != nil:
				if len(ix.whatProvides(cl.rich)) == 0 {
					out = append(out, Unresolved{p, cl.dep})
				}
			case len(cl.cands) == 0:
				out = append(out, Unresolved{p, cl.dep})
			}
		}
	}
	return out
}

func (ix *Installability) whatProvides(r *Rich) []int32 {
	switch r.Op {
	case RichDep:
		if strings.HasPrefix(r.Dep.Name, "rpmlib(") {
			return []int32{-1}
		}
		return ix.clauses[ix.clause(r.Dep)].cands
	case RichOr:
		return instUnion(ix.whatProvides(r.Left), ix.whatProvides(r.Right))
	case RichAnd, RichWith:
		return instIntersect(sorted(ix.whatProvides(r.Left)), sorted(ix.whatProvides(r.Right)), true)
	case RichWithout:
		return instIntersect(sorted(ix.whatProvides(r.Left)), sorted(ix.whatProvides(r.Right)), false)
	case RichIf, RichUnless:
		if r.Else != nil {
			return instUnion(ix.whatProvides(r.Left), ix.whatProvides(r.Else))
		}
		return ix.whatProvides(r.Left)
	}
	return nil
}

func sorted(l []int32) []int32 {
	l = append([]int32(nil), l...)
	sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
	return l
}

func instUnion(a, b []int32) []int32 {
	return dedupSorted(sorted(append(append([]int32(nil), a...), b...)))
}

func (ix *Installability) checkIndex(i, bound int) (verdict, problem string) {
	if !ix.allowed[i] {
		return Uninstallable, fmt.Sprintf("%s: arch %s is not installable here", ix.pkgs[i].NEVRA(), ix.pkgs[i].Arch)
	}
	if ix.broken[i] {
		return Uninstallable, ix.brokenWhy[i]
	}
	if ix.ok[i] {
		return Installable, ""
	}
	switch ix.search(int32(i), bound) {
	case 1:
		// Every package of the installation found is installable too.
		for _, q := range ix.trail {
			ix.ok[q] = true
		}
		ix.reset()
		return Installable, ""
	case 0:
		ix.reset()
		return Uninstallable, ix.fail
	}
	ix.reset()
	return Undecided, fmt.Sprintf("%s: search bound exceeded (%d choices)", ix.pkgs[i].NEVRA(), bound)
}

// Result is one package's installability.
type Result struct {
	Package *rpmrepo.Package
	Verdict string
	Problem string
}

// CheckAll checks every allowed package, in the order given; it stops
// early when ctx is done. It works in rounds of growing search bounds: a
// package found uninstallable can never be part of an installation, so
// it is removed from the choices of every later search (and so is, by the
// fixed point, every package needing it), which keeps the searches of the
// hard cases short.
func (ix *Installability) CheckAll(ctx context.Context) ([]Result, error) {
	verdict := make([]string, len(ix.pkgs))
	problem := make([]string, len(ix.pkgs))
	var pending []int
	for i := range ix.pkgs {
		if ix.allowed[i] {
			pending = append(pending, i)
		}
	}
	max := ix.maxSteps()
	for bound := min(1000, max); ; bound = min(4*bound, max) {
		var next []int
		found := false
		for k, i := range pending {
			if k%256 == 0 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			verdict[i], problem[i] = ix.checkIndex(i, bound)
			switch verdict[i] {
			case Undecided:
				next = append(next, i)
			case Uninstallable:
				if !ix.broken[i] {
					ix.markBroken(int32(i), problem[i])
					found = true
				}
			}
		}
		if found {
			ix.fixpoint()
		}
		pending = next
		if len(pending) == 0 || bound == max && !found {
			break
		}
	}
	var out []Result
	for i, p := range ix.pkgs {
		if ix.allowed[i] {
			out = append(out, Result{Package: p, Verdict: verdict[i], Problem: problem[i]})
		}
	}
	return out, nil
}

func (ix *Installability) maxSteps() int {
	if ix.MaxSteps > 0 {
		return ix.MaxSteps
	}
	return 100000
}

func (ix *Installability) reset() {
	for _, q := range ix.trail {
		ix.sel[q] = false
		if ix.nameSel[ix.nameID[q]] == q {
			ix.nameSel[ix.nameID[q]] = -1
		}
	}
	ix.trail, ix.agenda, ix.frames = ix.trail[:0], ix.agenda[:0], ix.frames[:0]
	ix.steps = 0
}

// blockedBy names the selected package that q may not join, or -1.
func (ix *Installability) blockedBy(q int32) int32 {
	if o := ix.nameSel[ix.nameID[q]]; o >= 0 && o != q && !ix.instOnly[q] && !instMultilib(ix.pkgs[q], ix.pkgs[o]) {
		return o
	}
	for _, r := range ix.excl[q] {
		if ix.sel[r] {
			return r
		}
	}
	return -1
}

func (ix *Installability) choose(q int32) {
	ix.sel[q] = true
	ix.level[q] = int32(len(ix.frames))
	if ix.nameSel[ix.nameID[q]] < 0 {
		ix.nameSel[ix.nameID[q]] = q
	}
	ix.trail = append(ix.trail, q)
	for _, c := range ix.reqs[q] {
		ix.agenda = append(ix.agenda, instItem{q, c, ix.level[q]})
	}
}

func (ix *Installability) undo(trail, agenda int) {
	for _, q := range ix.trail[trail:] {
		ix.sel[q] = false
		if ix.nameSel[ix.nameID[q]] == q {
			ix.nameSel[ix.nameID[q]] = -1
		}
	}
	ix.trail = ix.trail[:trail]
	ix.agenda = ix.agenda[:agenda]
}

// search looks for an installation holding p: 1 found (ix.trail holds it),
// 0 none exists (ix.fail says why), -1 bound exceeded.
//
// It is a depth-first search with conflict-directed backjumping: every
// chosen package has the level (number of open choices) at which it was
// chosen; a requirement that cannot be met depends on the level of the
// package requiring it and on the levels of the packages that exclude
// each of its candidates, and the search goes back directly to the
// deepest of those choices, skipping the ones that cannot matter.
func (ix *Installability) search(p int32, bound int) int {
	ix.bound = bound
	ix.fail = ""
	ix.choose(p)
	head := 0
	for {
		if ix.steps++; ix.steps > ix.bound {
			return -1
		}
		if head == len(ix.agenda) {
			bad, conflict := ix.validate()
			if bad == nil && conflict == "" {
				return 1
			}
			if conflict != "" {
				ix.noteFail(conflict)
				if head = ix.backjump(nil, true); head < 0 {
					return head + 1
				}
				continue
			}
			ix.agenda = append(ix.agenda, bad...)
			continue
		}
		it := ix.agenda[head]
		head++
		cl := &ix.clauses[it.clause]
		if cl.rich != nil {
			if ix.evalRich(cl.rich) {
				continue
			}
			opts := ix.options(cl.rich)
			if len(opts) == 0 {
				ix.noteFail(fmt.Sprintf("%s requires %s, which cannot be met together with the packages it needs", ix.pkgs[it.from].NEVRA(), cl.dep.Name))
				if head = ix.backjump(nil, true); head < 0 {
					return head + 1
				}
				continue
			}
			// The options of an "or" of plain dependencies do not depend
			// on what is chosen: its failure is attributed like a plain
			// requirement's. Other rich forms fall back to every level.
			ix.frames = append(ix.frames, instFrame{trail: len(ix.trail), agenda: len(ix.agenda), head: head, options: opts,
				conf: []int32{it.lvl}, all: !pureOr(cl.rich)})
			for _, c := range opts[0] {
				ix.agenda = append(ix.agenda, instItem{it.from, c, int32(len(ix.frames))})
			}
			continue
		}
		satisfied := false
		var cands []int32
		conf := []int32{it.lvl}
		blocker := int32(-1)
		for _, q := range cl.cands {
			if ix.sel[q] {
				satisfied = true
				break
			}
			if ix.broken[q] {
				continue
			}
			if b := ix.blockedBy(q); b >= 0 {
				blocker = b
				conf = addLevel(conf, ix.level[b])
				continue
			}
			cands = append(cands, q)
		}
		if satisfied {
			continue
		}
		switch len(cands) {
		case 0:
			switch {
			case len(cl.cands) == 0:
				ix.noteFail(fmt.Sprintf("nothing provides %s needed by %s", cl.dep, ix.pkgs[it.from].NEVRA()))
			case blocker >= 0:
				ix.noteFail(fmt.Sprintf("%s requires %s, but every provider conflicts with %s (or is otherwise excluded)", ix.pkgs[it.from].NEVRA(), cl.dep, ix.pkgs[blocker].NEVRA()))
			default:
				ix.noteFail(fmt.Sprintf("%s requires %s, but none of its providers can be installed: %s", ix.pkgs[it.from].NEVRA(), cl.dep, ix.providerReasons(it.clause)))
			}
			if head = ix.backjump(conf, false); head < 0 {
				return head + 1
			}
		case 1:
			ix.choose(cands[0])
		default:
			ix.frames = append(ix.frames, instFrame{trail: len(ix.trail), agenda: len(ix.agenda), head: head, cands: cands, conf: conf})
			ix.choose(cands[0])
		}
	}
}

// pureOr reports whether r is plain dependencies joined by "or".
func pureOr(r *Rich) bool {
	switch r.Op {
	case RichDep:
		return true
	case RichOr:
		return pureOr(r.Left) && pureOr(r.Right)
	}
	return false
}

func addLevel(l []int32, x int32) []int32 {
	for _, y := range l {
		if y == x {
			return l
		}
	}
	return append(l, x)
}

// noteFail keeps the first failure met: the one on the preferred path,
// which is what a user fixing the repository wants to see first.
func (ix *Installability) noteFail(s string) {
	if ix.fail == "" {
		ix.fail = s
	}
}

// backjump goes back to the deepest choice among the levels conf (all:
// the innermost choice) and takes its next alternative, returning the
// agenda position to continue from; -1 when no choice is left (no
// installation exists), -2 when the bound is exceeded.
func (ix *Installability) backjump(conf []int32, all bool) int {
	for {
		target := int32(len(ix.frames))
		if !all {
			target = 0
			for _, l := range conf {
				target = max(target, l)
			}
		}
		if target == 0 {
			return -1
		}
		ix.frames = ix.frames[:target]
		f := &ix.frames[target-1]
		ix.undo(f.trail, f.agenda)
		for _, l := range conf {
			if l < target {
				f.conf = addLevel(f.conf, l)
			}
		}
		f.all = f.all || all
		for f.next++; f.cands != nil && f.next < len(f.cands); f.next++ {
			q := f.cands[f.next]
			if b := ix.blockedBy(q); b >= 0 {
				f.conf = addLevel(f.conf, ix.level[b])
				continue
			}
			ix.choose(q)
			return f.head
		}
		if f.options != nil && f.next < len(f.options) {
			from := ix.agenda[f.head-1].from
			for _, c := range f.options[f.next] {
				ix.agenda = append(ix.agenda, instItem{from, c, target})
			}
			return f.head
		}
		// Every alternative failed: the choice itself fails, for the
		// reasons its alternatives did.
		conf, all = f.conf, f.all
		ix.frames = ix.frames[:target-1]
		if all {
			// A failure not attributed precisely depends on every
			// choice still open.
			conf, all = nil, len(ix.frames) > 0
			if !all {
				return -1
			}
		}
		if ix.steps++; ix.steps > ix.bound {
			return -2
		}
	}
}

// validate re-evaluates the rich requirements and conflicts of the chosen
// packages once the agenda is empty: conditions may have become true since
// they were first seen.
func (ix *Installability) validate() (bad []instItem, conflict string) {
	for _, q := range ix.trail {
		if !ix.hasRich[q] {
			continue
		}
		for _, c := range ix.reqs[q] {
			if r := ix.clauses[c].rich; r != nil && !ix.evalRich(r) {
				if len(ix.options(r)) == 0 {
					return nil, fmt.Sprintf("%s requires %s, which the packages it needs make false", ix.pkgs[q].NEVRA(), ix.clauses[c].dep.Name)
				}
				bad = append(bad, instItem{q, c, int32(len(ix.frames))})
			}
		}
		for _, r := range ix.richConf[q] {
			ix.sel[q] = false // a package never conflicts with itself
			hit := ix.evalRich(r)
			ix.sel[q] = true
			if hit {
				return nil, fmt.Sprintf("%s conflicts with %s", ix.pkgs[q].NEVRA(), r)
			}
		}
	}
	return bad, ""
}

func (ix *Installability) leafSat(d rpmrepo.Dep) bool {
	if strings.HasPrefix(d.Name, "rpmlib(") {
		return true
	}
	for _, q := range ix.clauses[ix.clause(d)].cands {
		if ix.sel[q] {
			return true
		}
	}
	return false
}

func (ix *Installability) evalRich(r *Rich) bool {
	switch r.Op {
	case RichDep:
		return ix.leafSat(r.Dep)
	case RichAnd:
		return ix.evalRich(r.Left) && ix.evalRich(r.Right)
	case RichOr:
		return ix.evalRich(r.Left) || ix.evalRich(r.Right)
	case RichIf:
		if ix.evalRich(r.Right) {
			return ix.evalRich(r.Left)
		}
		return r.Else == nil || ix.evalRich(r.Else)
	case RichUnless:
		if !ix.evalRich(r.Right) {
			return ix.evalRich(r.Left)
		}
		return r.Else != nil && ix.evalRich(r.Else)
	case RichWith, RichWithout:
		for _, q := range ix.whatProvides(r) {
			if q >= 0 && ix.sel[q] {
				return true
			}
		}
	}
	return false
}

const maxOptions = 32

// options are the ways to make a false rich requirement true by adding
// packages: each a list of plain clauses to satisfy. Options that add
// nothing (all their clauses already met) are left out, so every choice
// makes progress.
func (ix *Installability) options(r *Rich) [][]int32 {
	var raw [][]rpmrepo.Dep
	ix.optionsOf(r, &raw)
	var out [][]int32
	for _, o := range raw {
		var cs []int32
		progress := false
		for _, d := range o {
			if strings.HasPrefix(d.Name, "rpmlib(") {
				continue
			}
			c := ix.clause(d)
			cs = append(cs, c)
			if !ix.leafSat(d) {
				progress = true
			}
		}
		if progress {
			out = append(out, cs)
		}
	}
	return out
}

func (ix *Installability) optionsOf(r *Rich, out *[][]rpmrepo.Dep) {
	switch r.Op {
	case RichDep:
		*out = append(*out, []rpmrepo.Dep{r.Dep})
	case RichOr:
		ix.optionsOf(r.Left, out)
		ix.optionsOf(r.Right, out)
	case RichAnd, RichWith:
		var l, rr [][]rpmrepo.Dep
		ix.optionsOf(r.Left, &l)
		ix.optionsOf(r.Right, &rr)
		if ix.evalRich(r.Left) {
			l = [][]rpmrepo.Dep{nil}
		}
		if ix.evalRich(r.Right) {
			rr = [][]rpmrepo.Dep{nil}
		}
		for _, a := range l {
			for _, b := range rr {
				if len(*out) >= maxOptions {
					return
				}
				*out = append(*out, append(append([]rpmrepo.Dep(nil), a...), b...))
			}
		}
	case RichIf:
		if ix.evalRich(r.Right) {
			ix.optionsOf(r.Left, out)
		} else if r.Else != nil {
			ix.optionsOf(r.Else, out)
		}
	case RichUnless:
		if !ix.evalRich(r.Right) {
			ix.optionsOf(r.Left, out)
		} else if r.Else != nil {
			ix.optionsOf(r.Else, out)
		}
	case RichWithout:
		ix.optionsOf(r.Left, out)
	}
}

// The helpers below restate small rules of the solver (arch policy,
// installonly, multilib, sorted-set operations) so that this file depends
// only on the package's exported API and the rich-dependency parser.

func instArchAllowed(arches []string, arch string) bool {
	if arch == "noarch" {
		return true
	}
	for _, a := range arches {
		if a == arch {
			return true
		}
	}
	return false
}

func instInstallOnly(globs []string, p *rpmrepo.Package) bool {
	if globs == nil {
		globs = DefaultInstallOnly()
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, p.Name); ok || g == p.Name {
			return true
		}
	}
	for _, d := range p.Provides {
		if strings.HasPrefix(d.Name, "installonlypkg(") {
			return true
		}
	}
	return false
}

// instMultilib: the same EVR built for two real arches may be installed
// side by side, as rpm allows.
func instMultilib(a, b *rpmrepo.Package) bool {
	return a.Arch != b.Arch && a.Arch != "noarch" && b.Arch != "noarch" && a.EVR == b.EVR
}

// instIntersect keeps the elements of sorted a that are (keep) or are not
// (!keep) in sorted b.
func instIntersect(a, b []int32, keep bool) []int32 {
	var out []int32
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if (j < len(b) && b[j] == x) == keep {
			out = append(out, x)
		}
	}
	return out
}
