package resolver

import (
	"errors"
	"fmt"
	"strings"
)

// ProblemKind classifies why a request has no solution.
type ProblemKind uint8

// The kinds of problems.
const (
	ProblemNothingProvides ProblemKind = iota // a requirement nobody provides
	ProblemConflict                           // a Conflicts between two packages
	ProblemObsoletes                          // one package obsoletes another
	ProblemSameName                           // two versions of a name that is not installonly
	ProblemNoMatch                            // a requested name matches no package
	ProblemExcluded                           // excluded by arch policy or the lock
	ProblemFiles                              // the full file lists could not be loaded
	ProblemNotInstalled                       // an erase names no installed package
)

// Problem is one reason the search failed, as a sentence that names the
// packages and the chain of requirements that brought them in.
type Problem struct {
	Kind ProblemKind
	Text string

	pkgs      []int32
	levels    []int // decision levels the problem depends on
	chainFrom int32
}

// ErrUnsolvable is wrapped by every *Unsolvable.
var ErrUnsolvable = errors.New("no solution")

// Unsolvable is the error Solve returns when no set of packages meets the
// request. Problems are every distinct failure the search met, in the
// order it met them: the first is the one the preferred choices hit.
type Unsolvable struct {
	Request  []string
	Problems []Problem
}

func (e *Unsolvable) Error() string {
	if len(e.Problems) == 0 {
		return "resolver: no solution"
	}
	msg := "resolver: no solution: " + e.Problems[0].Text
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more problem(s); see Explain)", n)
	}
	return msg
}

func (e *Unsolvable) Unwrap() error { return ErrUnsolvable }

// Explain returns every problem, one per line, for people.
func (e *Unsolvable) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no solution for install %s:\n", strings.Join(e.Request, " "))
	for i, p := range e.Problems {
		fmt.Fprintf(&b, "  problem %d: %s\n", i+1, p.Text)
	}
	return b.String()
}

const maxProblems = 64

func (s *solver) addProblem(p Problem) {
	if len(p.pkgs) == 2 {
		// Say where both sides of a conflict came from.
		a, b := p.pkgs[0], p.pkgs[1]
		if p.chainFrom >= 0 && int(p.chainFrom) < len(s.pkgs) {
			p.Text += fmt.Sprintf("; %s is needed by %s", s.pkgs[a], s.chain(p.chainFrom))
		}
		if s.sel[b] {
			p.Text += fmt.Sprintf("; %s is %s", s.pkgs[b], s.origin(b))
		}
	}
	if s.seenProblem[p.Text] || len(s.problems) >= maxProblems {
		return
	}
	s.seenProblem[p.Text] = true
	s.problems = append(s.problems, p)
}

func (s *solver) dropProblems(n int) {
	for _, p := range s.problems[n:] {
		delete(s.seenProblem, p.Text)
	}
	s.problems = s.problems[:n]
}

func (s *solver) unsolvable() error {
	// The request as given: a job that matched nothing never became a req.
	u := &Unsolvable{Problems: append([]Problem(nil), s.problems...), Request: append([]string(nil), s.request...)}
	return u
}

// chain is "bar-1-1.x86_64 needed by iptables-1.8-1.x86_64 (requested)".
func (s *solver) chain(id int32) string {
	var b strings.Builder
	b.WriteString(s.pkgs[id].String())
	for n := 0; n < len(s.pkgs); n++ {
		w := s.why[id]
		if w.from < 0 || !s.sel[id] {
			switch {
			case !s.sel[id]:
			case s.installed[id]:
				b.WriteString(" (installed)")
			case w.weak:
				b.WriteString(" (weak: " + w.dep + ")")
			default:
				b.WriteString(" (requested)")
			}
			break
		}
		id = w.from
		b.WriteString(" needed by ")
		b.WriteString(s.pkgs[id].String())
	}
	return b.String()
}

// origin says how a chosen package got in: "requested", "installed", or
// "needed by <chain>".
func (s *solver) origin(id int32) string {
	w := s.why[id]
	switch {
	case s.installed[id]:
		return "installed"
	case w.from < 0 && w.weak:
		return "weak (" + w.dep + ")"
	case w.from < 0:
		return "requested"
	}
	return "needed by " + s.chain(w.from)
}
