package resolver

import (
	"sort"

	"github.com/vicroot/vicroot/rpmrepo"
)

// Plan is the outcome of a request.
type Plan struct {
	// Packages are the packages to install, each after the packages it
	// requires (a cycle is broken deterministically: within it, Requires(pre)
	// edges are kept where possible and ties go by NEVRA).
	Packages []*rpmrepo.Package
	// Erase are the staged packages the request removes, by NEVRA.
	Erase []*rpmrepo.Package
	// Kept are the staged packages that stay, by NEVRA.
	Kept []*rpmrepo.Package

	why map[*rpmrepo.Package]Reason
}

// Reason says why a package is in a plan.
type Reason struct {
	// By is the package whose dependency brought this one in; nil when
	// the package was requested, kept from the staged set or pulled by a
	// Supplements.
	By *rpmrepo.Package
	// Dep is the dependency of By (or the request string) it satisfies.
	Dep string
	// Weak marks a Recommends or Supplements.
	Weak bool
	// Installed marks a package of the staged set.
	Installed bool
}

// Why explains how the package called name (or with that NEVRA) got into
// the plan: one line per link, from it up to the request, e.g.
//
//	libfoo-1-1.x86_64 is needed by bar-1.2-3.x86_64 (requires libfoo.so.1()(64bit))
//	bar-1.2-3.x86_64 is needed by iptables-1.8-1.x86_64 (requires bar)
//	iptables-1.8-1.x86_64 was requested (iptables)
//
// It returns nil when no such package is in the plan.
func (p *Plan) Why(name string) []string {
	var pkg *rpmrepo.Package
	for _, l := range [][]*rpmrepo.Package{p.Packages, p.Kept} {
		for _, q := range l {
			if q.Name == name || q.NEVRA() == name {
				pkg = q
				break
			}
		}
		if pkg != nil {
			break
		}
	}
	if pkg == nil {
		return nil
	}
	var out []string
	seen := map[*rpmrepo.Package]bool{}
	for pkg != nil && !seen[pkg] {
		seen[pkg] = true
		r := p.why[pkg]
		switch {
		case r.Installed:
			out = append(out, pkg.NEVRA()+" was already installed")
		case r.By == nil && r.Weak:
			out = append(out, pkg.NEVRA()+" was added because it "+r.Dep)
		case r.By == nil:
			out = append(out, pkg.NEVRA()+" was requested ("+r.Dep+")")
		case r.Weak:
			out = append(out, pkg.NEVRA()+" is recommended by "+r.By.NEVRA()+" (recommends "+r.Dep+")")
		default:
			out = append(out, pkg.NEVRA()+" is needed by "+r.By.NEVRA()+" (requires "+r.Dep+")")
		}
		pkg = r.By
	}
	return out
}

func (s *solver) plan() *Plan {
	pl := &Plan{why: map[*rpmrepo.Package]Reason{}}
	var fresh []int32
	for _, id := range s.chosen {
		w := s.why[id]
		r := Reason{Dep: w.dep, Weak: w.weak, Installed: s.installed[id]}
		if w.from >= 0 {
			r.By = s.pkgs[w.from]
		}
		pl.why[s.pkgs[id]] = r
		if s.installed[id] {
			pl.Kept = append(pl.Kept, s.pkgs[id])
		} else {
			fresh = append(fresh, id)
		}
	}
	for _, id := range s.erased {
		pl.Erase = append(pl.Erase, s.pkgs[id])
	}
	sortByNEVRA(pl.Kept)
	for _, id := range s.installOrder(fresh) {
		pl.Packages = append(pl.Packages, s.pkgs[id])
	}
	return pl
}

func sortByNEVRA(l []*rpmrepo.Package) {
	sort.Slice(l, func(i, j int) bool { return l[i].NEVRA() < l[j].NEVRA() })
}

// installOrder sorts the new packages so that each comes after what it
// requires: Tarjan's strongly connected components over "requires" edges
// come out dependencies first; inside a component (a cycle), packages go
// in Kahn order over the Requires(pre) edges, ties and leftover cycles
// broken by NEVRA.
func (s *solver) installOrder(ids []int32) []int32 {
	sort.Slice(ids, func(i, j int) bool { return s.pkgs[ids[i]].NEVRA() < s.pkgs[ids[j]].NEVRA() })
	pos := map[int32]int{}
	for i, id := range ids {
		pos[id] = i
	}
	n := len(ids)
	edges := make([][]int, n)
	pre := make([]map[int]bool, n)
	for i, id := range ids {
		seen := map[int]bool{}
		pre[i] = map[int]bool{}
		for _, d := range s.pkgs[id].Requires {
			if alwaysSatisfied(d) {
				continue
			}
			var provs []int32
			if IsRich(d.Name) {
				if r, err := s.rich(d); err == nil {
					r.leaves(func(l rpmrepo.Dep) { provs = append(provs, s.providers(l)...) })
				}
			} else {
				provs = s.providers(d)
			}
			for _, q := range provs {
				j, ok := pos[q]
				if !ok || q == id || !s.sel[q] {
					continue
				}
				if !seen[j] {
					seen[j] = true
					edges[i] = append(edges[i], j)
				}
				if d.Pre {
					pre[i][j] = true
				}
			}
		}
		sort.Ints(edges[i])
	}
	// Tarjan, iteratively deep enough for any real repository but written
	// recursively for clarity: depth is bounded by the number of packages.
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack, out []int
	next := 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, w := range edges[v] {
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			out = append(out, orderCycle(comp, pre)...)
		}
	}
	for v := 0; v < n; v++ {
		if index[v] < 0 {
			strong(v)
		}
	}
	res := make([]int32, n)
	for i, v := range out {
		res[i] = ids[v]
	}
	return res
}

// orderCycle orders one strongly connected component: a package goes once
// every package it pre-requires inside the component is placed; the
// lowest index (NEVRA order) goes first among those ready, and when none
// is ready (a cycle of pre-requirements) the lowest index goes anyway.
func orderCycle(comp []int, pre []map[int]bool) []int {
	if len(comp) == 1 {
		return comp
	}
	sort.Ints(comp)
	in := map[int]bool{}
	for _, v := range comp {
		in[v] = true
	}
	placed := map[int]bool{}
	var out []int
	for len(out) < len(comp) {
		pick := -1
		for _, v := range comp {
			if placed[v] {
				continue
			}
			ready := true
			for w := range pre[v] {
				if in[w] && !placed[w] && w != v {
					ready = false
					break
				}
			}
			if ready {
				pick = v
				break
			}
		}
		if pick < 0 {
			for _, v := range comp {
				if !placed[v] {
					pick = v
					break
				}
			}
		}
		placed[pick] = true
		out = append(out, pick)
	}
	return out
}
