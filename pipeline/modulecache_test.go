package pipeline

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// The kernel's decompressed modules come from the module cache on a warm
// install (by reference), and a damaged cache entry (rewritten in place,
// truncated) is caught by the digest in its name and decompressed afresh:
// every time, each module is what rpm2cpio, GNU cpio and xz -d make of
// the kernel package.
func TestModuleCacheDamaged(t *testing.T) {
	testrepo.NeedTools(t, "rpm2cpio", "cpio", "xz", "sh")
	opts, _ := testOptions(t)
	opts.CacheDir = t.TempDir()
	var want map[string][]byte
	check := func(step string) {
		t.Helper()
		_, pl, got, root := stagesUpTo(t, opts)
		if want == nil {
			for _, p := range pl.base.Packages {
				if p.Name == opts.Definition.Spec.Kernel {
					want = oracleModules(t, got.files[p])
				}
			}
			if len(want) == 0 {
				t.Fatal("the kernel package has no xz-compressed modules")
			}
		}
		n := 0
		err := fs.WalkDir(root.tree, "lib/modules", func(p string, d fs.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(p, ".ko") {
				return err
			}
			data, err := root.tree.ReadFile(p)
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(p, "lib/modules/")
			if !bytes.Equal(data, want[rel]) {
				t.Errorf("%s: %s differs from xz -d's (%d bytes, want %d)", step, p, len(data), len(want[rel]))
			}
			n++
			return nil
		})
		if err != nil || n != len(want) {
			t.Fatalf("%s: %d modules in the tree (%v), xz -d made %d", step, n, err, len(want))
		}
	}
	check("cold")
	check("warm")
	ents, err := filepath.Glob(filepath.Join(opts.CacheDir, "modules", "*-*"))
	if err != nil || len(ents) < 2 {
		t.Fatalf("module cache holds %d entries (%v)", len(ents), err)
	}
	data, err := os.ReadFile(ents[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(ents[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(ents[1], 100); err != nil {
		t.Fatal(err)
	}
	check("damaged")
	check("repaired")
}

// oracleModules extracts the kernel package's modules with rpm2cpio and
// GNU cpio, decompresses them with xz -d, and returns them by path under
// lib/modules.
func oracleModules(t *testing.T, kernelRPM string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet && find . -name '*.ko.xz' -exec xz -d {} +`, "sh", kernelRPM)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm2cpio | cpio -i; xz -d: %v\n%s", err, out)
	}
	out := map[string][]byte{}
	root := filepath.Join(dir, "lib", "modules")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".ko") {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
