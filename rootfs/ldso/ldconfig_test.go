package ldso_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/ldso"
)

// ldconfigTree is a Debian-like merged-/usr tree with real libraries, a
// 32-bit libc, ld.so.conf with nested and relative include globs, a
// glibc-hwcaps subdirectory, a legacy hwcap subdirectory, stale and wrong
// soname links and a linker script.
func ldconfigTree() layout {
	ml := "/usr/lib/x86_64-linux-gnu/"
	return layout{
		dirs: []string{"/etc", "/usr/lib64", "/usr/lib32", "/usr/local/lib", "/opt/empty", "/opt/crlf-only"},
		files: map[string]string{
			ml + "libc.so.6":                             hostLib + "/libc.so.6",
			ml + "libm.so.6":                             hostLib + "/libm.so.6",
			ml + "ld-linux-x86-64.so.2":                  hostLib + "/ld-linux-x86-64.so.2",
			ml + "libz.so.1.2.13":                        hostLib + "/libz.so.1.2.13",
			ml + "libz.so.1.2.9":                         hostLib + "/libz.so.1.2.13", // same soname: libcmp picks 1.2.13
			ml + "libxtables.so.12.7.0":                  hostLib + "/libxtables.so.12.7.0",
			ml + "libip4tc.so.2.0.0":                     hostLib + "/libip4tc.so.2.0.0",
			ml + "libmnl.so.0.2.0":                       hostLib + "/libmnl.so.0.2.0",
			ml + "libkmod.so.2.4.0":                      hostLib + "/libkmod.so.2.4.0",
			ml + "libhavege.so.2.0.0":                    hostLib + "/libhavege.so.2.0.0",
			ml + "glibc-hwcaps/x86-64-v3/libz.so.1.2.13": hostLib + "/libz.so.1.2.13",
			ml + "tls/libmnl.so.0.2.0":                   hostLib + "/libmnl.so.0.2.0",
			"/usr/lib32/libc.so.6":                       "/usr/lib32/libc.so.6",
			"/usr/lib32/ld-linux.so.2":                   "/usr/lib32/ld-linux.so.2",
			"/usr/lib32/libm.so.6":                       "/usr/lib32/libm.so.6",
			"/opt/extra/lib/libz.so.1.2.13":              hostLib + "/libz.so.1.2.13",
			"/opt/extra/lib/libmnl-copy.so.0":            hostLib + "/libmnl.so.0.2.0",
			"/opt/crlf/libkmod.so.2":                     hostLib + "/libkmod.so.2.4.0",
			"/opt/crlf-only/libhavege.so.2":              hostLib + "/libhavege.so.2.0.0",
		},
		links: map[string]string{
			"/lib":                            "usr/lib",
			"/lib64":                          "usr/lib64",
			"/lib32":                          "usr/lib32",
			"/usr/lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
			ml + "libxtables.so.12":           "libxtables.so.12.7.0",
			ml + "libz.so":                    "libz.so.1",
			ml + "libip4tc.so.2":              "libmnl.so.0.2.0", // wrong: ldconfig replaces it
			ml + "libgone.so.1":               "libgone.so.1.0",  // stale: ldconfig removes it
			ml + "libmnl.so.0":                "libmnl.so.0.9.9", // stale, removed by the scan, then recreated
			ml + "libhavege.so.2":             "/usr/lib/x86_64-linux-gnu/libhavege.so.2.0.0",
			"/opt/extra/lib/libz.so":          "libz.so.1.2.13",
			"/opt/link-to-extra":              "/opt/extra",
		},
		texts: map[string]string{
			ml + "libc.so":                        "/* GNU ld script */\nGROUP ( /lib/x86_64-linux-gnu/libc.so.6 )\n",
			ml + "libnotelf.so.1":                 strings.Repeat("not an ELF file\n", 8),
			"/etc/ld.so.conf":                     "include /etc/ld.so.conf.d/[!z]*.conf /etc/ld.so.conf.d/[x\n# a comment\n  /opt/link-to-extra/lib/ \n/opt/missing\n",
			"/etc/ld.so.conf.d/20-crlf.conf":      "/opt/crlf\r\ninclude /etc/ld.so.conf.d/sub/*.conf\r\n",
			"/etc/ld.so.conf.d/00-lib32.conf":     "/lib32\n# the same directory again: its type wins\n/usr/lib32=libc5\n",
			"/etc/ld.so.conf.d/10-extra.conf":     "/opt/extra/lib=libc6\ninclude sub/*.conf\n",
			"/etc/ld.so.conf.d/sub/x.conf":        "/opt/empty\n",
			"/etc/ld.so.conf.d/sub/y.conf\r":      "/opt/crlf-only\n",
			"/etc/ld.so.conf.d/.hidden.conf":      "/nonexistent-hidden\n",
			"/etc/ld.so.conf.d/zz-local.conf.off": "/usr/local/lib\n",
		},
	}
}

// cacheGenerator returns the generator string of an ld.so.cache.
func cacheGenerator(t *testing.T, b []byte) string {
	t.Helper()
	cf, err := ldso.ParseCache("real cache", b)
	must(t, err)
	return cf.Generator
}

// maskGenerator blanks exactly what depends on the generator string: the
// 4-byte size of the generator section in the extension directory and the
// string itself, which ends the file.
func maskGenerator(t *testing.T, b []byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	ext := le.Uint32(b[32:])
	count := le.Uint32(b[ext+4:])
	out := bytes.Clone(b)
	for i := uint32(0); i < count; i++ {
		s := ext + 8 + 16*i
		if le.Uint32(b[s:]) == 0 { // generator
			off, size := le.Uint32(b[s+8:]), le.Uint32(b[s+12:])
			if int(off+size) != len(b) {
				t.Fatalf("generator section (%d bytes at %d) does not end the %d-byte file", size, off, len(b))
			}
			le.PutUint32(out[s+12:], 0)
			return out[:off]
		}
	}
	t.Fatal("no generator section")
	return nil
}

func TestCacheMatchesLdconfig(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "ldconfig")
	src := ldconfigTree().build(t)
	real := copyTree(t, src)
	ours := copyTree(t, src)

	got, links, err := ldso.Cache(context.Background(), os.DirFS(src), ldso.CacheOptions{})
	must(t, err)

	cmd := exec.Command("ldconfig", "-r", real)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldconfig -r: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(real, "etc/ld.so.cache"))
	must(t, err)

	// The tree exercises what it claims: these entries exist only through
	// the CRLF configuration file, its "\r"-ended include and the 32-bit
	// and hwcap directories.
	realCache, err := ldso.ParseCache("real", want)
	must(t, err)
	for _, v := range []string{"/opt/crlf/libkmod.so.2", "/opt/crlf-only/libhavege.so.2", "/lib32/libc.so.6",
		"/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1.2.13", "/lib/x86_64-linux-gnu/tls/libmnl.so.0"} {
		found := false
		for _, e := range realCache.Entries {
			found = found || e.Value == v
		}
		if !found {
			t.Errorf("ldconfig's cache has no entry for %s: %s", v, dump(t, want))
		}
	}
	for _, e := range realCache.Entries {
		if e.Key == "ld-linux.so.2" && e.Flags != 2 {
			t.Errorf("ld-linux.so.2 has flags %#x in ldconfig's cache, the test expects libc5 (2)", e.Flags)
		}
	}
	if !bytes.Equal(maskGenerator(t, got), maskGenerator(t, want)) {
		t.Errorf("cache differs from ldconfig's (generator masked)\n ours: %s\nreal: %s", dump(t, got), dump(t, want))
	}
	// With glibc's own generator string the bytes are identical.
	gen := cacheGenerator(t, want)
	exact, _, err := ldso.Cache(context.Background(), os.DirFS(src), ldso.CacheOptions{Generator: gen})
	must(t, err)
	if !bytes.Equal(exact, want) {
		t.Errorf("cache with generator %q is not byte-identical (%d vs %d bytes)", gen, len(exact), len(want))
	}
	if cacheGenerator(t, got) != ldso.DefaultGenerator {
		t.Errorf("default generator = %q", cacheGenerator(t, got))
	}

	// Applying our links to a copy gives the symlinks ldconfig made.
	for _, l := range links {
		p := filepath.Join(ours, l.Path)
		if l.Replace || l.Target == "" {
			must(t, os.Remove(p))
		}
		if l.Target != "" {
			must(t, os.Symlink(l.Target, p))
		}
	}
	wl, gl := symlinks(t, real), symlinks(t, ours)
	if strings.Join(wl, "\n") != strings.Join(gl, "\n") {
		t.Errorf("symlinks differ\nldconfig:\n%s\nours:\n%s", strings.Join(wl, "\n"), strings.Join(gl, "\n"))
	}
	if len(links) < 5 {
		t.Errorf("expected several links, got %v", links)
	}
	// A second run over the linked tree plans nothing and gives the cache
	// a second ldconfig run writes.
	again, links2, err := ldso.Cache(context.Background(), os.DirFS(ours), ldso.CacheOptions{Generator: gen})
	must(t, err)
	if len(links2) != 0 {
		t.Errorf("second run plans links %v", links2)
	}
	if out, err := exec.Command("ldconfig", "-r", real).CombinedOutput(); err != nil {
		t.Fatalf("ldconfig -r (second run): %v\n%s", err, out)
	}
	want2, err := os.ReadFile(filepath.Join(real, "etc/ld.so.cache"))
	must(t, err)
	if !bytes.Equal(again, want2) {
		t.Errorf("cache of the linked tree differs from ldconfig's second run\n ours: %s\nreal: %s", dump(t, again), dump(t, want2))
	}
}

func dump(t *testing.T, b []byte) string {
	cf, err := ldso.ParseCache("cache", b)
	if err != nil {
		return err.Error()
	}
	var sb strings.Builder
	for _, e := range cf.Entries {
		fmt.Fprintf(&sb, "\n\t%s %#x %#x => %s", e.Key, e.Flags, e.Hwcap, e.Value)
	}
	fmt.Fprintf(&sb, "\n\thwcaps %v, %d bytes", cf.Hwcaps, len(b))
	return sb.String()
}

// TestCacheOfHostMatchesLdconfig computes the cache of this machine's own
// root (read only) and compares it with `ldconfig -C FILE -X -i`, which
// writes the cache elsewhere without touching links (it does refresh the
// host's aux cache, as every ldconfig run does).
func TestCacheOfHostMatchesLdconfig(t *testing.T) {
	testrepo.NeedTools(t, "ldconfig")
	out := filepath.Join(t.TempDir(), "ld.so.cache")
	if b, err := exec.Command("ldconfig", "-C", out, "-X", "-i").CombinedOutput(); err != nil {
		t.Fatalf("ldconfig -C: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	must(t, err)
	got, _, err := ldso.Cache(context.Background(), os.DirFS("/"), ldso.CacheOptions{Generator: cacheGenerator(t, want)})
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("host cache differs\n ours: %s\nreal: %s", dump(t, got), dump(t, want))
	}
	cf, err := ldso.ParseCache("host", want)
	must(t, err)
	t.Logf("%d libraries, %d bytes", len(cf.Entries), len(want))
}
