package depmod_test

import (
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
