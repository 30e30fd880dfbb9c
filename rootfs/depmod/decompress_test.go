package depmod_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/depmod"
)

// TestDecompressThenDepmodLikeVIC is VIC's base.sh step on two copies of
// the same .ko.xz tree: on one, the real `find ... -name "*.ko.xz" -exec xz
// -d {} \;` then `depmod`; on the other, Decompress, then Generate on the
// result. Decompressed modules and every index must be identical.
func TestDecompressThenDepmodLikeVIC(t *testing.T) {
	testrepo.NeedTools(t, "xz", "find")
	depmodTool(t)
	hostDir, kver := hostKernel(t)
	rels := closure(t, hostDeps(t, hostDir), vicModules, nil)

	real := newTree(t, kver)
	real.copyHost(t, hostDir, rels, func(int) string { return "xz" })
	ours := tree{root: t.TempDir(), kver: kver}
	if err := os.CopyFS(ours.root, os.DirFS(real.root)); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("find", filepath.Join(real.root, "lib/modules"), "-name", "*.ko.xz", "-exec", "xz", "-d", "{}", ";")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("find -exec xz -d: %v\n%s", err, out)
	}
	realFiles := real.runDepmod(t, false)

	fsys := os.DirFS(ours.root)
	dec, err := depmod.Decompress(context.Background(), fsys, kver)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != len(rels) {
		t.Fatalf("Decompress returned %d modules, want %d", len(dec), len(rels))
	}
	for _, d := range dec {
		if !strings.HasSuffix(d.Compressed, ".ko.xz") || d.Path != strings.TrimSuffix(d.Compressed, ".xz") {
			t.Errorf("Decompress: %s -> %s", d.Compressed, d.Path)
		}
		want, err := os.ReadFile(filepath.Join(real.root, d.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Data, want) {
			t.Errorf("%s: our uncompressed bytes differ from xz -d's", d.Path)
		}
		// The caller's job: replace the file in its tree.
		if err := os.WriteFile(filepath.Join(ours.root, d.Path), d.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(ours.root, d.Compressed)); err != nil {
			t.Fatal(err)
		}
	}
	compare(t, ours.generate(t), realFiles)
}

// TestDecompressFormats decompresses modules compressed by the real xz,
// gzip and zstd, and compares with the originals.
func TestDecompressFormats(t *testing.T) {
	testrepo.NeedTools(t, "xz", "gzip", "zstd")
	hostDir, kver := hostKernel(t)
	rels := closure(t, hostDeps(t, hostDir), []string{"nf_conntrack", "vmxnet3", "sd_mod"}, nil)
	tr := newTree(t, kver)
	tools := []string{"xz", "gzip", "zstd"}
	tr.copyHost(t, hostDir, rels, func(i int) string { return tools[i%3] })
	dec, err := depmod.Decompress(context.Background(), os.DirFS(tr.root), kver)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != len(rels) {
		t.Fatalf("Decompress returned %d files, want %d", len(dec), len(rels))
	}
	seen := map[string]bool{}
	for _, d := range dec {
		seen[filepath.Ext(d.Compressed)] = true
		rel := strings.TrimPrefix(d.Path, "lib/modules/"+kver+"/")
		want, err := os.ReadFile(filepath.Join(hostDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Data, want) {
			t.Errorf("%s: decompressed bytes differ from the original module", d.Compressed)
		}
	}
	for _, ext := range []string{".xz", ".gz", ".zst"} {
		if !seen[ext] {
			t.Errorf("no %s module decompressed", ext)
		}
	}
}

func TestDecompressErrors(t *testing.T) {
	const kver = "6.1.0-0-test"
	dir := "lib/modules/" + kver + "/kernel/"
	xzModule := packed(t, bytes.Repeat([]byte("not really a module\n"), 5000), "xz", "--check=crc32")
	damagedXz := bytes.Clone(xzModule)
	damagedXz[len(damagedXz)/2] ^= 0x08
	cases := []struct {
		name  string
		fsys  fstest.MapFS
		kver  string
		wants []string
	}{
		{name: "not xz", fsys: fstest.MapFS{dir + "a.ko.xz": {Data: []byte("plain text, not xz")}},
			wants: []string{dir + "a.ko.xz"}},
		{name: "truncated xz", fsys: fstest.MapFS{dir + "e.ko.xz": {Data: xzModule[:len(xzModule)-20]}},
			wants: []string{dir + "e.ko.xz", "xz: at uncompressed byte ", "truncated or corrupt"}},
		{name: "damaged xz", fsys: fstest.MapFS{dir + "f.ko.xz": {Data: damagedXz}},
			wants: []string{dir + "f.ko.xz", "xz: at uncompressed byte ", "corrupt data"}},
		{name: "truncated gzip", fsys: fstest.MapFS{dir + "b.ko.gz": {Data: []byte{0x1f, 0x8b, 8, 0, 0, 0}}},
			wants: []string{dir + "b.ko.gz"}},
		{name: "bad zstd", fsys: fstest.MapFS{dir + "c.ko.zst": {Data: []byte{0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff}}},
			wants: []string{dir + "c.ko.zst"}},
		{name: "target exists", fsys: fstest.MapFS{dir + "d.ko.gz": {Data: gzipped(t, []byte("x"))}, dir + "d.ko": {Data: []byte("x")}},
			wants: []string{dir + "d.ko.gz", "already exists"}},
		{name: "bad kver", fsys: fstest.MapFS{}, kver: "../etc", wants: []string{"bad kernel version"}},
		{name: "no such kver", fsys: fstest.MapFS{}, kver: "6.1.0-1-none", wants: []string{"6.1.0-1-none"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := c.kver
			if k == "" {
				k = kver
			}
			_, err := depmod.Decompress(context.Background(), c.fsys, k)
			if err == nil {
				t.Fatal("Decompress succeeded")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func gzipped(t testing.TB, data []byte) []byte { return packed(t, data, "gzip", "-n") }

// packed is data compressed by tool (the oracle) with args and -c.
func packed(t testing.TB, data []byte, tool string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(tool, append(args, "-c")...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		testrepo.NeedTools(t, tool)
		t.Fatal(err)
	}
	return out
}

// TestDecompressXZVariants: integrity checks other than the kernel's crc32,
// and concatenated streams, decompress as `xz -dc` does.
func TestDecompressXZVariants(t *testing.T) {
	testrepo.NeedTools(t, "xz")
	const kver = "6.1.0-0-test"
	plain := synthModule{modinfo: []string{"alias=x", strings.Repeat("description=long ", 500)}, crcExports: []string{"f"}}.bytes()
	xzc := func(args ...string) []byte {
		cmd := exec.Command("xz", append(args, "-c")...)
		cmd.Stdin = bytes.NewReader(plain)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		name string
		data []byte
		want []byte
	}{
		{"crc64", xzc(), plain},
		{"sha256", xzc("--check=sha256"), plain},
		{"none", xzc("--check=none"), plain},
		{"two streams", append(xzc("-1"), xzc("-9e")...), append(append([]byte(nil), plain...), plain...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("xz", "-dc")
			cmd.Stdin = bytes.NewReader(c.data)
			ref, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ref, c.want) {
				t.Fatal("xz -dc itself disagrees with the input")
			}
			fsys := fstest.MapFS{"lib/modules/" + kver + "/kernel/m.ko.xz": {Data: c.data}}
			dec, err := depmod.Decompress(context.Background(), fsys, kver)
			if err != nil {
				t.Fatal(err)
			}
			if len(dec) != 1 || !bytes.Equal(dec[0].Data, ref) {
				t.Fatalf("Decompress differs from xz -dc")
			}
		})
	}
}
