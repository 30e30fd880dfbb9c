package ldso_test

import (
	"context"
	"os"
	"testing"

	"github.com/vicroot/vicroot/rootfs/ldso"
)

// BenchmarkCacheHost computes the ld.so.cache of this machine's root (758
// libraries on the development host).
func BenchmarkCacheHost(b *testing.B) {
	fsys := os.DirFS("/")
	for b.Loop() {
		if _, _, err := ldso.Cache(context.Background(), fsys, ldso.CacheOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveHost resolves iptables, haveged and every iptables
// extension of this machine, with the cache step.
func BenchmarkResolveHost(b *testing.B) {
	fsys := os.DirFS("/")
	ctx := context.Background()
	dir, err := ldso.XtablesDir(context.Background(), fsys, "/usr/lib/x86_64-linux-gnu/libxtables.so.12")
	if err != nil {
		b.Skip(err)
	}
	exts, err := ldso.Extensions(ctx, fsys, dir)
	if err != nil {
		b.Fatal(err)
	}
	roots := append([]string{"/usr/sbin/xtables-legacy-multi", "/usr/sbin/haveged"}, exts...)
	for b.Loop() {
		if _, err := ldso.Resolve(ctx, fsys, roots, ldso.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
