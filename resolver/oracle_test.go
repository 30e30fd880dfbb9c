package resolver_test

import (
	"compress/gzip"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// repoDir is one yum repository on disk for the dnf oracle.
type repoDir struct {
	id, dir string
	gpgkey  string // armored key file; empty means gpgcheck=0
	prio    int    // 0: dnf's default (99)
}

// dnfOracle runs the real dnf against repositories and caches its answers
// per request within one test run.
type dnfOracle struct {
	repos []repoDir
	root  string
	mu    sync.Mutex
	cache map[string]dnfAnswer
	extra []string // extra --setopt arguments
	// stagedRoot, when set, is an installroot holding a staged rpm
	// database; requests then install on top of it.
	stagedRoot string
}

type dnfAnswer struct {
	nevras []string // sorted; nil when dnf found no solution
	ok     bool
	out    string
}

func newDNFOracle(t testing.TB, repos []repoDir, extra ...string) *dnfOracle {
	t.Helper()
	testrepo.NeedTools(t, "dnf")
	root := t.TempDir()
	rd := filepath.Join(root, "repos.d")
	for _, d := range []string{rd, filepath.Join(root, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range repos {
		var b strings.Builder
		fmt.Fprintf(&b, "[%s]\nname=%s\nbaseurl=file://%s\nenabled=1\n", r.id, r.id, r.dir)
		if r.gpgkey != "" {
			fmt.Fprintf(&b, "gpgcheck=1\nrepo_gpgcheck=0\ngpgkey=file://%s\n", r.gpgkey)
		} else {
			b.WriteString("gpgcheck=0\n")
		}
		if r.prio != 0 {
			fmt.Fprintf(&b, "priority=%d\n", r.prio)
		}
		if err := os.WriteFile(filepath.Join(rd, r.id+".repo"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &dnfOracle{repos: repos, root: root, cache: map[string]dnfAnswer{}, extra: extra}
}

// prefetch asks dnf about many requests at once, a few dnf processes in
// parallel (each with its own root and cache, as dnf locks them), so that
// the subtests then read cached answers.
func (o *dnfOracle) prefetch(reqs [][]string) {
	const workers = 3
	ch := make(chan []string)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for rq := range ch {
				a := o.run(fmt.Sprintf("w%d", w), rq)
				o.mu.Lock()
				o.cache[o.key(rq, nil)] = a
				o.mu.Unlock()
			}
		}(w)
	}
	for _, rq := range reqs {
		ch <- rq
	}
	close(ch)
	wg.Wait()
}

func (o *dnfOracle) key(specs, extra []string) string {
	return strings.Join(specs, " ") + "|" + strings.Join(extra, " ") + "|" + o.stagedRoot
}

// install asks dnf what "dnf install --assumeno specs..." would install
// into an empty root (or the staged one).
func (o *dnfOracle) install(t *testing.T, specs []string, extra ...string) dnfAnswer {
	t.Helper()
	key := o.key(specs, extra)
	o.mu.Lock()
	defer o.mu.Unlock()
	if a, ok := o.cache[key]; ok {
		return a
	}
	a := o.run("w0", specs, extra...)
	o.cache[key] = a
	return a
}

// run runs one dnf; worker names its private root and cache.
func (o *dnfOracle) run(worker string, specs []string, extra ...string) dnfAnswer {
	inst := filepath.Join(o.root, worker, "root")
	if o.stagedRoot != "" {
		inst = o.stagedRoot
	}
	args := []string{
		"--installroot=" + inst,
		"--setopt=reposdir=" + filepath.Join(o.root, "repos.d"),
		"--setopt=cachedir=" + filepath.Join(o.root, worker, "cache"),
		"--setopt=logdir=" + filepath.Join(o.root, "log"),
		"--setopt=persistdir=" + filepath.Join(o.root, worker, "persist"),
		"--releasever=2.0", "--assumeno",
		"--setopt=skip_if_unavailable=False", "--setopt=keepcache=True",
		"--setopt=install_weak_deps=True", "--setopt=metadata_expire=-1",
	}
	args = append(args, o.extra...)
	args = append(args, extra...)
	args = append(args, "install")
	args = append(args, specs...)
	cmd := exec.Command("dnf", args...)
	cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C", "COLUMNS=200")
	out, _ := cmd.CombinedOutput()
	return parseDNF(string(out))
}

// parseDNF reads dnf's transaction table. A package row is
// " name arch version repo size unit"; a long name is wrapped onto its own
// line with the rest on the next.
func parseDNF(out string) dnfAnswer {
	a := dnfAnswer{out: out}
	if !strings.Contains(out, "Dependencies resolved.") {
		return a
	}
	a.ok = true
	if strings.Contains(out, "Nothing to do.") {
		a.nevras = []string{}
		return a
	}
	lines := strings.Split(out, "\n")
	in := false
	seps := 0
	skipping := false
	var pending []string
	for _, l := range lines {
		if strings.HasPrefix(l, "=====") {
			seps++
			if seps == 2 {
				in = true
			}
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(l, "Transaction Summary") {
			break
		}
		if l == "" || !strings.HasPrefix(l, " ") {
			switch {
			case strings.HasPrefix(l, "Installing"):
				skipping = false
			case strings.HasPrefix(l, "Skipping"):
				// best=False (dnf's default): the best version of a
				// requested name would not fit, an older one is installed
				// and the newer one listed here as skipped.
				skipping = true
			case strings.HasPrefix(l, "Removing"), strings.HasPrefix(l, "Upgrading"), strings.HasPrefix(l, "Downgrading"):
				// Anything but installs means dnf did something we do not model.
				a.ok = false
				return a
			}
			continue
		}
		if skipping {
			continue
		}
		pending = append(pending, strings.Fields(l)...)
		if len(pending) >= 5 {
			name, arch, evr := pending[0], pending[1], pending[2]
			a.nevras = append(a.nevras, name+"-"+evr+"."+arch)
			pending = nil
		}
	}
	sort.Strings(a.nevras)
	return a
}

// loadRepo reads a createrepo_c repository's primary.xml and tags the packages with the repository id.
func loadRepo(t testing.TB, dir, id string) []*rpmrepo.Package {
	t.Helper()
	f := openRepodata(t, dir, "primary")
	defer f.Close()
	var pkgs []*rpmrepo.Package
	err := rpmrepo.ParsePrimary(f, id+" primary.xml", func(p *rpmrepo.Package) error {
		p.Repo = id
		pkgs = append(pkgs, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// openRepodata opens the decompressed stream of one repomd.xml record
// (kind "primary" or "filelists"). A test-only reader: rpmrepo's repomd
// support is being written by another engineer at the same time.
func openRepodata(t testing.TB, dir, kind string) io.ReadCloser {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Data []struct {
			Type     string `xml:"type,attr"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		} `xml:"data"`
	}
	if err := xml.Unmarshal(data, &md); err != nil {
		t.Fatalf("%s repomd.xml: %v", dir, err)
	}
	href := ""
	for _, d := range md.Data {
		if d.Type == kind {
			href = d.Location.Href
		}
	}
	if href == "" {
		t.Fatalf("%s: repomd.xml has no %s record", dir, kind)
	}
	path := filepath.Join(dir, filepath.FromSlash(href))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader
	switch {
	case strings.HasSuffix(href, ".gz"):
		r, err = gzip.NewReader(f)
	case strings.HasSuffix(href, ".xz"):
		r, err = xz.NewReader(f)
	case strings.HasSuffix(href, ".zst"):
		var z *zstd.Decoder
		z, err = zstd.NewReader(f)
		r = z
	default:
		r = f
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}
}

// filelistsLoader is a test-only stand-in for rpmrepo's filelists reader:
// it returns a Policy.LoadFiles that completes Files from
// repodata/*filelists.xml.gz of each repository, matching packages by
// checksum (pkgid).
func filelistsLoader(t testing.TB, dirs map[string]string, pkgs []*rpmrepo.Package) func(context.Context) error {
	return func(ctx context.Context) error {
		byID := map[string]*rpmrepo.Package{}
		for _, p := range pkgs {
			byID[p.Repo+"/"+p.Checksum.Value] = p
		}
		ids := make([]string, 0, len(dirs))
		for id := range dirs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			r := openRepodata(t, dirs[id], "filelists")
			d := xml.NewDecoder(r)
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					r.Close()
					return err
				}
				se, ok := tok.(xml.StartElement)
				if !ok || se.Name.Local != "package" {
					continue
				}
				var fp struct {
					PkgID string   `xml:"pkgid,attr"`
					Files []string `xml:"file"`
				}
				if err := d.DecodeElement(&fp, &se); err != nil {
					r.Close()
					return err
				}
				if p := byID[id+"/"+fp.PkgID]; p != nil {
					p.Files = fp.Files
					p.FilesComplete = true
				}
			}
			r.Close()
		}
		return nil
	}
}

func nevras(pl *resolver.Plan) []string { return pl.NEVRAs() }
