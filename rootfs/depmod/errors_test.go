package depmod_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/rootfs/depmod"
)

func TestGenerateErrors(t *testing.T) {
	const kver = "6.1.0-0-test"
	dir := "lib/modules/" + kver + "/"
	good := synthModule{modinfo: []string{"alias=x"}, crcExports: []string{"f"}}.bytes()
	truncated := good[:len(good)/2]
	badShoff := append([]byte(nil), good...)
	badShoff[40] = 0xff // e_shoff past the end
	cases := []struct {
		name  string
		fsys  fstest.MapFS
		kver  string
		is    error
		wants []string
	}{
		{name: "not ELF", fsys: fstest.MapFS{dir + "kernel/a.ko": {Data: []byte("#!/bin/sh\necho not a module\n")}},
			is: depmod.ErrNotELF, wants: []string{dir + "kernel/a.ko"}},
		{name: "too short", fsys: fstest.MapFS{dir + "kernel/b.ko": {Data: []byte("\x7fELF")}},
			wants: []string{dir + "kernel/b.ko", "too short"}},
		{name: "truncated ELF", fsys: fstest.MapFS{dir + "kernel/c.ko": {Data: truncated}, dir + "kernel/ok.ko": {Data: good}},
			wants: []string{dir + "kernel/c.ko"}},
		{name: "section headers out of file", fsys: fstest.MapFS{dir + "kernel/d.ko": {Data: badShoff}},
			wants: []string{dir + "kernel/d.ko"}},
		{name: "bad xz", fsys: fstest.MapFS{dir + "kernel/e.ko.xz": {Data: []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3}}},
			wants: []string{dir + "kernel/e.ko.xz"}},
		{name: "non-ASCII alias", fsys: fstest.MapFS{dir + "kernel/f.ko": {Data: synthModule{modinfo: []string{"alias=caf\xc3\xa9"}}.bytes()}},
			wants: []string{dir + "kernel/f.ko", "ASCII"}},
		{name: "bad kver", fsys: fstest.MapFS{}, kver: "a/b", wants: []string{"bad kernel version"}},
		{name: "missing kver", fsys: fstest.MapFS{}, wants: []string{dir[:len(dir)-1]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := c.kver
			if k == "" {
				k = kver
			}
			_, err := depmod.Generate(context.Background(), c.fsys, k)
			if err == nil {
				t.Fatal("Generate succeeded")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestGenerateCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fsys := fstest.MapFS{"lib/modules/6.1.0-0-test/kernel/a.ko": {Data: synthModule{}.bytes()}}
	if _, err := depmod.Generate(ctx, fsys, "6.1.0-0-test"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate: %v, want context.Canceled", err)
	}
	if _, err := depmod.Decompress(ctx, fsys, "6.1.0-0-test"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Decompress: %v, want context.Canceled", err)
	}
}

func TestKernelVersions(t *testing.T) {
	cases := []struct {
		name string
		fsys fstest.MapFS
		want []string
	}{
		{name: "none", fsys: fstest.MapFS{"etc/x": {}}, want: nil},
		{name: "two", fsys: fstest.MapFS{
			"lib/modules/6.1.0-2-amd64/kernel/a.ko":  {},
			"lib/modules/4.19.0-1-esx/modules.order": {},
			"lib/modules/README":                     {},
		}, want: []string{"4.19.0-1-esx", "6.1.0-2-amd64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := depmod.KernelVersions(c.fsys)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("KernelVersions = %q, want %q", got, c.want)
			}
		})
	}
}
