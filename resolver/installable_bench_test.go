package resolver_test

import (
	"context"
	"testing"

	"github.com/vicroot/vicroot/resolver"
)

// BenchmarkInstallabilityDebian decides the installability of every
// package of Debian's main archive turned into rpm metadata (~63,000
// packages, see debianRepo), index build included: what `vicroot check`
// does on a large repository.
func BenchmarkInstallabilityDebian(b *testing.B) {
	pkgs, err := debianRepo()
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	var res []resolver.Result
	for b.Loop() {
		ix := resolver.NewInstallability(pkgs, resolver.Policy{})
		if res, err = ix.CheckAll(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	counts := map[string]int{}
	for _, r := range res {
		counts[r.Verdict]++
	}
	b.ReportMetric(float64(len(pkgs)), "pkgs/repo")
	b.ReportMetric(float64(counts[resolver.Uninstallable]), "uninstallable")
	b.ReportMetric(float64(counts[resolver.Undecided]), "undecided")
}
