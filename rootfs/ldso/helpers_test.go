package ldso_test

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
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
