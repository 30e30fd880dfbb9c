package depmod

import (
	"fmt"
	"slices"
	"strings"
)

// symbol is an exported symbol and the module that owns it.
type symbol struct {
	name  string
	owner *mod
}

// resolve is depmod_load: the symbol table (a later module in array order
// replaces an earlier owner, as hash_add does), each module's direct
// dependencies from its needed symbols, and the topological order. It
// returns the symbols in depmod's hash-table order.
func resolve(mods []*mod) ([]*symbol, error) {
	table := map[string]*symbol{}
	for _, m := range mods {
		for _, e := range m.Exports {
			if e == "" {
				continue
			}
			table[e] = &symbol{name: e, owner: m}
		}
	}
	for _, m := range mods {
		for _, n := range m.Needs {
			name := strings.TrimPrefix(n.Name, ".") // PPC64: .foo == foo
			s, ok := table[name]
			if !ok {
				continue // the kernel's, or unknown: depmod ignores it without -e
			}
			if !slices.Contains(m.deps, s.owner) {
				m.deps = append(m.deps, s.owner)
				s.owner.users++
			}
		}
	}
	if err := topoSort(mods); err != nil {
		return nil, err
	}
	syms := make([]*symbol, 0, len(table))
	for _, s := range table {
		syms = append(syms, s)
	}
	sortHashOrder(syms, func(s *symbol) string { return s.name }, symbolsBuckets)
	return syms, nil
}

// topoSort is depmod_calculate_dependencies: modules nobody uses are the
// roots, taken from a stack; a module gets its sort index when it is popped
// and pushes the dependencies whose last user it was. Then each module's
// direct dependencies are sorted by that index.
func topoSort(mods []*mod) error {
	users := make([]int, len(mods))
	var roots []int
	for i, m := range mods {
		users[i] = m.users
		if users[i] == 0 {
			roots = append(roots, i)
		}
	}
	sorted := 0
	for len(roots) > 0 {
		src := mods[roots[len(roots)-1]]
		roots = roots[:len(roots)-1]
		src.depSort = sorted
		sorted++
		for _, dst := range src.deps {
			users[dst.idx]--
			if users[dst.idx] == 0 {
				roots = append(roots, dst.idx)
			}
		}
	}
	if sorted < len(mods) {
		var in []string
		for i, m := range mods {
			if users[i] > 0 {
				in = append(in, m.relpath)
			}
		}
		return fmt.Errorf("depmod: %w among %d modules: %s", ErrCycle, len(in), strings.Join(in, " "))
	}
	for _, m := range mods {
		slices.SortStableFunc(m.deps, func(a, b *mod) int { return a.depSort - b.depSort })
	}
	return nil
}

// allDeps is mod_get_all_sorted_dependencies: the transitive dependencies,
// each once, in topological order.
func allDeps(m *mod) []*mod {
	seen := map[*mod]bool{}
	var out []*mod
	var fill func(*mod)
	fill = func(x *mod) {
		for _, d := range x.deps {
			if seen[d] {
				continue
			}
			seen[d] = true
			out = append(out, d)
			fill(d)
		}
	}
	fill(m)
	slices.SortFunc(out, func(a, b *mod) int { return a.depSort - b.depSort })
	return out
}

// depLine is the modules.dep line of m, without its newline.
func depLine(m *mod) string {
	if m.depsLine != "" {
		return m.depsLine
	}
	var b strings.Builder
	b.WriteString(m.relpath)
	b.WriteByte(':')
	for _, d := range allDeps(m) {
		b.WriteByte(' ')
		b.WriteString(d.relpath)
	}
	m.depsLine = b.String()
	return m.depsLine
}
