package ldso_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/ldso"
)

// debianTree replicates, with the host's own symlinks, what iptables and
// haveged need from this Debian machine into a fresh tree.
func debianTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range []string{
		"/lib64/ld-linux-x86-64.so.2",
		"/usr/sbin/iptables", // alternatives chain: /etc/alternatives/iptables -> xtables-legacy-multi or -nft
		"/usr/sbin/xtables-legacy-multi",
		"/usr/sbin/haveged",
	} {
		replicate(t, root, p)
	}
	for _, g := range []string{"libc.so*", "libm.so*", "libxtables.so*", "libip4tc.so*", "libip6tc.so*",
		"libhavege.so*", "libnetfilter_conntrack.so*", "libnfnetlink.so*", "libmnl.so*", "libnftnl.so*", "xtables/*"} {
		replicateGlob(t, root, filepath.Join(hostLib, g))
	}
	return root
}

// depsOf returns the "name => path" pairs of a closure, as ld.so --list
// prints them: every searched name with the path it was found under,
// except the loader itself (printed without "=>").
func depsOf(c *ldso.Closure, interp string) map[string]string {
	m := map[string]string{}
	for _, o := range c.Objects {
		for _, d := range o.Deps {
			if d.Path == interp {
				continue
			}
			if _, ok := m[d.Name]; !ok {
				m[d.Name] = d.Path
			}
		}
	}
	return m
}

func compareWithLoader(t *testing.T, root string, c *ldso.Closure, bin string, inhibit bool) {
	t.Helper()
	compareWithLoaderAt(t, root, "/lib64/ld-linux-x86-64.so.2", c, bin, inhibit)
}

func compareWithLoaderAt(t *testing.T, root, loader string, c *ldso.Closure, bin string, inhibit bool) {
	t.Helper()
	want := loaderListWith(t, root, loader, inhibit, bin)
	got := depsOf(c, loader)
	if len(want) == 0 {
		t.Errorf("%s: the loader listed nothing", bin)
	}
	for name, p := range want {
		if got[name] != p {
			t.Errorf("%s: %s => %q, loader says %q", bin, name, got[name], p)
		}
	}
	for name, p := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: we resolve %s => %s, the loader lists no such name", bin, name, p)
		}
	}
	// The files are the canonical forms of what the loader opened.
	paths := map[string]bool{}
	for _, p := range c.Paths() {
		paths[p] = true
	}
	for _, p := range want {
		if rel := evalIn(t, root, p); !paths[rel] {
			t.Errorf("%s: %s (%s) is not among the closure's files %v", bin, p, rel, c.Paths())
		}
	}
}

func TestResolveMatchesTreeLoader(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "chroot", "ldconfig")
	root := debianTree(t)
	fsys := os.DirFS(root)
	ctx := context.Background()

	dir, err := ldso.XtablesDir(context.Background(), fsys, "/lib/x86_64-linux-gnu/libxtables.so.12")
	must(t, err)
	if dir != "/usr/lib/x86_64-linux-gnu/xtables" {
		t.Errorf("XtablesDir = %q, want Debian's /usr/lib/x86_64-linux-gnu/xtables", dir)
	}
	exts, err := ldso.Extensions(ctx, fsys, dir)
	must(t, err)
	if len(exts) < 50 {
		t.Fatalf("only %d extensions in %s", len(exts), dir)
	}
	roots := append([]string{"/usr/sbin/iptables", "/usr/sbin/xtables-legacy-multi", "/usr/sbin/haveged"}, exts...)

	check := func(t *testing.T, inhibit bool) {
		for _, bin := range roots {
			c, err := ldso.Resolve(ctx, fsys, []string{bin}, ldso.Options{IgnoreCache: inhibit})
			if err != nil {
				t.Fatalf("Resolve %s: %v", bin, err)
			}
			compareWithLoader(t, root, c, bin, inhibit)
		}
	}
	t.Run("inhibit-cache", func(t *testing.T) { check(t, true) })

	// With an ld.so.cache written by the real ldconfig, the loader's answer
	// is the same as ours with the cache step.
	if out, err := exec.Command("ldconfig", "-r", root).CombinedOutput(); err != nil {
		t.Fatalf("ldconfig -r: %v\n%s", err, out)
	}
	t.Run("cache", func(t *testing.T) { check(t, false) })

	all, err := ldso.Resolve(ctx, fsys, roots, ldso.Options{})
	must(t, err)
	ld := all.Object("/lib64/ld-linux-x86-64.so.2")
	if ld == nil || ld.Path != "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" {
		t.Fatalf("loader object = %+v", ld)
	}
	for _, want := range []string{"/lib64/ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2"} {
		if !contains(ld.Links, want) {
			t.Errorf("loader links %v lack %s", ld.Links, want)
		}
	}
	hv := all.Object("/usr/lib/x86_64-linux-gnu/libhavege.so.2")
	if hv == nil || !strings.HasSuffix(hv.Path, "libhavege.so.2.0.0") {
		t.Errorf("libhavege object = %+v", hv)
	}
	ipt := all.Object("/usr/sbin/iptables")
	if ipt == nil || !ipt.Root || path.Base(ipt.Path) == "iptables" {
		t.Errorf("iptables object = %+v", ipt)
	}
	t.Logf("%d roots, %d objects", len(roots), len(all.Objects))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestResolveSearchRules crafts binaries with patchelf (RPATH, RUNPATH,
// $ORIGIN, $LIB, added DT_NEEDED, 32-bit decoys, absolute links) and checks
// each against the tree's own loader.
func TestResolveSearchRules(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "chroot", "patchelf")
	ctx := context.Background()
	type tc struct {
		name     string
		setup    func(t *testing.T, root string)
		bin      string
		notFound string // expected chain suffix when the loader says "not found"
	}
	patch := func(t *testing.T, args ...string) {
		t.Helper()
		if out, err := exec.Command("patchelf", args...).CombinedOutput(); err != nil {
			t.Fatalf("patchelf %v: %v\n%s", args, err, out)
		}
	}
	move := func(t *testing.T, root, from, to string) {
		t.Helper()
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, to)), 0o755))
		must(t, os.Rename(filepath.Join(root, from), filepath.Join(root, to)))
	}
	const lib = "/usr/lib/x86_64-linux-gnu/"
	cases := []tc{
		{
			name: "runpath-origin",
			bin:  "/opt/app/bin/haveged",
			setup: func(t *testing.T, root string) {
				move(t, root, "/usr/sbin/haveged", "/opt/app/bin/haveged")
				move(t, root, lib+"libhavege.so.2.0.0", "/opt/app/lib/libhavege.so.2.0.0")
				must(t, os.Remove(filepath.Join(root, lib+"libhavege.so.2")))
				must(t, os.Symlink("/opt/app/lib/libhavege.so.2.0.0", filepath.Join(root, "/opt/app/lib/libhavege.so.2")))
				patch(t, "--set-rpath", "$ORIGIN/../lib", filepath.Join(root, "/opt/app/bin/haveged"))
			},
		},
		{
			name: "rpath-inherited",
			bin:  "/usr/sbin/haveged",
			setup: func(t *testing.T, root string) {
				// libhavege needs libmnl, which only the executable's RPATH reaches.
				patch(t, "--add-needed", "libmnl.so.0", filepath.Join(root, lib+"libhavege.so.2.0.0"))
				move(t, root, lib+"libmnl.so.0.2.0", "/opt/x/lib/libmnl.so.0")
				must(t, os.Remove(filepath.Join(root, lib+"libmnl.so.0")))
				patch(t, "--force-rpath", "--set-rpath", "/opt/x/lib", filepath.Join(root, "/usr/sbin/haveged"))
			},
		},
		{
			name:     "runpath-not-inherited",
			bin:      "/usr/sbin/haveged",
			notFound: "libhavege.so.2 -> libmnl.so.0",
			setup: func(t *testing.T, root string) {
				patch(t, "--add-needed", "libmnl.so.0", filepath.Join(root, lib+"libhavege.so.2.0.0"))
				move(t, root, lib+"libmnl.so.0.2.0", "/opt/x/lib/libmnl.so.0")
				must(t, os.Remove(filepath.Join(root, lib+"libmnl.so.0")))
				patch(t, "--set-rpath", "/opt/x/lib", filepath.Join(root, "/usr/sbin/haveged"))
			},
		},
		{
			name: "wrong-class-skipped",
			bin:  "/usr/sbin/haveged",
			setup: func(t *testing.T, root string) {
				// A 32-bit libc.so.6 first in RUNPATH never satisfies a 64-bit program.
				copyFile(t, "/usr/lib32/libc.so.6", filepath.Join(root, "/opt/lib32/libc.so.6"))
				patch(t, "--set-rpath", "/opt/lib32:/opt/nonexistent", filepath.Join(root, "/usr/sbin/haveged"))
			},
		},
		{
			name: "lib-dst",
			bin:  "/usr/sbin/haveged",
			setup: func(t *testing.T, root string) {
				move(t, root, lib+"libhavege.so.2.0.0", "/opt/lib/x86_64-linux-gnu/libhavege.so.2")
				must(t, os.Remove(filepath.Join(root, lib+"libhavege.so.2")))
				patch(t, "--set-rpath", "/opt/${LIB}:/opt/$LIB/", filepath.Join(root, "/usr/sbin/haveged"))
			},
		},
		{
			name:     "nodeflib",
			bin:      "/usr/sbin/haveged",
			notFound: "/usr/sbin/haveged -> libhavege.so.2",
			setup: func(t *testing.T, root string) {
				// DF_1_NODEFLIB: the default directories are not searched.
				patch(t, "--no-default-lib", filepath.Join(root, "/usr/sbin/haveged"))
			},
		},
		{
			name: "nodeflib-runpath",
			bin:  "/usr/sbin/haveged",
			setup: func(t *testing.T, root string) {
				patch(t, "--no-default-lib", "--set-rpath", "/usr/lib/x86_64-linux-gnu", filepath.Join(root, "/usr/sbin/haveged"))
			},
		},
		{
			name:     "missing",
			bin:      "/usr/sbin/haveged",
			notFound: "/usr/sbin/haveged -> libhavege.so.2",
			setup: func(t *testing.T, root string) {
				must(t, os.Remove(filepath.Join(root, lib+"libhavege.so.2.0.0")))
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for _, p := range []string{"/lib64/ld-linux-x86-64.so.2", "/usr/sbin/haveged"} {
				replicate(t, root, p)
			}
			for _, g := range []string{"libc.so.6", "libhavege.so*", "libmnl.so*"} {
				replicateGlob(t, root, filepath.Join(hostLib, g))
			}
			c.setup(t, root)
			got, err := ldso.Resolve(ctx, os.DirFS(root), []string{c.bin}, ldso.Options{IgnoreCache: true})
			want := loaderList(t, root, true, c.bin)
			if c.notFound != "" {
				if !errors.Is(err, ldso.ErrNotFound) || !strings.Contains(err.Error(), c.notFound) {
					t.Fatalf("err = %v, want not found naming %q", err, c.notFound)
				}
				var missing []string
				for n, p := range want {
					if p == "not found" {
						missing = append(missing, n)
					}
				}
				sort.Strings(missing)
				if len(missing) != 1 || !strings.HasSuffix(c.notFound, missing[0]) {
					t.Errorf("the loader misses %v", missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			compareWithLoader(t, root, got, c.bin, true)
		})
	}
}

func TestResolveLoop(t *testing.T) {
	root := t.TempDir()
	replicate(t, root, "/usr/sbin/haveged")
	replicate(t, root, "/lib64/ld-linux-x86-64.so.2")
	replicateGlob(t, root, filepath.Join(hostLib, "libc.so.6"))
	must(t, os.Symlink("libhavege.so.2", filepath.Join(root, hostLib, "libhavege.so.2.loop")))
	must(t, os.Symlink("libhavege.so.2.loop", filepath.Join(root, hostLib, "libhavege.so.2")))
	_, err := ldso.Resolve(context.Background(), os.DirFS(root), []string{"/usr/sbin/haveged"}, ldso.Options{IgnoreCache: true})
	if !errors.Is(err, ldso.ErrLoop) {
		t.Fatalf("err = %v, want a symlink loop", err)
	}
}

// TestResolveInvalidCandidate: a non-ELF file under the searched name stops
// the search with an error, as the loader's "invalid ELF header" does.
func TestResolveInvalidCandidate(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "chroot", "patchelf")
	root := t.TempDir()
	replicate(t, root, "/lib64/ld-linux-x86-64.so.2")
	replicate(t, root, "/usr/sbin/haveged")
	for _, g := range []string{"libc.so.6", "libhavege.so*"} {
		replicateGlob(t, root, filepath.Join(hostLib, g))
	}
	must(t, os.MkdirAll(filepath.Join(root, "opt/junk"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "opt/junk/libhavege.so.2"), []byte(strings.Repeat("junk", 64)), 0o644))
	if out, err := exec.Command("patchelf", "--set-rpath", "/opt/junk", filepath.Join(root, "usr/sbin/haveged")).CombinedOutput(); err != nil {
		t.Fatalf("patchelf: %v\n%s", err, out)
	}
	out, _ := exec.Command("chroot", root, "/lib64/ld-linux-x86-64.so.2", "--inhibit-cache", "--list", "/usr/sbin/haveged").CombinedOutput()
	if !strings.Contains(string(out), "invalid ELF header") {
		t.Fatalf("the loader says %s", out)
	}
	_, err := ldso.Resolve(context.Background(), os.DirFS(root), []string{"/usr/sbin/haveged"}, ldso.Options{IgnoreCache: true})
	if !errors.Is(err, ldso.ErrNotELF) || !strings.Contains(err.Error(), "/opt/junk/libhavege.so.2") {
		t.Fatalf("err = %v", err)
	}
}

// TestResolve32Bit resolves a 32-bit library with the i386 loader (its
// default directories read out of it: 4-byte lengths) past a 64-bit decoy
// libc.so.6 that comes first in those directories.
func TestResolve32Bit(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "chroot")
	need32BitExec(t, "/usr/lib32/ld-linux.so.2")
	l := layout{
		files: map[string]string{
			"/usr/lib32/ld-linux.so.2": "/usr/lib32/ld-linux.so.2",
			"/usr/lib32/libc.so.6":     "/usr/lib32/libc.so.6",
			"/usr/lib32/libm.so.6":     "/usr/lib32/libm.so.6",
			"/lib32/libc.so.6":         hostLib + "/libc.so.6", // 64-bit decoy, searched first
		},
		links: map[string]string{"/lib/ld-linux.so.2": "/usr/lib32/ld-linux.so.2"},
	}
	root := l.build(t)
	c, err := ldso.Resolve(context.Background(), os.DirFS(root), []string{"/usr/lib32/libm.so.6"}, ldso.Options{IgnoreCache: true})
	must(t, err)
	compareWithLoaderAt(t, root, "/lib/ld-linux.so.2", c, "/usr/lib32/libm.so.6", true)
	if o := c.Object("/usr/lib32/libc.so.6"); o == nil || o.Class.String() != "ELFCLASS32" {
		t.Errorf("32-bit libc object = %+v", o)
	}
	if c.Object("/lib32/libc.so.6") != nil {
		t.Errorf("the 64-bit decoy is in the closure: %v", c.Paths())
	}
}

// TestResolveThroughOwnCache writes the cache Cache computes (default
// generator) and its links into a tree where only ld.so.conf reaches
// libhavege: the real loader uses our file and finds what Resolve finds;
// without the cache both fail.
func TestResolveThroughOwnCache(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "chroot")
	root := t.TempDir()
	replicate(t, root, "/lib64/ld-linux-x86-64.so.2")
	replicate(t, root, "/usr/sbin/haveged")
	replicateGlob(t, root, filepath.Join(hostLib, "libc.so.6"))
	copyFile(t, filepath.Join(hostLib, "libhavege.so.2.0.0"), filepath.Join(root, "opt/hv/libhavege.so.2.0.0"))
	must(t, os.MkdirAll(filepath.Join(root, "etc/ld.so.conf.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/ld.so.conf"), []byte("include /etc/ld.so.conf.d/*.conf\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/ld.so.conf.d/hv.conf"), []byte("/opt/hv\n"), 0o644))
	ctx := context.Background()
	fsys := os.DirFS(root)

	cache, links, err := ldso.Cache(ctx, fsys, ldso.CacheOptions{})
	must(t, err)
	for _, l := range links {
		if l.Target != "" && !l.Replace {
			must(t, os.Symlink(l.Target, filepath.Join(root, l.Path)))
		}
	}
	must(t, os.WriteFile(filepath.Join(root, "etc/ld.so.cache"), cache, 0o644))

	c, err := ldso.Resolve(ctx, fsys, []string{"/usr/sbin/haveged"}, ldso.Options{})
	must(t, err)
	compareWithLoader(t, root, c, "/usr/sbin/haveged", false)
	if o := c.Object("/opt/hv/libhavege.so.2"); o == nil || o.Path != "/opt/hv/libhavege.so.2.0.0" {
		t.Errorf("libhavege via the cache: %+v", o)
	}
	if _, err := ldso.Resolve(ctx, fsys, []string{"/usr/sbin/haveged"}, ldso.Options{IgnoreCache: true}); !errors.Is(err, ldso.ErrNotFound) {
		t.Errorf("without the cache: %v", err)
	}
	if m := loaderList(t, root, true, "/usr/sbin/haveged"); m["libhavege.so.2"] != "not found" {
		t.Errorf("the loader without the cache: %v", m)
	}
}
