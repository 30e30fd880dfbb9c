package testrepo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The big repository (testdata/mkbigrepo): a second signed yum repository,
// repo id "bigdata", whose packages bigdata-NNN (about 20 MB installed each,
// no dependencies) hold real binaries from the machine's Debian packages
// (the host kernel's modules as .ko.zst, shared libraries) under
// /usr/share/vicroot-bigdata/. The cost-growth benchmark adds a prefix of
// them to the test repository's bootstrap. Layout of the directory BigDir
// returns:
//
//	KEY           the cache key (mkbigrepo, the signing key, the Debian package versions)
//	bigdata/      *.rpm and repodata/ (gz metadata, repomd.xml.asc), signed with
//	              the test repository's key
//	manifest.tsv  a header row, then per package: file, name, kind (modules or
//	              libs), number of files, installed bytes, RPM file bytes

// Tools the big repository's build needs.
var bigTools = []string{"rpmbuild", "rpmsign", "createrepo_c", "rpm", "gpg", "gpgconf", "zstd",
	"dpkg-query", "flock", "sha256sum", "python3"}

var (
	bigMu   sync.Mutex
	bigDirs = map[string]string{}
)

// BigDir returns the big repository built beside the test repository repo
// (in the same cache directory, signed with its key), building it on first
// use under mkbigrepo's file lock. The first build takes minutes.
func BigDir(t testing.TB, repo string) string {
	t.Helper()
	NeedTools(t, bigTools...)
	bigMu.Lock()
	defer bigMu.Unlock()
	if d, ok := bigDirs[repo]; ok {
		return d
	}
	cache := CacheDir()
	script := filepath.Join(ModuleRoot(), "testdata", "mkbigrepo")
	// mkbigrepo's own cache key asks dpkg about every package with files
	// under /usr/lib/x86_64-linux-gnu, which takes a minute on a busy
	// machine. A memo keyed on the script, dpkg's database and the test
	// repository's kernel and key remembers the directory it printed.
	memo := filepath.Join(cache, ".mkbigrepo-memo-"+bigMemoKey(t, script, repo))
	if d, err := os.ReadFile(memo); err == nil {
		if _, err := os.Stat(filepath.Join(string(d), "KEY")); err == nil {
			bigDirs[repo] = string(d)
			return string(d)
		}
	}
	cmd := exec.Command("bash", script, cache, repo)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("testrepo: %s %s %s: %v\n%s", script, cache, repo, err, lastLines(errb.String(), 40))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	d := strings.TrimSpace(lines[len(lines)-1])
	if _, err := os.Stat(filepath.Join(d, "KEY")); err != nil {
		t.Fatalf("testrepo: %s did not print a built repository as its last line (got %q)", script, d)
	}
	bigDirs[repo] = d
	if err := os.WriteFile(memo, []byte(d), 0o644); err != nil {
		t.Fatalf("testrepo: %v", err)
	}
	return d
}

// bigMemoKey hashes what mkbigrepo's result depends on, short of asking
// dpkg: the script, dpkg's database, the kernel and signing key of the
// test repository repo, and BIG_BYTES.
func bigMemoKey(t testing.TB, script, repo string) string {
	t.Helper()
	h := sha256.New()
	for _, f := range []string{script, "/var/lib/dpkg/status", filepath.Join(repo, "kernel.version"), filepath.Join(repo, "RPM-GPG-KEY-vicroot-test")} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("testrepo: %v", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(data))
		h.Write(data)
	}
	fmt.Fprintf(h, "BIG_BYTES=%s\n", os.Getenv("BIG_BYTES"))
	return hex.EncodeToString(h.Sum(nil))
}

// BigPackage is one package of the big repository, as its manifest.tsv
// lists it.
type BigPackage struct {
	File, Name, Kind string
	Files            int
	// Installed is rpm's SIZE (the sum of the file sizes), Size the .rpm
	// file's size.
	Installed, Size int64
}

// BigPackages reads the big repository's manifest.tsv, in package order.
func BigPackages(t testing.TB, big string) []BigPackage {
	t.Helper()
	name := filepath.Join(big, "manifest.tsv")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("testrepo: %v", err)
	}
	pkgs, err := ParseBigManifest(name, data)
	if err != nil {
		t.Fatalf("testrepo: %v", err)
	}
	return pkgs
}

const bigHeader = "file\tname\tkind\tfiles\tinstalled\tsize"

// ParseBigManifest parses a big repository's manifest.tsv (name is the
// file's name for errors): the header row, then at least one row of six
// tab-separated fields with non-negative counts.
func ParseBigManifest(name string, data []byte) ([]BigPackage, error) {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != bigHeader {
		return nil, fmt.Errorf("%s: line 1: header is %q, want %q", name, lines[0], bigHeader)
	}
	var pkgs []BigPackage
	for i, line := range lines[1:] {
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("%s: line %d: %d fields, want 6", name, i+2, len(f))
		}
		p := BigPackage{File: f[0], Name: f[1], Kind: f[2]}
		if p.File == "" || p.Name == "" || strings.ContainsAny(p.File, "/") {
			return nil, fmt.Errorf("%s: line %d: empty name or a file name with a slash", name, i+2)
		}
		if p.Kind != "modules" && p.Kind != "libs" {
			return nil, fmt.Errorf("%s: line %d: kind %q, want modules or libs", name, i+2, p.Kind)
		}
		files, err1 := strconv.Atoi(f[3])
		inst, err2 := strconv.ParseInt(f[4], 10, 64)
		size, err3 := strconv.ParseInt(f[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || files < 0 || inst < 0 || size < 0 {
			return nil, fmt.Errorf("%s: line %d: files, installed and size must be non-negative integers, got %q %q %q", name, i+2, f[3], f[4], f[5])
		}
		p.Files, p.Installed, p.Size = files, inst, size
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("%s: no packages", name)
	}
	return pkgs, nil
}
