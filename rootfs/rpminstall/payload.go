package rpminstall

import (
	"context"
	"testing/fstest"
)

// Payload returns the regular files of one package as a plain file
// system, by their paths in the package (without the leading "/"), with
// the header's permission bits: what a caller that wants a file out of a
// package (a key, a boot loader) needs, without installing it anywhere.
func Payload(ctx context.Context, f RPMFile) (fstest.MapFS, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := decodeFile(f, "")
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	for i := range d.files {
		h := &d.files[i]
		mode, err := fileMode(h.mode)
		if err != nil || !mode.IsRegular() || h.flags&fileGhost != 0 {
			continue
		}
		out[h.path[1:]] = &fstest.MapFile{Data: h.data, Mode: mode.Perm()}
	}
	return out, nil
}
