package iso

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/vicroot/vicroot/initramfs/internal/wcount"
)

// The image written to any io.Writer, for the tests: the reference
// WriteFile's streamed image is compared with.

// WriteTo streams the image of fsys to w and returns the bytes written.
// Only metadata is held in memory (and the boot file, to patch it).
//
// Rock Ridge owners and modes come from the tree (the *fsmeta.Meta of each
// FileInfo, else the host's stat data): build the ISO tree in memory (the
// pipeline uses the in-memory tree of package rootfs) rather than as
// os.DirFS of a temporary folder, or the builder's uid ends up in the image.
func WriteTo(ctx context.Context, w io.Writer, fsys fs.FS, opts Options) (int64, error) {
	if opts.Stream != nil {
		return 0, errors.New("iso: Options.Stream needs WriteFile")
	}
	l, err := newLayout(ctx, fsys, opts)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &wcount.Writer{W: bw}
	if err := l.write(cw); err != nil {
		return cw.N, err
	}
	if err := bw.Flush(); err != nil {
		return cw.N, fmt.Errorf("iso: write: %w", err)
	}
	return cw.N, nil
}
