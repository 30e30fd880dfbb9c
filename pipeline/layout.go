package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/vicroot/vicroot/rootfs/ldso"
	"github.com/vicroot/vicroot/vic"
)

// laidOut is the layout stage's result: what the report says of /.tether
// and the digests of the tether binaries, which the ISO records.
type laidOut struct {
	tether               *vic.TetherReport
	tetherSum, unpackSum string
}

// layout checks --bin's tether and unpack against the image's kernel (VIC
// PR #8333) and adds VIC's bootstrap files to the tree.
func layout(ctx context.Context, src *source, root *installed, bin Dir) (*laidOut, error) {
	tether, tsum, err := readBin(bin, "tether-linux")
	if err != nil {
		return nil, err
	}
	unpack, usum, err := readBin(bin, "unpack")
	if err != nil {
		return nil, err
	}
	for _, n := range []string{"tether-linux", "unpack"} {
		if err := ldso.CheckKernel(ctx, bin.FS, n, root.kernel); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(bin.Name, n), err)
		}
	}
	rep, err := vic.BootstrapLayout(ctx, root.tree, vic.BootstrapInput{
		Definition: src.def, Kernel: root.kernel, Keys: src.repos.imageKeys, Tether: tether, Unpack: unpack,
	})
	if err != nil {
		return nil, err
	}
	return &laidOut{tether: rep, tetherSum: tsum, unpackSum: usum}, nil
}

// readBin reads a file of --bin and its SHA-256.
func readBin(bin Dir, name string) ([]byte, string, error) {
	if bin.FS == nil {
		return nil, "", fmt.Errorf("no --bin folder for %s", name)
	}
	data, err := fs.ReadFile(bin.FS, name)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w (build it, e.g. `make testbin` for the test tether, or point --bin at VIC's bin/)", filepath.Join(bin.Name, name), err)
	}
	s := sha256.Sum256(data)
	return data, hex.EncodeToString(s[:]), nil
}
