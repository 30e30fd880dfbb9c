package rpmrepo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

func noGPG(id string) *rpmrepo.RepoConfig {
	return &rpmrepo.RepoConfig{ID: id, Enabled: true, Priority: 99, Cost: 1000, BaseURLs: []string{"http://unused.invalid/"}}
}

// rpmQuery runs rpm -qp on files, the oracle for names and file lists.
func rpmQuery(t *testing.T, args ...string) []string {
	t.Helper()
	out := run(t, "rpm", append([]string{"-qp", "--nosignature", "--nodigest"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	return lines
}

// recompress replaces the primary and filelists records of a createrepo_c
// (xz) repository by the given compression: "zst" (zstd CLI) or "" (plain),
// rewriting their checksum, size and location in repomd.xml.
func recompress(t *testing.T, dir, ext string) {
	t.Helper()
	mdPath := filepath.Join(dir, "repodata/repomd.xml")
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, kind := range []string{"primary", "filelists"} {
		re := regexp.MustCompile(`(?s)<data type="` + kind + `">\s*<checksum type="sha256">([0-9a-f]+)</checksum>.*?<location href="([^"]+)"/>.*?<size>(\d+)</size>`)
		m := re.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no %s record in %s", kind, s)
		}
		plain, err := exec.Command("xz", "-dc", filepath.Join(dir, m[2])).Output()
		if err != nil {
			t.Fatal(err)
		}
		data := plain
		if ext == "zst" {
			c := exec.Command("zstd", "-q", "-c")
			c.Stdin = strings.NewReader(string(plain))
			if data, err = c.Output(); err != nil {
				t.Fatal(err)
			}
		}
		sum := sha256.Sum256(data)
		name := "repodata/" + hex.EncodeToString(sum[:]) + "-" + kind + ".xml"
		if ext != "" {
			name += "." + ext
		}
		writeFile(t, filepath.Join(dir, name), data)
		blk := m[0]
		nb := strings.Replace(blk, m[1], hex.EncodeToString(sum[:]), 1)
		nb = strings.Replace(nb, m[2], name, 1)
		nb = strings.Replace(nb, "<size>"+m[3]+"</size>", fmt.Sprintf("<size>%d</size>", len(data)), 1)
		s = strings.Replace(s, blk, nb, 1)
	}
	writeFile(t, mdPath, []byte(s))
}

// TestOpenCompressions builds a repository from the two createrepo_c test
// packages with real createrepo_c in every compression yum uses, opens it
// over file://, and compares packages and (lazily loaded) file lists with
// rpm -qp. Then it fetches both packages into the cache.
func TestOpenCompressions(t *testing.T) {
	testrepo.NeedTools(t, "createrepo_c", "rpm", "xz", "zstd")
	fx := testrepo.Fixtures(t)
	pkgs, _ := filepath.Glob(filepath.Join(fx, "createrepo_c/packages/*.rpm"))
	wantNEVRA := rpmQuery(t, append([]string{"--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n"}, pkgs...)...)
	wantFiles := map[string][]string{}
	for _, p := range pkgs {
		n := rpmQuery(t, "--qf", "%{NAME}\n", p)[0]
		wantFiles[n] = rpmQuery(t, "-l", p)
	}
	for _, tc := range []struct{ name, compress, ext string }{
		{"gz", "gz", ""}, {"xz", "xz", ""}, {"bz2", "bz2", ""}, {"zst", "xz", "zst"}, {"plain", "xz", "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range pkgs {
				b, _ := os.ReadFile(p)
				writeFile(t, filepath.Join(dir, filepath.Base(p)), b)
			}
			run(t, "createrepo_c", "--quiet", "--no-database", "--general-compress-type", tc.compress, dir)
			switch tc.ext {
			case "zst":
				recompress(t, dir, "zst")
			case "plain":
				recompress(t, dir, "")
			}
			cache := &rpmrepo.Cache{Dir: t.TempDir()}
			r, err := rpmrepo.Open(context.Background(), noGPG("t"), rpmrepo.Options{Cache: cache, Mirror: "file://" + dir})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range r.Packages() {
				got = append(got, p.NEVRA())
				if p.Repo != "t" || p.FilesComplete {
					t.Errorf("%s: repo %q, FilesComplete %v before LoadFilelists", p, p.Repo, p.FilesComplete)
				}
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(wantNEVRA, " ") {
				t.Errorf("packages %v, want %v (rpm -qp)", got, wantNEVRA)
			}
			if err := r.LoadFilelists(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Packages() {
				files := append([]string(nil), p.Files...)
				sort.Strings(files)
				if !p.FilesComplete || strings.Join(files, "\n") != strings.Join(wantFiles[p.Name], "\n") {
					t.Errorf("%s files %v, want %v (rpm -qlp)", p, files, wantFiles[p.Name])
				}
			}
			fetched, err := r.Fetch(context.Background(), r.Packages())
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fetched {
				if !strings.HasPrefix(f.Path, cache.Dir) || f.Verification == nil {
					t.Errorf("%s fetched to %s", f.Package, f.Path)
				}
			}
			// Offline, from the same cache: everything is there.
			r2, err := rpmrepo.Open(context.Background(), noGPG("t"), rpmrepo.Options{Cache: cache, Mirror: "file://" + dir, Offline: true})
			if err != nil {
				t.Fatalf("offline: %v", err)
			}
			if _, err := r2.Fetch(context.Background(), r2.Packages()); err != nil {
				t.Fatalf("offline fetch: %v", err)
			}
		})
	}
}

// TestOpenCreaterepoFixtures opens createrepo_c's own test repositories.
func TestOpenCreaterepoFixtures(t *testing.T) {
	fx := filepath.Join(testrepo.Fixtures(t), "createrepo_c")
	for _, tc := range []struct {
		repo string
		want []string
		err  error
	}{
		{"repo_00", nil, nil},
		{"repo_01", nil, rpmrepo.ErrChecksum},
		{"repo_02", []string{"fake_bash-1.1.1-1.x86_64", "super_kernel-6.0.1-2.x86_64"}, nil},
		{"repo_03", nil, nil},
		{"repo_04", []string{"fake_bash-1.1.1-1.x86_64", "super_kernel-6.0.1-2.x86_64"}, nil},
		{"repo_with_additional_metadata", nil, nil},
	} {
		t.Run(tc.repo, func(t *testing.T) {
			cache := &rpmrepo.Cache{Dir: t.TempDir()}
			r, err := rpmrepo.Open(context.Background(), noGPG(tc.repo), rpmrepo.Options{Cache: cache, Mirror: "file://" + filepath.Join(fx, tc.repo)})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				t.Logf("%v", err)
				// Nothing unverified entered the cache.
				var files []string
				filepath.Walk(cache.Dir, func(p string, fi os.FileInfo, err error) error {
					if err == nil && !fi.IsDir() && !strings.Contains(p, "repomd") {
						files = append(files, p)
					}
					return nil
				})
				if len(files) > 0 {
					t.Errorf("cache holds %v after a checksum mismatch", files)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range r.Packages() {
				got = append(got, p.NEVRA())
			}
			sort.Strings(got)
			if tc.want != nil && strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("packages %v, want %v", got, tc.want)
			}
			if err := r.LoadFilelists(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpenZchunkOnly: a repository whose repomd offers primary only as
// zchunk gets a clear error.
func TestOpenZchunkOnly(t *testing.T) {
	fx := filepath.Join(testrepo.Fixtures(t), "createrepo_c/repo_00")
	dir := t.TempDir()
	md, err := os.ReadFile(filepath.Join(fx, "repodata/repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?s)<data type="primary">.*?</data>`).ReplaceAllString(string(md), "")
	os.MkdirAll(filepath.Join(dir, "repodata"), 0o755)
	writeFile(t, filepath.Join(dir, "repodata/repomd.xml"), []byte(s))
	_, err = rpmrepo.Open(context.Background(), noGPG("z"), rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, Mirror: "file://" + dir})
	if !errors.Is(err, rpmrepo.ErrZchunk) {
		t.Fatalf("error %v, want ErrZchunk", err)
	}
}

// TestExcludeInclude: exclude and includepkgs filter by name or NEVRA glob.
func TestExcludeInclude(t *testing.T) {
	dir, _ := smallRepo(t)
	for _, tc := range []struct {
		exclude, include []string
		want             string
	}{
		{nil, nil, "fake_bash super_kernel"},
		{[]string{"fake_*"}, nil, "super_kernel"},
		{nil, []string{"fake_bash"}, "fake_bash"},
		{[]string{"super_kernel-6.0.1-2.x86_64"}, nil, "fake_bash"},
		{[]string{"*"}, nil, ""},
	} {
		cfg := noGPG("x")
		cfg.Exclude, cfg.IncludePkgs = tc.exclude, tc.include
		r, err := rpmrepo.Open(context.Background(), cfg, rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: t.TempDir()}, Mirror: "file://" + dir})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range r.Packages() {
			got = append(got, p.Name)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != tc.want || r.Excluded != 2-len(got) {
			t.Errorf("exclude %v include %v: %v (excluded %d), want %s", tc.exclude, tc.include, got, r.Excluded, tc.want)
		}
	}
}
