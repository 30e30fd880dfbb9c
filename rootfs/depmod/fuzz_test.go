package depmod_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/rootfs/depmod"
)

// fuzzSeeds returns small real modules of the host kernel, when present.
func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, pat := range []string{
		"/lib/modules/*/kernel/net/netfilter/xt_state.ko",
		"/lib/modules/*/kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko",
	} {
		m, _ := filepath.Glob(pat)
		if len(m) == 0 {
			continue
		}
		if data, err := os.ReadFile(m[0]); err == nil {
			out = append(out, data)
		}
	}
	return out
}

// FuzzParseModule: malformed modules give an error naming the file, never
// a panic.
func FuzzParseModule(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
		f.Add(s[:len(s)/3])
	}
	f.Add(synthModule{modinfo: []string{"alias=a", "softdep=pre: b"}, crcExports: []string{"f"}, undef: []string{"g"}, versions: []string{"module_layout"}}.bytes())
	f.Add(synthModule{ksymtabStrings: []string{"x", "y"}, weak: []string{"z"}}.bytes())
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "lib/modules/k/fuzz.ko"
		m, err := depmod.ParseModule(name, data)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name the module", err)
			}
			return
		}
		if m == nil {
			t.Fatal("nil module without error")
		}
	})
}

// FuzzGenerate feeds arbitrary modules.order, modules.builtin,
// modules.builtin.modinfo and a module to Generate: an error or a result,
// never a panic.
func FuzzGenerate(f *testing.F) {
	mod := synthModule{modinfo: []string{"alias=devname:x", "alias=char-major-1-2", "softdep=pre: y"}, crcExports: []string{"f"}}.bytes()
	f.Add("kernel/a.ko\nkernel/b-c.ko\n", "kernel/fs/ext4.ko\n", "ext4.alias=fs-ext4\x00x.alias=a[b]c\x00", mod)
	f.Add("kernel/a.ko", "#x\n\n", "noequals\x00y.alias=\x00.alias=z\x00", []byte("\x7fELF"))
	f.Add("", "", "", synthModule{undef: []string{"f"}}.bytes())
	f.Fuzz(func(t *testing.T, order, builtin, modinfo string, module []byte) {
		const dir = "lib/modules/6.1.0-0-fuzz/"
		fsys := fstest.MapFS{
			dir + "modules.order":           {Data: []byte(order)},
			dir + "modules.builtin":         {Data: []byte(builtin)},
			dir + "modules.builtin.modinfo": {Data: []byte(modinfo)},
			dir + "kernel/a.ko":             {Data: mod},
			dir + "kernel/b-c.ko":           {Data: module},
		}
		files, err := depmod.Generate(context.Background(), fsys, "6.1.0-0-fuzz")
		if err != nil {
			if !strings.Contains(err.Error(), dir) && !strings.Contains(err.Error(), "cycle") {
				t.Fatalf("error %q names no file", err)
			}
			return
		}
		if len(files) != 10 {
			t.Fatalf("%d files", len(files))
		}
	})
}

// FuzzDecompress: a compressed module of any content decompresses (as
// `xz -d` would, FuzzXzReaderAt checks the bytes) or fails with an error
// naming the file, never a panic. Seeds: a module packed by xz (with the
// kernel's options), gzip and zstd, cut and damaged copies.
func FuzzDecompress(f *testing.F) {
	plain := synthModule{modinfo: []string{"alias=a"}, crcExports: []string{"f"}}.bytes()
	for _, tool := range [][]string{{"xz", "--check=crc32", "--lzma2=dict=1MiB"}, {"gzip", "-n"}, {"zstd", "-q"}} {
		p := packed(f, plain, tool[0], tool[1:]...)
		f.Add(tool[0], p)
		f.Add(tool[0], p[:len(p)*3/4])
		c := bytes.Clone(p)
		c[len(c)/2] ^= 0x21
		f.Add(tool[0], c)
	}
	ext := map[string]string{"xz": ".xz", "gzip": ".gz", "zstd": ".zst"}
	f.Fuzz(func(t *testing.T, tool string, data []byte) {
		e, ok := ext[tool]
		if !ok {
			return
		}
		name := "lib/modules/k/kernel/fuzz.ko" + e
		_, err := depmod.Decompress(context.Background(), fstest.MapFS{name: {Data: data}}, "k")
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Fatalf("error %q does not name the module", err)
		}
	})
}
