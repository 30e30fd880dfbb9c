package resolver_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// spkg describes one package to build with rpmbuild for a scenario.
type spkg struct {
	name, evr, arch string // evr: [epoch:]version-release; arch: x86_64, i686 or noarch
	repo            string // repository id; "" means "base"
	req, prov, conf []string
	obs, rec, supp  []string
	files           []string // paths the package owns
}

// buildRepos builds the packages with rpmbuild and one createrepo_c
// repository per repo id, returning id -> directory.
func buildRepos(t *testing.T, pkgs []spkg) map[string]string {
	t.Helper()
	testrepo.NeedTools(t, "rpmbuild", "createrepo_c")
	top := t.TempDir()
	repos := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, len(pkgs))
	sem := make(chan struct{}, 4)
	for i, p := range pkgs {
		repo := p.repo
		if repo == "" {
			repo = "base"
		}
		rdir := filepath.Join(top, "repos", repo)
		if _, ok := repos[repo]; !ok {
			repos[repo] = rdir
			if err := os.MkdirAll(rdir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		wg.Add(1)
		go func(i int, p spkg, rdir string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- buildRPM(filepath.Join(top, fmt.Sprintf("b%d", i)), p, rdir)
		}(i, p, rdir)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range repos {
		if out, err := exec.Command("createrepo_c", "-q", d).CombinedOutput(); err != nil {
			t.Fatalf("createrepo_c %s: %v\n%s", d, err, out)
		}
	}
	return repos
}

func buildRPM(dir string, p spkg, out string) error {
	var epoch string
	evr := p.evr
	if i := strings.IndexByte(evr, ':'); i >= 0 {
		epoch, evr = evr[:i], evr[i+1:]
	}
	ver, rel, _ := strings.Cut(evr, "-")
	var b strings.Builder
	fmt.Fprintf(&b, "Name: %s\nVersion: %s\nRelease: %s\nSummary: test\nLicense: MIT\n", p.name, ver, rel)
	if epoch != "" {
		fmt.Fprintf(&b, "Epoch: %s\n", epoch)
	}
	if p.arch == "noarch" {
		b.WriteString("BuildArch: noarch\n")
	}
	for _, l := range []struct {
		tag  string
		deps []string
	}{{"Requires", p.req}, {"Provides", p.prov}, {"Conflicts", p.conf}, {"Obsoletes", p.obs}, {"Recommends", p.rec}, {"Supplements", p.supp}} {
		for _, d := range l.deps {
			fmt.Fprintf(&b, "%s: %s\n", l.tag, d)
		}
	}
	b.WriteString("%description\ntest\n%install\n")
	for _, f := range p.files {
		fmt.Fprintf(&b, "mkdir -p %%{buildroot}%s && echo %s > %%{buildroot}%s\n", filepath.Dir(f), p.name, f)
	}
	b.WriteString("%files\n")
	for _, f := range p.files {
		b.WriteString(f + "\n")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	spec := filepath.Join(dir, p.name+".spec")
	if err := os.WriteFile(spec, []byte(b.String()), 0o644); err != nil {
		return err
	}
	arch := p.arch
	if arch == "noarch" {
		arch = "x86_64"
	}
	cmd := exec.Command("rpmbuild", "--quiet", "-bb", "--target", arch,
		"--define", "_topdir "+dir, "--define", "_rpmdir "+out,
		"--define", "_build_id_links none", "--define", "__os_install_post %{nil}",
		"--define", "_binary_payload w2.xzdio", spec)
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rpmbuild %s: %v\n%s\n%s", p.name, err, o, b.String())
	}
	return nil
}
