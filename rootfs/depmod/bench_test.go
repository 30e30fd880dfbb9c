package depmod_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/vicroot/vicroot/rootfs/depmod"
)

// The benchmarks run Generate and the real `depmod -b` on the same trees:
// the VIC module set, netfilter+SCSI, and every module of the host kernel
// (through symbolic links). Compare ns/op of the pairs.

func benchTrees(b *testing.B) map[string]tree {
	hostDir, kver := hostKernel(b)
	deps := hostDeps(b, hostDir)
	none := func(int) string { return "" }
	vic := newTree(b, kver)
	vic.copyHost(b, hostDir, closure(b, deps, vicModules, nil), none)
	big := newTree(b, kver)
	big.copyHost(b, hostDir, closure(b, deps, nil, []string{"kernel/net/netfilter", "kernel/drivers/scsi"}), none)
	return map[string]tree{"vic": vic, "netfilter-scsi": big, "all": linkTree(b, hostDir, kver)}
}

func BenchmarkGenerate(b *testing.B) {
	trees := benchTrees(b)
	for _, name := range []string{"vic", "netfilter-scsi", "all"} {
		tr := trees[name]
		b.Run(name, func(b *testing.B) {
			fsys := os.DirFS(tr.root)
			for b.Loop() {
				if _, err := depmod.Generate(context.Background(), fsys, tr.kver); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRealDepmod(b *testing.B) {
	tool := depmodTool(b)
	trees := benchTrees(b)
	for _, name := range []string{"vic", "netfilter-scsi", "all"} {
		tr := trees[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(tool, "-b", tr.root, tr.kver).CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
		})
	}
}
