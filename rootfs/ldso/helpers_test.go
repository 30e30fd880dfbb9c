package ldso_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// hostLib is the host directory the test trees copy real libraries from.
const hostLib = "/usr/lib/x86_64-linux-gnu"

// layout describes a test tree: dirs, files copied from the host
// (tree path -> host path), symlinks (tree path -> target) and small text
// files (tree path -> content).
type layout struct {
	dirs  []string
	files map[string]string
	links map[string]string
	texts map[string]string
}

// build writes l under a new temp dir and returns it. A host file that does
// not exist skips the test (or fails it under VICROOT_REQUIRE_TOOLS=1).
func (l layout) build(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range l.dirs {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	for _, p := range sortedKeys(l.files) {
		src := l.files[p]
		if _, err := os.Stat(src); err != nil {
			if os.Getenv("VICROOT_REQUIRE_TOOLS") == "1" {
				t.Fatalf("host file %s missing: %v", src, err)
			}
			t.Skipf("host file %s missing: %v", src, err)
		}
		copyFile(t, src, filepath.Join(root, p))
	}
	for _, p := range sortedKeys(l.texts) {
		dst := filepath.Join(root, p)
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		must(t, os.WriteFile(dst, []byte(l.texts[p]), 0o644))
	}
	for _, p := range sortedKeys(l.links) {
		dst := filepath.Join(root, p)
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		must(t, os.Symlink(l.links[p], dst))
	}
	return root
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src (following symlinks) to dst, keeping the mode.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	fi, err := in.Stat()
	must(t, err)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}

// copyTree copies a tree with cp -a (symlinks kept as they are).
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "tree")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	return dst
}

// symlinks lists every symlink under root as "path -> target".
func symlinks(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, strings.TrimPrefix(p, root)+" -> "+target)
		}
		return nil
	})
	must(t, err)
	sort.Strings(out)
	return out
}

// replicate copies host path p into root keeping the host's symlinks: every
// symlink met on the way (in any component) is recreated with its target,
// and the target replicated too. Regular files are copied.
func replicate(t testing.TB, root, p string) {
	t.Helper()
	replicateN(t, root, p, 0)
}

func replicateN(t testing.TB, root, p string, depth int) {
	if depth > 40 {
		t.Fatalf("replicate %s: too many links", p)
	}
	comps := strings.Split(strings.Trim(filepath.Clean(p), "/"), "/")
	cur := "/"
	for i, c := range comps {
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		must(t, err)
		dst := filepath.Join(root, next)
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(next)
			must(t, err)
			if _, err := os.Lstat(dst); err != nil {
				must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
				must(t, os.Symlink(target, dst))
			}
			abs := target
			if !filepath.IsAbs(target) {
				abs = filepath.Join(cur, target)
			}
			rest := filepath.Join(append([]string{abs}, comps[i+1:]...)...)
			replicateN(t, root, rest, depth+1)
			return
		}
		if i == len(comps)-1 {
			if fi.IsDir() {
				must(t, os.MkdirAll(dst, 0o755))
			} else if _, err := os.Lstat(dst); err != nil {
				copyFile(t, next, dst)
			}
			return
		}
		must(t, os.MkdirAll(dst, 0o755))
		cur = next
	}
}

// replicateGlob replicates every host path matching pattern.
func replicateGlob(t testing.TB, root, pattern string) {
	t.Helper()
	m, err := filepath.Glob(pattern)
	must(t, err)
	if len(m) == 0 {
		t.Fatalf("nothing on this host matches %s", pattern)
	}
	for _, p := range m {
		replicate(t, root, p)
	}
}

// loaderList runs the tree's own loader as `ld.so --list` chrooted into
// root and returns its "name => path" pairs ("not found" kept as the path).
func loaderList(t testing.TB, root string, inhibitCache bool, bin string) map[string]string {
	t.Helper()
	return loaderListWith(t, root, "/lib64/ld-linux-x86-64.so.2", inhibitCache, bin)
}

// loaderListWith is loaderList with another loader (the i386 one).
func loaderListWith(t testing.TB, root, loader string, inhibitCache bool, bin string) map[string]string {
	t.Helper()
	args := []string{root, loader}
	if inhibitCache {
		args = append(args, "--inhibit-cache")
	}
	args = append(args, "--list", bin)
	out, err := exec.Command("chroot", args...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "not found") && !strings.Contains(string(out), "cannot open shared object file") {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		// "BIN: error while loading shared libraries: NAME: cannot open shared object file: ..."
		if _, after, ok := strings.Cut(line, "error while loading shared libraries: "); ok {
			if name, _, ok := strings.Cut(after, ": cannot open shared object file"); ok {
				m[name] = "not found"
			}
			continue
		}
		name, rest, ok := strings.Cut(strings.TrimSpace(line), " => ")
		if !ok {
			continue
		}
		if i := strings.LastIndex(rest, " (0x"); i >= 0 {
			rest = rest[:i]
		}
		m[name] = rest
	}
	return m
}

// evalIn resolves p inside root as a chroot would (absolute links relative
// to root), returning the in-tree path. It is the test's own, independent
// of the package under test.
func evalIn(t testing.TB, root, p string) string {
	t.Helper()
	todo := strings.Split(strings.Trim(p, "/"), "/")
	cur := "/"
	for n := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		must(t, err)
		if fi.Mode()&fs.ModeSymlink != 0 {
			if n++; n > 40 {
				t.Fatalf("%s: loop", p)
			}
			target, err := os.Readlink(filepath.Join(root, next))
			must(t, err)
			if filepath.IsAbs(target) {
				cur = "/"
			}
			todo = append(strings.Split(strings.Trim(target, "/"), "/"), todo...)
			continue
		}
		cur = next
	}
	return cur
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

// need32BitExec skips the test when this kernel cannot execute 32-bit
// programs (ia32 emulation off: "exec format error"), even under
// VICROOT_REQUIRE_TOOLS=1: that is the machine, not a missing tool. A
// missing loader is a missing tool (libc6-i386).
func need32BitExec(t testing.TB, loader string) {
	t.Helper()
	if _, err := os.Stat(loader); err != nil {
		if testrepo.Required() {
			t.Fatalf("the i386 loader %s is missing (libc6-i386): %v", loader, err)
		}
		t.Skipf("the i386 loader %s is missing (libc6-i386)", loader)
	}
	err := exec.Command(loader, "--version").Run()
	if errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("this kernel cannot execute 32-bit programs (%s: %v)", loader, err)
	}
	if err != nil {
		t.Fatalf("%s --version: %v", loader, err)
	}
}
