package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

const libsolvDir = "../../shared/fixtures/libsolv-testcases"

// lsProblem is a converted case: what to hand the resolver.
type lsProblem struct {
	avail []*rpmrepo.Package
	req   resolver.Request
	pol   resolver.Policy
	ids   map[*rpmrepo.Package]string // name-evr.arch@repo, as libsolv prints
}

// libsolvArches is libsolv's arch policy for the system arches the test
// suite uses, best first.
var libsolvArches = map[string][]string{
	"i686":   {"i686", "i586", "i486", "i386"},
	"i586":   {"i586", "i486", "i386"},
	"x86_64": {"x86_64", "i686", "i586", "i486", "i386"},
}

// convert turns a case into a resolver problem, or says why it cannot:
// the resolver's model is plain install and erase jobs on an empty or an
// installed system, with default or no weak dependencies.
func (c *lsCase) convert() (*lsProblem, string) {
	if len(c.other) > 0 {
		return nil, "uses " + strings.Join(c.other, ", ")
	}
	if len(c.poolflags) > 0 {
		return nil, "poolflags " + strings.Join(c.poolflags, " ")
	}
	for _, f := range c.features {
		if f != "complex_deps" {
			return nil, "feature " + f
		}
	}
	if c.disttype != "" && c.disttype != "rpm" && c.disttype != "*" {
		return nil, "disttype " + c.disttype
	}
	pr := &lsProblem{ids: map[*rpmrepo.Package]string{}, pol: resolver.Policy{Priorities: map[string]int{}, InstallOnly: []string{}}}
	if c.arch == "" {
		// Without a system arch libsolv allows every arch and ranks none
		// above another: expressible when at most one real arch is used.
		real := map[string]bool{}
		for _, r := range c.repos {
			for _, p := range r.pkgs {
				if p.Arch != "noarch" && p.Arch != "src" && p.Arch != "nosrc" {
					real[p.Arch] = true
				}
			}
		}
		if len(real) > 1 {
			return nil, "no system arch and several arches (libsolv then ranks no arch above another)"
		}
		for a := range real {
			pr.pol.Arches = []string{a}
		}
		if len(real) == 0 {
			pr.pol.Arches = []string{"x86_64"}
		}
	} else {
		arches, ok := libsolvArches[c.arch]
		if !ok {
			return nil, "system arch " + c.arch
		}
		pr.pol.Arches = arches
	}
	for _, f := range c.solverflags {
		switch f {
		case "ignorerecommended":
			pr.pol.NoWeakDeps = true
		default:
			return nil, "solverflags " + f
		}
	}
	for _, r := range c.repos {
		if r.skip != "" {
			return nil, "repo " + r.name + ": " + r.skip
		}
		if r.subprio != 0 {
			return nil, "repo subpriority"
		}
		// libsolv: higher priority wins; a .repo file: lower wins.
		pr.pol.Priorities[r.name] = -r.prio
		for i, p := range r.pkgs {
			if slices.Contains(c.disabled, r.ids[i]+"@"+r.name) {
				continue
			}
			pr.ids[p] = r.ids[i] + "@" + r.name
			if r.name == c.installed {
				pr.req.Installed = append(pr.req.Installed, p)
			} else {
				pr.avail = append(pr.avail, p)
			}
		}
	}
	if len(c.jobs) == 0 {
		return nil, "no job"
	}
	for _, j := range c.jobs {
		if len(j.flags) > 0 {
			return nil, fmt.Sprintf("job flags [%s]", strings.Join(j.flags, ","))
		}
		arg := strings.Join(j.args, " ")
		switch {
		case j.how == "install" && (j.sel == "name" || j.sel == "provides") && arg != "":
			if j.sel == "provides" {
				for _, p := range pr.avail {
					if p.Name == j.args[0] {
						return nil, "install provides of a name that is also a package name"
					}
				}
			}
			pr.req.Install = append(pr.req.Install, arg)
		case j.how == "install" && j.sel == "pkg" && len(j.args) == 1:
			nevra, _, _ := strings.Cut(arg, "@")
			pr.req.Install = append(pr.req.Install, nevra)
		case j.how == "erase" && (j.sel == "name" || j.sel == "pkg") && len(j.args) == 1:
			nevra, _, _ := strings.Cut(arg, "@")
			pr.req.Erase = append(pr.req.Erase, nevra)
		default:
			return nil, "job " + j.how + " " + j.sel
		}
	}
	return pr, ""
}

// answer runs the resolver and writes its outcome as libsolv's
// transaction lines ("problem" when unsolvable).
func (pr *lsProblem) answer() ([]string, error) {
	plan, err := resolver.Solve(context.Background(), pr.avail, pr.req, pr.pol)
	if errors.Is(err, resolver.ErrUnsolvable) {
		return []string{"problem"}, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range plan.Erase {
		out = append(out, "erase "+pr.ids[p])
	}
	for _, p := range plan.Packages {
		out = append(out, "install "+pr.ids[p])
	}
	sort.Strings(out)
	return out, nil
}

// testsolvResults runs "testsolv -r -r" on the file with every result
// type set to transaction,problems, so that libsolv recomputes the
// answer this test compares with, whatever the file's result shows.
func testsolvResults(t *testing.T, path string, data []byte) map[int][]string {
	dir := t.TempDir()
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".t") {
			b, err := os.ReadFile(filepath.Join(filepath.Dir(path), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "result" {
			f[1] = "transaction,problems"
			lines[i] = strings.Join(f, " ")
		}
	}
	tc := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(tc, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("testsolv", "-r", "-r", tc).Output()
	if err != nil {
		t.Logf("%s: testsolv: %v", path, err)
		return nil
	}
	return splitTestsolv(out)
}

// TestLibsolvTestcases runs libsolv's own test suite through the
// resolver: every case it can express is solved and compared with the
// answer libsolv's testsolv computes for it now (and the file's expected
// result is compared with that too, so an expectation this libsolv does
// not share is reported). Cases that cannot be expressed are listed in
// libsolvSkipped with the reason; cases where the resolver answers
// differently on purpose are listed in libsolvDiffers.
func TestLibsolvTestcases(t *testing.T) {
	testrepo.NeedTools(t, "testsolv")
	var files []string
	err := filepath.WalkDir(libsolvDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".t") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 100 {
		t.Fatalf("found %d testcase files in %s, want the whole suite", len(files), libsolvDir)
	}
	var agree, differ, skipped, total int
	seenSkip, seenDiffer := map[string]bool{}, map[string]bool{}
	var newSkips []string
	for _, path := range files {
		rel, _ := filepath.Rel(libsolvDir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cases, err := parseTestcase(rel, data, func(name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(filepath.Dir(path), name))
		})
		if err != nil {
			t.Errorf("reading testcase: %v", err)
			continue
		}
		lib := testsolvResults(t, path, data)
		for _, c := range cases {
			total++
			name := fmt.Sprintf("%s#%d", rel, c.n)
			libRes, ok := lib[c.n]
			if lib == nil {
				ok = false
			}
			if !ok && lib != nil {
				libRes, ok = nil, true // testsolv prints nothing for an empty result
			}
			if ok && c.hasResult {
				checkFileExpectation(t, name, c, libRes)
			}
			pr, why := c.convert()
			if why == "" && !ok {
				why = "testsolv cannot run it"
			}
			if why != "" {
				skipped++
				seenSkip[name] = true
				if want, listed := libsolvSkipped[name]; !listed || want != why {
					newSkips = append(newSkips, fmt.Sprintf("\t%q: %q,", name, why))
				}
				continue
			}
			want := lsTransaction(libRes)
			if st, ok := libsolvStale[name]; ok && st.trustFile {
				want = lsTransaction(c.result)
				sort.Strings(want)
			}
			got, err := pr.answer()
			if err != nil {
				t.Errorf("%s (line %d): %v", name, c.line, err)
				continue
			}
			reason, listed := libsolvDiffers[name]
			if slices.Equal(got, want) {
				agree++
				if listed {
					t.Errorf("%s is listed as differing (%s) but agrees with libsolv now: drop it from libsolvDiffers", name, reason)
				}
				continue
			}
			differ++
			seenDiffer[name] = true
			if !listed {
				t.Errorf("%s (line %d): the resolver differs from libsolv:\n  libsolv:  %s\n  resolver: %s", name, c.line, strings.Join(want, "; "), strings.Join(got, "; "))
			} else {
				t.Logf("%s differs on purpose: %s\n  libsolv:  %s\n  resolver: %s", name, reason, strings.Join(want, "; "), strings.Join(got, "; "))
			}
		}
	}
	if len(newSkips) > 0 {
		t.Errorf("cases skipped without (or with another) reason in libsolvSkipped:\n%s", strings.Join(newSkips, "\n"))
	}
	for name := range libsolvSkipped {
		if !seenSkip[name] {
			t.Errorf("%s is listed in libsolvSkipped but was not skipped", name)
		}
	}
	for name := range libsolvDiffers {
		if !seenDiffer[name] && !t.Failed() {
			t.Errorf("%s is listed in libsolvDiffers but was not compared", name)
		}
	}
	t.Logf("libsolv testcases: %d cases in %d files: %d agree, %d differ on purpose, %d skipped", total, len(files), agree, differ, skipped)
}

// checkFileExpectation compares the result the file expects with the one
// testsolv computes now, for the parts the file's result types cover.
func checkFileExpectation(t *testing.T, name string, c *lsCase, libRes []string) {
	types := strings.Split(c.resultTypes, ",")
	if !slices.Contains(types, "transaction") && !slices.Contains(types, "problems") {
		return
	}
	filter := func(l []string) []string {
		tr := lsTransaction(l)
		var out []string
		for _, x := range tr {
			if x == "problem" && slices.Contains(types, "problems") || x != "problem" && slices.Contains(types, "transaction") {
				out = append(out, x)
			}
		}
		sort.Strings(out)
		return out
	}
	file, now := filter(c.result), filter(libRes)
	if slices.Equal(file, now) {
		return
	}
	if st, ok := libsolvStale[name]; ok {
		t.Logf("%s: the file expects %q, testsolv %q: %s", name, file, now, st.why)
		return
	}
	t.Errorf("%s: the file's expected result differs from what testsolv computes now (unlisted in libsolvStale):\n  file:     %s\n  testsolv: %s", name, strings.Join(file, "; "), strings.Join(now, "; "))
}

// libsolvStale lists the cases whose expected result the installed
// testsolv (Debian 12's libsolv 0.7.23) does not reproduce: the files are
// libsolv 0.7.39's, and these test later fixes. trustFile says the file's
// answer is the one to compare with; otherwise testsolv's is.
var libsolvStale = map[string]struct {
	trustFile bool
	why       string
}{
	"cplxdeps/ifelse_rec.t#1": {true, "the test of libsolv 0.7.25's fix 1edb35a3 (the condition of an if-else counts as both a positive and a negative literal): 0.7.23 installs xorg-x11-server-Xorg, whose Requires nothing provides, for the Recommends' condition; the file's answer is the fixed one"},
	"focus/new1.t#1":          {false, "solverflags focusnew came with libsolv 0.7.30 (8151b3a8); skipped here"},
	"forcebest/forcebest_multiarch_implicitobsoleteusescolors.t#1": {false, "the regression test of libsolv 0.7.36's colour filtering of update targets (24a7a795); skipped here"},
	"multiversion/update2.t#1":                                     {false, "the regression test of libsolv 0.7.29's handling of installed packages in three passes (600aa2b9, issue #550); skipped here"},
	"targeted/targeted_color.t#1":                                  {false, "the regression test of libsolv 0.7.33's colour filtering (5c99be44); skipped here"},
}

// libsolvDiffers lists the cases where the resolver's answer differs from
// libsolv's on purpose, with the reason.
var libsolvDiffers = map[string]string{
	"choicerules/choice1.t#1": noUpgrade,
	"choicerules/choice4.t#1": noUpgrade,
	"focus/normal.t#1":        noUpgrade,
}

// noUpgrade: Request.Installed is a staged set that the resolver keeps as
// it is; libsolv (and dnf, on a live system) upgrade an installed package
// when a newer one satisfies the request, the resolver picks another
// provider or reports the problem. TestNoUpgradeAgainstDNF checks dnf's
// side on choice1.
const noUpgrade = "the resolver never upgrades a staged (installed) package; libsolv and dnf upgrade it"

// TestNoUpgradeAgainstDNF is the dnf check behind noUpgrade, on
// choicerules/choice1 built as real packages: with B-1 (P = 1) installed
// and A-2 requiring P = 2 (provided by B-2 and C-2), dnf upgrades B as
// libsolv does, and the resolver, which keeps the staged B-1, takes C-2.
func TestNoUpgradeAgainstDNF(t *testing.T) {
	testrepo.NeedTools(t, "rpm", "dnf")
	specs := []spkg{
		{name: "B", evr: "1-1", arch: "noarch", repo: "inst", prov: []string{"P = 1"}},
		{name: "A", evr: "2-1", arch: "noarch", req: []string{"P = 2"}},
		{name: "B", evr: "2-1", arch: "noarch", prov: []string{"P = 2"}},
		{name: "C", evr: "2-1", arch: "noarch", prov: []string{"P = 2"}},
	}
	repos := buildRepos(t, specs)
	root := t.TempDir()
	rpms, _ := filepath.Glob(filepath.Join(repos["inst"], "*", "B-1-1.noarch.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("built B-1-1: %v", rpms)
	}
	args := append([]string{"--root", root, "-i", "--justdb", "--nodeps", "--noscripts", "--nosignature"}, rpms...)
	if out, err := exec.Command("rpm", args...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i --justdb: %v\n%s", err, out)
	}
	o := newDNFOracle(t, []repoDir{{id: "base", dir: repos["base"]}})
	o.stagedRoot = root
	out := o.run("w0", []string{"A"}).out
	up, _, ok := strings.Cut(out, "Upgrading:")
	if !ok || !strings.Contains(up, "Installing:") || !strings.Contains(out[len(up):], " B ") {
		t.Fatalf("dnf does not upgrade B as libsolv does:\n%s", out)
	}
	inst := loadRepo(t, repos["inst"], "inst")
	avail := loadRepo(t, repos["base"], "base")
	plan, err := resolver.Solve(context.Background(), avail, resolver.Request{Install: []string{"A"}, Installed: inst}, resolver.Policy{Arches: []string{"x86_64"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.NEVRAs(), " "); got != "A-2-1.noarch C-2-1.noarch" {
		t.Errorf("the resolver installs %s, want A-2-1.noarch C-2-1.noarch (B-1 kept)", got)
	}
}
