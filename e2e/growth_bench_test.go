package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// BenchmarkGrowth measures how the cost of a bootstrap build grows with its
// payload: images of 1×, 4× and 16× the test repository's bootstrap
// payload, the larger two with packages of the big repository
// (testdata/mkbigrepo: the host kernel's modules as .ko.zst and Debian's
// shared libraries, about 20 MB installed per package, signed with the test
// key, repo id "bigdata") added to packages.bootstrap. Each size is built,
// in each iteration, by vicroot cold, vicroot warm and VIC's pipeline
// (testdata/vicpipeline.sh), interleaved as in BenchmarkCompare. The
// bigdata repository is in the definition at every size, so that only the
// payload differs.
//
// The payload of each size is measured with rpm on the tree VIC's pipeline
// installed (rpm --root -qa): the installed bytes (the sum of rpm's SIZE)
// and the compressed bytes (the sizes of the installed packages' .rpm
// files). A size's big packages are the shortest prefix of the big
// repository's packages for which the mean of the two multiples of the 1×
// payload reaches the size. Each size reports the medians of wall and CPU
// time and the peak RSS of each way; 4× and 16× also report their growth
// against 1× (time(N×)/time(1×), RSS(N×)/RSS(1×), and payload(N×)/payload(1×));
// a table of all sizes, with the target marked met or missed, follows them.
// Target: vicroot's time and peak RSS grow no faster than the payload.
//
//	go test -run '^$' -bench Growth -benchtime 1x -timeout 60m ./e2e/
func BenchmarkGrowth(b *testing.B) {
	testrepo.NeedRoot(b)
	testrepo.NeedTools(b, "bash", "dnf", "rpm", "python3", "xz", "depmod", "chroot", "cpio", "gzip", "xorriso")
	repo := testrepo.Dir(b)
	start := time.Now()
	big := testrepo.BigDir(b, repo)
	if d := time.Since(start); d > 10*time.Second {
		b.Logf("built the big repository %s in %.0f s", big, d.Seconds())
	}
	g := &growth{repo: repo, big: big, pkgs: testrepo.BigPackages(b, big), tmp: b.TempDir(),
		setups: map[int]*grSetup{}, results: map[int]grResult{}}
	// A copy of the binaries under test: the run takes long enough for a
	// sweep of stale temp dirs elsewhere to catch the shared ones.
	g.bin = filepath.Join(g.tmp, "bin")
	rpCopyTree(b, binDir, filepath.Join(g.bin, "bin"))
	rpRun(b, "cp", "-a", vicrootBin, filepath.Join(g.bin, "vicroot"))
	for _, k := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("x%d", k), func(b *testing.B) { g.bench(b, k) })
	}
	// A benchmark with sub-benchmarks shows its log only when it fails:
	// the table goes to stdout, after the sub-benchmarks' lines.
	fmt.Print(g.table())
}

type growth struct {
	repo, big, tmp string
	bin            string // copies of vicroot and bin/
	pkgs           []testrepo.BigPackage
	setups         map[int]*grSetup
	results        map[int]grResult
}

// grSetup is one size's inputs, made once (a benchmark function runs more
// than once with -benchtime Nx).
type grSetup struct {
	repo, def, warmCache, dnfCache string
	extra                          []string // the big packages added
	payload                        grPayload
}

// grPayload is what rpm says VIC's pipeline installed.
type grPayload struct {
	pkgs           int
	rpm, installed int64
}

// grResult is one size's measurements (seconds, MiB) and, for 4× and 16×,
// their growth against 1×.
type grResult struct {
	payload                     grPayload
	bigPkgsAdded                int
	cold, warm, vic             []bnUsage
	coldISO, vicISO             int64
	loadStart, loadEnd          string
	coldWall, warmWall, vicWall float64
	coldCPU, warmCPU, vicCPU    float64
	coldRSS, warmRSS, vicRSS    float64
	haveBase                    bool
	payloadX, installedX        float64
	coldX, warmX, vicX          float64
	coldCPUX, warmCPUX, vicCPUX float64
	coldRSSX, warmRSSX, vicRSSX float64
}

// setup returns size k's inputs, making them (and 1×'s, whose payload
// the choice of big packages needs) on first use.
func (g *growth) setup(b *testing.B, k int) *grSetup {
	b.Helper()
	if s, ok := g.setups[k]; ok {
		return s
	}
	var extra []string
	if k > 1 {
		base := g.setup(b, 1).payload
		var rpmB, inst int64
		for _, p := range g.pkgs {
			if (float64(base.rpm+rpmB)/float64(base.rpm)+float64(base.installed+inst)/float64(base.installed))/2 >= float64(k) {
				break
			}
			extra = append(extra, p.Name)
			rpmB += p.Size
			inst += p.Installed
		}
		if m := (float64(base.rpm+rpmB)/float64(base.rpm) + float64(base.installed+inst)/float64(base.installed)) / 2; m < float64(k)*0.95 {
			b.Logf("the big repository holds too little for %d×: all %d packages make %.1f×", k, len(g.pkgs), m)
		}
	}
	dir := filepath.Join(g.tmp, fmt.Sprintf("x%d", k))
	s := &grSetup{repo: filepath.Join(dir, "repo"), def: filepath.Join(dir, "testrepo-2.0"), extra: extra,
		warmCache: bnFreshDir(b, dir, "warm-cache"), dnfCache: bnFreshDir(b, dir, "dnfcache")}
	// The repositories VIC's pipeline and vicroot's mirrors read: the
	// test repository's two and the big one.
	bnFreshDir(b, dir, "repo")
	for id, target := range map[string]string{
		"photon":         filepath.Join(g.repo, "photon"),
		"photon-updates": filepath.Join(g.repo, "photon-updates"),
		"bigdata":        filepath.Join(g.big, "bigdata"),
	} {
		if err := os.Symlink(target, filepath.Join(s.repo, id)); err != nil {
			b.Fatal(err)
		}
	}
	rpCopyTree(b, filepath.Join(g.repo, "definition"), s.def)
	f, err := os.OpenFile(filepath.Join(s.def, "photon.repo"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	_, err = f.WriteString("\n[bigdata]\nname=vicroot cost-growth payload\nbaseurl=https://packages.invalid/bigdata/\n" +
		"gpgkey=file:///etc/pki/rpm-gpg/VICROOT-TEST-KEY\ngpgcheck=1\nenabled=1\nskip_if_unavailable=False\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	bnWithBootstrap(b, s.def, strings.Join(extra, " "))
	// Untimed: fill vicroot's warm cache and dnf's, and measure the payload
	// on the tree VIC's pipeline installed.
	bnRun(b, g.build(s, bnFreshDir(b, dir, "out"), s.warmCache))
	work := bnFreshDir(b, dir, "work")
	bnRun(b, g.vic(s, work, filepath.Join(dir, "vic.iso")))
	s.payload = g.payload(b, filepath.Join(work, "rootfs"), s.repo)
	os.RemoveAll(work)
	g.setups[k] = s
	return s
}

// build is bnBuildCmd with the bigdata mirror, running the copy of the
// binaries in the benchmark's temp dir.
func (g *growth) build(s *grSetup, out, cache string) *exec.Cmd {
	c := bnBuildCmd(s.repo, s.def, out, cache)
	c.Path = filepath.Join(g.bin, "vicroot")
	for i, a := range c.Args {
		if a == binDir {
			c.Args[i] = filepath.Join(g.bin, "bin")
		}
	}
	c.Args = append(c.Args, "--mirror", "bigdata=file://"+filepath.Join(s.repo, "bigdata")+"/")
	return c
}

func (g *growth) vic(s *grSetup, work, iso string) *exec.Cmd {
	script := filepath.Join(testrepo.ModuleRoot(), "testdata", "vicpipeline.sh")
	return exec.Command("bash", script, s.def, s.repo, work, iso, s.dnfCache)
}

// payload asks rpm which packages the tree at root holds and their
// installed sizes, and finds each one's .rpm file in the repositories.
func (g *growth) payload(b *testing.B, root, repo string) grPayload {
	b.Helper()
	out, err := exec.Command("rpm", "--root", root, "-qa", "--qf", `%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\t%{SIZE}\n`).Output()
	if err != nil {
		b.Fatalf("rpm --root %s -qa: %v", root, err)
	}
	var p grPayload
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		nevra, size, ok := strings.Cut(line, "\t")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil {
			b.Fatalf("rpm -qa: bad line %q", line)
		}
		if strings.HasPrefix(nevra, "gpg-pubkey-") {
			continue
		}
		var fi os.FileInfo
		for _, id := range []string{"photon-updates", "photon", "bigdata"} {
			if fi, err = os.Stat(filepath.Join(repo, id, nevra+".rpm")); err == nil {
				break
			}
		}
		if fi == nil {
			b.Fatalf("no %s.rpm in %s's repositories", nevra, repo)
		}
		p.pkgs++
		p.installed += n
		p.rpm += fi.Size()
	}
	if p.pkgs == 0 {
		b.Fatalf("rpm --root %s -qa lists no packages", root)
	}
	return p
}

func (g *growth) bench(b *testing.B, k int) {
	s := g.setup(b, k)
	dir := filepath.Join(g.tmp, fmt.Sprintf("x%d", k))
	r := grResult{payload: s.payload, loadStart: grLoad(), bigPkgsAdded: len(s.extra)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := g.build(s, bnFreshDir(b, dir, "out"), bnFreshDir(b, dir, "cold-cache"))
		b.StartTimer()
		r.cold = append(r.cold, bnRun(b, c))
		b.StopTimer()
		c = g.build(s, bnFreshDir(b, dir, "out"), s.warmCache)
		b.StartTimer()
		r.warm = append(r.warm, bnRun(b, c))
		b.StopTimer()
		c = g.vic(s, bnFreshDir(b, dir, "work"), filepath.Join(dir, "vic.iso"))
		b.StartTimer()
		r.vic = append(r.vic, bnRun(b, c))
	}
	b.StopTimer()
	r.loadEnd = grLoad()
	os.RemoveAll(filepath.Join(dir, "cold-cache"))
	os.RemoveAll(filepath.Join(dir, "work"))
	if isos, _ := filepath.Glob(filepath.Join(dir, "out", "*.iso")); len(isos) == 1 {
		if fi, err := os.Stat(isos[0]); err == nil {
			r.coldISO = fi.Size()
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "vic.iso")); err == nil {
		r.vicISO = fi.Size()
	}
	wall := func(u bnUsage) time.Duration { return u.wall }
	cpu := func(u bnUsage) time.Duration { return u.cpu }
	r.coldWall, r.warmWall, r.vicWall = grMedian(r.cold, wall), grMedian(r.warm, wall), grMedian(r.vic, wall)
	r.coldCPU, r.warmCPU, r.vicCPU = grMedian(r.cold, cpu), grMedian(r.warm, cpu), grMedian(r.vic, cpu)
	r.coldRSS, r.warmRSS, r.vicRSS = grPeak(r.cold), grPeak(r.warm), grPeak(r.vic)

	metrics := []grMetric{
		{float64(s.payload.rpm) / 1e6, "rpm-MB"}, {float64(s.payload.installed) / 1e6, "installed-MB"},
		{r.coldWall, "cold-s"}, {r.warmWall, "warm-s"}, {r.vicWall, "vic-s"},
		{r.coldCPU, "cold-cpu-s"}, {r.warmCPU, "warm-cpu-s"}, {r.vicCPU, "vic-cpu-s"},
		{r.coldRSS, "cold-RSS-MiB"}, {r.warmRSS, "warm-RSS-MiB"}, {r.vicRSS, "vic-RSS-MiB"},
	}
	if base, ok := g.results[1]; ok && k > 1 {
		r.haveBase = true
		r.payloadX = float64(r.payload.rpm) / float64(base.payload.rpm)
		r.installedX = float64(r.payload.installed) / float64(base.payload.installed)
		r.coldX, r.warmX, r.vicX = r.coldWall/base.coldWall, r.warmWall/base.warmWall, r.vicWall/base.vicWall
		r.coldCPUX, r.warmCPUX, r.vicCPUX = r.coldCPU/base.coldCPU, r.warmCPU/base.warmCPU, r.vicCPU/base.vicCPU
		r.coldRSSX, r.warmRSSX, r.vicRSSX = r.coldRSS/base.coldRSS, r.warmRSS/base.warmRSS, r.vicRSS/base.vicRSS
		metrics = append(metrics, []grMetric{
			{r.payloadX, "rpm-growth"}, {r.installedX, "installed-growth"},
			{r.coldX, "cold-growth"}, {r.warmX, "warm-growth"}, {r.vicX, "vic-growth"},
			{r.coldCPUX, "cold-cpu-growth"}, {r.warmCPUX, "warm-cpu-growth"},
			{r.coldRSSX, "cold-RSS-growth"}, {r.warmRSSX, "warm-RSS-growth"},
		}...)
	}
	for _, m := range metrics {
		b.ReportMetric(m.v, m.unit)
	}
	g.results[k] = r
}

// table shows every size side by side, with the growth against 1× and
// whether vicroot met the target (growth no faster than the payload's).
func (g *growth) table() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "cost growth, medians (wall s / CPU s / peak RSS MiB):\n")
	fmt.Fprintf(&sb, "%-4s %5s %9s %9s %8s %8s | %-19s | %-19s | %-19s | load\n", "size", "pkgs", "rpm-MB", "inst-MB", "iso-MiB", "vic-iso", "vicroot cold", "vicroot warm", "VIC's way")
	for _, k := range []int{1, 4, 16} {
		r, ok := g.results[k]
		if !ok {
			continue
		}
		fmt.Fprintf(&sb, "%-4s %5d %9.1f %9.1f %8.1f %8.1f | %5.2f %5.2f %6.0f | %5.2f %5.2f %6.0f | %5.2f %5.2f %6.0f | %s .. %s\n",
			fmt.Sprintf("%d×", k), r.payload.pkgs, float64(r.payload.rpm)/1e6, float64(r.payload.installed)/1e6,
			float64(r.coldISO)/(1<<20), float64(r.vicISO)/(1<<20),
			r.coldWall, r.coldCPU, r.coldRSS, r.warmWall, r.warmCPU, r.warmRSS, r.vicWall, r.vicCPU, r.vicRSS,
			r.loadStart, r.loadEnd)
	}
	for _, k := range []int{4, 16} {
		r, ok := g.results[k]
		if !ok || !r.haveBase {
			continue
		}
		fmt.Fprintf(&sb, "growth %d×/1× (+%d big packages): payload rpm %.2f installed %.2f | wall cold %.2f warm %.2f VIC %.2f | CPU cold %.2f warm %.2f VIC %.2f | peak RSS cold %.2f warm %.2f VIC %.2f\n",
			k, r.bigPkgsAdded, r.payloadX, r.installedX, r.coldX, r.warmX, r.vicX, r.coldCPUX, r.warmCPUX, r.vicCPUX, r.coldRSSX, r.warmRSSX, r.vicRSSX)
		p := min(r.payloadX, r.installedX)
		verdict := func(name string, v float64) {
			state := "met"
			if v > p {
				state = "MISSED"
			}
			fmt.Fprintf(&sb, "  target %s growth %.2f ≤ payload growth %.2f: %s\n", name, v, p, state)
		}
		verdict("vicroot cold time (CPU)", r.coldCPUX)
		verdict("vicroot warm time (CPU)", r.warmCPUX)
		verdict("vicroot cold peak RSS", r.coldRSSX)
		verdict("vicroot warm peak RSS", r.warmRSSX)
	}
	return sb.String()
}

type grMetric struct {
	v    float64
	unit string
}

func grMedian(us []bnUsage, f func(bnUsage) time.Duration) float64 {
	v := make([]float64, len(us))
	for i, u := range us {
		v[i] = f(u).Seconds()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func grPeak(us []bnUsage) float64 {
	var rss int64
	for _, u := range us {
		rss = max(rss, u.maxRSSKiB)
	}
	return float64(rss) / 1024
}

// grLoad is the 1-minute load average, for the log.
func grLoad() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}
