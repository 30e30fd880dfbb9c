package resolver_test

// A reader of libsolv's testcase format (the .t files of libsolv's test
// suite, run by its testsolv tool) and its conversion to this package's
// model. The format: directive lines ("repo", "system", "solverflags",
// "poolflags", "job", "result", "nextjob", ...), blocks of "#>" lines
// after "repo ... <inline>" and "result ... <inline>", and, inside a
// "testtags" repository, "=Pkg: name version release arch" starting a
// package and "=Req:", "=Prv:", ... adding one dependency each (or
// "+Req:" ... "-Req:" adding one per line).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// lsCase is one solver run of a testcase file: the pool as built so far
// and the jobs, flags and expected result up to the next "nextjob".
type lsCase struct {
	file string
	n    int // 1-based index within the file
	line int // line of its first job (or of the file's start)

	repos     []*lsRepo
	arch      string // system arch; "" when unset
	disttype  string
	installed string // the installed repository's name, "" for none
	poolflags []string
	features  []string
	// other lists directives this converter does not model (disable,
	// namespace, evrcmp, genid, vendorclass).
	other []string
	// disabled are the packages "disable pkg" hides, as name-evr.arch@repo.
	disabled []string

	solverflags []string
	jobs        []lsJob
	resultTypes string
	result      []string // the expected result block, without "#>"
	hasResult   bool
}

type lsRepo struct {
	name    string
	prio    int
	subprio int
	pkgs    []*rpmrepo.Package
	ids     []string // each package as libsolv prints it: name-evr.arch
	// skip is set when a package of the repository uses something the
	// resolver's model lacks (a libsolv-only dependency operator).
	skip string
}

type lsJob struct {
	line  int
	how   string // install, erase, update, ...
	sel   string // name, pkg, provides, oneof, all, repo, selection...
	args  []string
	flags []string // [weak,forcebest,...]
}

type lsError struct {
	file string
	line int
	msg  string
}

func (e *lsError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// parseTestcase reads a whole .t file into its cases. External repository
// files ("repo c 0 testtags conflicts.repo") are read with readFile.
func parseTestcase(file string, data []byte, readFile func(name string) ([]byte, error)) ([]*lsCase, error) {
	lines := strings.Split(string(data), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	errf := func(line int, format string, args ...any) error {
		return &lsError{file, line, fmt.Sprintf(format, args...)}
	}
	cur := &lsCase{file: file, n: 1, line: 1}
	var cases []*lsCase
	// inline returns the "#>" block that follows line i.
	inline := func(i int) ([]string, int) {
		var out []string
		j := i + 1
		for ; j < len(lines) && strings.HasPrefix(lines[j], "#>"); j++ {
			out = append(out, lines[j][2:])
		}
		return out, j
	}
	for i := 0; i < len(lines); i++ {
		ln := i + 1
		text := strings.TrimLeft(lines[i], " \t")
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue // only other white space
		}
		switch f[0] {
		case "repo":
			if len(f) < 4 {
				return nil, errf(ln, "repo needs a name, a priority and a type, got %q", text)
			}
			if len(cur.jobs) > 0 {
				return nil, errf(ln, "repo %s after a job", f[1])
			}
			r := &lsRepo{name: f[1]}
			ps, ss, hasSub := strings.Cut(f[2], ".")
			var err error
			if r.prio, err = strconv.Atoi(ps); err != nil {
				return nil, errf(ln, "repo %s: bad priority %q", f[1], f[2])
			}
			if hasSub {
				if r.subprio, err = strconv.Atoi(ss); err != nil {
					return nil, errf(ln, "repo %s: bad subpriority %q", f[1], f[2])
				}
			}
			switch {
			case f[3] == "empty":
			case len(f) < 5:
				return nil, errf(ln, "repo %s: type %s needs a file or <inline>", f[1], f[3])
			case f[3] != "testtags":
				return nil, errf(ln, "repo %s: unsupported repository type %q", f[1], f[3])
			case f[4] == "<inline>":
				block, next := inline(i)
				if err := parseTesttags(r, block, func(k int) int { return ln + 1 + k }, file); err != nil {
					return nil, err
				}
				i = next - 1
			default:
				if readFile == nil {
					return nil, errf(ln, "repo %s: external file %s cannot be read here", f[1], f[4])
				}
				b, err := readFile(f[4])
				if err != nil {
					return nil, errf(ln, "repo %s: %v", f[1], err)
				}
				ext := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
				if err := parseTesttags(r, ext, func(k int) int { return k + 1 }, f[4]); err != nil {
					return nil, err
				}
			}
			for _, p := range r.pkgs {
				p.Repo = r.name
			}
			cur.repos = append(cur.repos, r)
		case "system":
			if len(f) < 3 {
				return nil, errf(ln, "system needs an arch and a disttype, got %q", text)
			}
			cur.arch, cur.disttype = f[1], f[2]
			if cur.arch == "unset" || cur.arch == "-" {
				cur.arch = ""
			}
			cur.installed = ""
			if len(f) > 3 {
				found := false
				for _, r := range cur.repos {
					found = found || r.name == f[3]
				}
				if !found {
					return nil, errf(ln, "system: unknown repo %q", f[3])
				}
				cur.installed = f[3]
			}
		case "job":
			if len(f) < 2 {
				return nil, errf(ln, "job without a command")
			}
			j := lsJob{line: ln, how: f[1]}
			rest := f[2:]
			if len(rest) > 0 {
				j.sel, rest = rest[0], rest[1:]
			}
			if n := len(rest); n > 0 && strings.HasPrefix(rest[n-1], "[") {
				if !strings.HasSuffix(rest[n-1], "]") {
					return nil, errf(ln, "job flags %q lack the closing ']'", rest[n-1])
				}
				j.flags = strings.Split(strings.Trim(rest[n-1], "[]"), ",")
				rest = rest[:n-1]
			}
			j.args = rest
			if len(cur.jobs) == 0 {
				cur.line = ln
			}
			cur.jobs = append(cur.jobs, j)
		case "solverflags":
			cur.solverflags = append(cur.solverflags, f[1:]...)
		case "poolflags":
			cur.poolflags = append(cur.poolflags, f[1:]...)
		case "feature":
			cur.features = append(cur.features, f[1:]...)
		case "result":
			if len(f) < 2 {
				return nil, errf(ln, "result without types")
			}
			cur.resultTypes, cur.hasResult = f[1], true
			cur.result = nil
			if len(f) > 2 && f[2] == "<inline>" {
				block, next := inline(i)
				cur.result = block
				i = next - 1
			} else if len(f) > 2 {
				cur.other = appendOnce(cur.other, "a result in an external file")
			}
		case "nextjob":
			cases = append(cases, cur)
			cur = &lsCase{file: file, n: cur.n + 1, line: ln + 1,
				repos: cur.repos, arch: cur.arch, disttype: cur.disttype, installed: cur.installed,
				poolflags: cur.poolflags, features: cur.features, other: cur.other, disabled: cur.disabled}
		case "disable":
			if len(f) != 3 || f[1] != "pkg" {
				cur.other = appendOnce(cur.other, "disable "+strings.Join(f[1:len(f)-1], " "))
				continue
			}
			cur.disabled = append(cur.disabled, f[2])
		case "namespace", "evrcmp", "genid", "vendorclass":
			cur.other = appendOnce(cur.other, f[0])
		default:
			return nil, errf(ln, "unknown directive %q", f[0])
		}
	}
	return append(cases, cur), nil
}

func appendOnce(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// parseTesttags reads a testtags repository. lineOf maps an index of
// block to a line number of file for errors.
func parseTesttags(r *lsRepo, block []string, lineOf func(int) int, file string) error {
	var p *rpmrepo.Package
	selfProvides := true
	intag := ""
	for k, l := range block {
		errf := func(format string, args ...any) error {
			return &lsError{file, lineOf(k), fmt.Sprintf(format, args...)}
		}
		if intag != "" {
			if l == "-"+intag {
				intag = ""
				continue
			}
			if err := addTag(r, p, intag, l); err != nil {
				return errf("%v", err)
			}
			continue
		}
		if strings.HasPrefix(l, "+") && len(l) > 1 && l[1] != ':' {
			tag, _, ok := strings.Cut(l[1:], ":")
			if !ok {
				continue // libsolv ignores such a line
			}
			if p == nil {
				return errf("+%s: before any =Pkg:", tag)
			}
			intag = tag + ":"
			continue
		}
		if len(l) < 5 || l[0] != '=' || l[4] != ':' {
			continue // not a tag: libsolv ignores it
		}
		tag, val := l[1:4], strings.TrimPrefix(l[5:], " ")
		switch tag {
		case "Ver":
			v, _, _ := strings.Cut(val, " ")
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return errf("=Ver: bad version %q", val)
			}
			selfProvides = n < 3 || strings.Contains(val, "addselfprovides")
			continue
		case "Pkg":
			f := strings.Fields(val)
			if len(f) != 4 {
				// libsolv ignores such a line and goes on adding the
				// following tags to the package before it.
				r.skip = fmt.Sprintf("line %d: =Pkg: %q is not name version release arch (libsolv ignores the line)", lineOf(k), val)
				p = nil
				continue
			}
			name, err := unescapeTTErr(f[0])
			if err != nil {
				return errf("=Pkg: %v", err)
			}
			p = &rpmrepo.Package{Name: name, Arch: f[3], EVR: resolver.ParseEVR(f[1])}
			id := f[0] + "-" + f[1]
			if f[2] != "-" {
				p.Release = f[2]
				id += "-" + f[2]
			}
			if f[3] == "-" {
				p.Arch = ""
			} else {
				id += "." + f[3]
			}
			r.ids = append(r.ids, id)
			if !selfProvides {
				// The resolver always adds the self-provide; libsolv's
				// v3 format without "addselfprovides" does not.
				r.skip = "testtags 3.0 without self-provides"
			}
			r.pkgs = append(r.pkgs, p)
			continue
		}
		if p == nil {
			continue // libsolv ignores tags before the first package
		}
		if err := addTag(r, p, tag+":", val); err != nil {
			return errf("%v", err)
		}
	}
	if intag != "" {
		return &lsError{file, lineOf(len(block) - 1), fmt.Sprintf("+%s has no closing -%s", intag, intag)}
	}
	return nil
}

func addTag(r *lsRepo, p *rpmrepo.Package, tag, val string) error {
	var list *[]rpmrepo.Dep
	switch tag {
	case "Req:", "Prq:":
		list = &p.Requires
	case "Prv:":
		list = &p.Provides
	case "Obs:":
		list = &p.Obsoletes
	case "Con:":
		list = &p.Conflicts
	case "Rec:":
		list = &p.Recommends
	case "Sug:":
		list = &p.Suggests
	case "Sup:":
		list = &p.Supplements
	case "Enh:":
		list = &p.Enhances
	case "Fls:":
		p.Files = append(p.Files, val)
		p.FilesComplete = true
		return nil
	case "Vnd:", "Sum:", "Tim:", "Itm:", "Bvr:":
		return nil
	case "Ipr:", "Cns:", "Owr:", "Flv:", "Trf:":
		r.skip = "uses =" + tag
		return nil
	default:
		return nil // libsolv ignores unknown tags
	}
	d, unsup, err := parseTTDep(val)
	if err != nil {
		return fmt.Errorf("=%s %v", tag, err)
	}
	if unsup != "" {
		r.skip = unsup
		return nil
	}
	d.Pre = tag == "Prq:"
	*list = append(*list, d)
	return nil
}

// parseTTDep converts a testtags dependency ("Y >= 1.1", "A <IF> (B
// <ELSE> C)", "a | b") to rpm's form, rich ones as rpm's boolean syntax
// ("(A if B else C)"). unsup is set for libsolv-only operators the
// resolver does not model (namespaces, arch, kind).
func parseTTDep(s string) (d rpmrepo.Dep, unsup string, err error) {
	if strings.HasPrefix(s, "/") {
		return rpmrepo.Dep{Name: s}, "", nil
	}
	p := ttParser{s: s}
	n, err := p.complex(false)
	if err != nil {
		return d, "", err
	}
	p.space()
	if p.pos != len(s) {
		return d, "", fmt.Errorf("dependency %q: unexpected %q", s, s[p.pos:])
	}
	if p.unsup != "" {
		return d, p.unsup, nil
	}
	if n.op == "" {
		return n.dep, "", nil
	}
	if !elseOK(n, false) {
		return d, "<ELSE> outside <IF>/<UNLESS>", nil
	}
	name := n.rpm(true)
	if _, err := resolver.ParseRich(name); err != nil {
		return d, "", fmt.Errorf("dependency %q: converted to %q: %v", s, name, err)
	}
	return rpmrepo.Dep{Name: name}, "", nil
}

// ttNode is a parsed testtags dependency: a leaf (op "") or a boolean
// operator in rpm's spelling.
type ttNode struct {
	op          string
	dep         rpmrepo.Dep
	left, right *ttNode
}

func (n *ttNode) rpm(top bool) string {
	if n.op == "" {
		return n.dep.String()
	}
	var b strings.Builder
	b.WriteString("(")
	if n.op == "else" {
		// Only reached as the right side of if/unless, written inline.
		b.Reset()
		return n.left.rpm(false) + " else " + n.right.rpm(false)
	}
	b.WriteString(n.left.rpm(false))
	b.WriteString(" " + n.op + " ")
	b.WriteString(n.right.rpm(false))
	b.WriteString(")")
	return b.String()
}

// elseOK reports whether every else in n is the right side of an if or
// unless (underIf: n is such a right side).
func elseOK(n *ttNode, underIf bool) bool {
	if n.op == "" {
		return true
	}
	if n.op == "else" && !underIf {
		return false
	}
	cond := n.op == "if" || n.op == "unless"
	return elseOK(n.left, false) && elseOK(n.right, cond)
}

type ttParser struct {
	s     string
	pos   int
	depth int
	unsup string
}

func (p *ttParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// libsolv's operators, in the order its parser tries them as prefixes.
var ttOps = []struct{ text, rpm string }{
	{"=", "="}, {"<=>", "<=>"}, {"<=", "<="}, {">=", ">="}, {">", ">"}, {"<>", "<>"},
	{"&", "and"}, {"|", "or"}, {"+", "with"}, {"-", "without"},
	{"<NAMESPACE>", ""}, {".", ""}, {"<MULTIARCH>", ""}, {"<FILECONFLICT>", ""},
	{"<IF>", "if"}, {"compat >=", ""}, {"<KIND>", ""}, {"<ELSE>", "else"}, {"<ERROR>", ""},
	{"<UNLESS>", "unless"}, {"<CONDA>", ""}, {"<", "<"},
}

var ttRel = map[string]rpmrepo.Flags{
	"=": rpmrepo.FlagsEQ, "<=": rpmrepo.FlagsLE, ">=": rpmrepo.FlagsGE, ">": rpmrepo.FlagsGT, "<": rpmrepo.FlagsLT,
}

func (p *ttParser) complex(relop bool) (*ttNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 64 {
		return nil, fmt.Errorf("dependency %q nests too deep", p.s)
	}
	p.space()
	if strings.HasPrefix(p.s[p.pos:], "namespace:") {
		p.unsup = "namespace dependency"
	}
	var n *ttNode
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		p.pos++
		inner, err := p.complex(false)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, fmt.Errorf("dependency %q: missing ')' at offset %d", p.s, p.pos)
		}
		p.pos++
		n = inner
	} else {
		start, paren := p.pos, 0
		for ; p.pos < len(p.s); p.pos++ {
			c := p.s[p.pos]
			if c == ' ' || c < 32 {
				break
			}
			if c == '(' {
				paren++
			}
			if c == ')' {
				if paren <= 0 {
					break
				}
				paren--
			}
		}
		word := p.s[start:p.pos]
		if word == "" {
			return nil, fmt.Errorf("dependency %q: empty name at offset %d", p.s, start)
		}
		if strings.HasSuffix(word, ":any") && !relop {
			p.unsup = "multiarch :any dependency"
		}
		w, err := unescapeTTErr(word)
		if err != nil {
			return nil, fmt.Errorf("dependency %q: %v", p.s, err)
		}
		n = &ttNode{dep: rpmrepo.Dep{Name: w}}
	}
	for {
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] == ')' || relop {
			return n, nil
		}
		rest := p.s[p.pos:]
		found := -1
		for i, op := range ttOps {
			if strings.HasPrefix(rest, op.text) {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("dependency %q: unknown operator at %q", p.s, rest)
		}
		op := ttOps[found]
		p.pos += len(op.text)
		if fl, ok := ttRel[op.text]; ok || op.text == "<=>" || op.text == "<>" {
			right, err := p.complex(true)
			if err != nil {
				return nil, err
			}
			if n.op != "" || n.dep.Flags != rpmrepo.FlagsNone || right.op != "" {
				return nil, fmt.Errorf("dependency %q: version comparison of a non-name", p.s)
			}
			if !ok {
				p.unsup = "operator " + op.text
			}
			n.dep.Flags, n.dep.EVR = fl, resolver.ParseEVR(right.dep.Name)
			continue
		}
		if op.rpm == "" {
			p.unsup = "operator " + op.text
		}
		right, err := p.complex(false)
		if err != nil {
			return nil, err
		}
		n = &ttNode{op: op.rpm, left: n, right: right}
	}
}

func unescapeTTErr(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("escape %q is cut short", s[i:])
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q", s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// lsTransaction extracts the transaction and problem lines of a result
// block: the lines this test compares. Problems collapse to one line
// "problem" (the resolver's explanation is worded differently).
func lsTransaction(block []string) []string {
	var out []string
	problem := false
	for _, l := range block {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "install", "erase", "upgrade", "downgrade", "reinstall", "change", "obsoleted", "ignored", "multiinstall":
			out = append(out, strings.Join(f, " "))
		case "problem":
			problem = true
		}
	}
	if problem {
		return []string{"problem"}
	}
	return out
}

// splitTestsolv splits the output of "testsolv -r -r" into the results
// of each case: a file of several cases prints "test N:" before each.
func splitTestsolv(out []byte) map[int][]string {
	res := map[int][]string{}
	n := 1
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "test ") && strings.HasSuffix(l, ":") {
			if k, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(l, "test "), ":")); err == nil {
				n = k
				res[n] = res[n][:0:0]
				continue
			}
		}
		if b, ok := strings.CutPrefix(l, "#>"); ok {
			res[n] = append(res[n], b)
		}
	}
	return res
}

// FuzzParseTestcase feeds the testcase reader arbitrary files: it must
// return an error naming the file and line, or cases that convert and
// solve (bounded) without panicking.
func FuzzParseTestcase(f *testing.F) {
	for _, name := range []string{"choose/versioned2.t", "cplxdeps/ifelse.t", "choicerules/choice1.t", "testcase/str2dep.t"} {
		if b, err := os.ReadFile(filepath.Join(libsolvDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("repo a 0 testtags <inline>\n#>+Req:\n#>x\nsystem i686 rpm\njob install name x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cases, err := parseTestcase("fuzz.t", data, func(string) ([]byte, error) { return nil, errors.New("no external files") })
		if err != nil {
			var le *lsError
			if !errors.As(err, &le) || le.file != "fuzz.t" || le.line < 1 || !strings.HasPrefix(err.Error(), "fuzz.t:") {
				t.Fatalf("error does not name the file and line: %v", err)
			}
			return
		}
		for _, c := range cases {
			pr, why := c.convert()
			if why != "" {
				continue
			}
			pr.pol.MaxSteps = 2000
			if _, err := pr.answer(); err != nil && !errors.Is(err, resolver.ErrTooHard) {
				t.Fatalf("solving: %v", err)
			}
		}
	})
}
