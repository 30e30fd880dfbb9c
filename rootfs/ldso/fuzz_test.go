package ldso_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/rootfs/ldso"
)

// seedELF adds small real ELF files of this machine to a fuzz corpus.
func seedELF(f *testing.F) {
	for _, p := range []string{
		filepath.Join(hostLib, "libmnl.so.0"),
		filepath.Join(hostLib, "xtables/libxt_tcp.so"),
		"/usr/sbin/haveged",
		"/usr/lib32/libanl.so.1",
	} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x7fELF"))
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00\x01\x00\x00\x00"))
}

// FuzzELF feeds arbitrary bytes as an executable, a library in a search
// directory and libxtables to every reader of ELF files: errors must name
// the file, nothing may panic.
func FuzzELF(f *testing.F) {
	seedELF(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"bin/x":                      {Data: data, Mode: 0o755},
			"lib/libfuzz.so.1":           {Data: data},
			"lib/libc.so.6":              {Data: data},
			"lib/libxtables.so.12":       {Data: data},
			"lib/xtables/libxt_fuzz.so":  {Data: data},
			"lib64/ld-linux-x86-64.so.2": {Data: []byte("lib/libfuzz.so.1"), Mode: fs.ModeSymlink},
			"etc/ld.so.conf":             {Data: []byte("/lib\ninclude /etc/*.conf\n")},
		}
		ctx := context.Background()
		_, err := ldso.Resolve(ctx, fsys, []string{"/bin/x"}, ldso.Options{DefaultDirs: []string{"/lib"}})
		if err != nil && !strings.Contains(err.Error(), "/") {
			t.Errorf("Resolve error names no path: %v", err)
		}
		_, err = ldso.Resolve(ctx, fsys, []string{"/bin/x"}, ldso.Options{})
		if err != nil && !strings.Contains(err.Error(), "/") {
			t.Errorf("Resolve error names no path: %v", err)
		}
		if _, _, err := ldso.MinKernel(context.Background(), fsys, "/bin/x"); err != nil && !strings.Contains(err.Error(), "/bin/x") {
			t.Errorf("MinKernel error does not name /bin/x: %v", err)
		}
		if _, err := ldso.XtablesDir(context.Background(), fsys, "/lib/libxtables.so.12"); err != nil && !strings.Contains(err.Error(), "/lib/libxtables.so.12") {
			t.Errorf("XtablesDir error does not name the library: %v", err)
		}
		b, _, err := ldso.Cache(ctx, fsys, ldso.CacheOptions{})
		if err != nil {
			t.Fatalf("Cache: %v", err)
		}
		if _, err := ldso.ParseCache("fuzz", b); err != nil {
			t.Fatalf("our own cache does not parse: %v", err)
		}
	})
}

// FuzzParseCache: arbitrary cache bytes are an error naming the file, never
// a panic.
func FuzzParseCache(f *testing.F) {
	if b, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("glibc-ld.so.cache1.1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ldso.ParseCache("fuzz.cache", data); err != nil && !strings.Contains(err.Error(), "fuzz.cache") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}

// FuzzLdSoConf: arbitrary ld.so.conf contents (includes, globs, types,
// loops) never panic and always give a parseable cache.
func FuzzLdSoConf(f *testing.F) {
	f.Add("include /etc/ld.so.conf.d/*.conf\n/usr/lib\n")
	f.Add("include /etc/ld.so.conf\n")
	f.Add("/lib=libc6\n/lib=bogus\nhwcap 0 nosegneg\n  # c\ninclude a b [x\n")
	f.Fuzz(func(t *testing.T, conf string) {
		fsys := fstest.MapFS{
			"etc/ld.so.conf":          {Data: []byte(conf)},
			"etc/ld.so.conf.d/a.conf": {Data: []byte(conf)},
			"lib/x":                   {Data: []byte("lib"), Mode: fs.ModeSymlink},
			"usr/lib/libz.so.1":       {Data: []byte("not elf")},
		}
		b, _, err := ldso.Cache(context.Background(), fsys, ldso.CacheOptions{})
		if err != nil {
			if !strings.Contains(err.Error(), "/etc/") {
				t.Errorf("error names no configuration file: %v", err)
			}
			return
		}
		if _, err := ldso.ParseCache("fuzz", b); err != nil {
			t.Fatal(err)
		}
	})
}
