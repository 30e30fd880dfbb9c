package initramfs

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/vicroot/vicroot/internal/atomicfile"
)

// WriteFile packs fsys into the file at name, compressed with c. It writes
// a temporary file beside name and renames it into place, so an
// interrupted build never leaves a partial archive under name.
func WriteFile(ctx context.Context, name string, fsys fs.FS, c Compression, opts Options) error {
	var werr error
	err := atomicfile.Write(name, 0o644, func(f *os.File) error {
		werr = Write(ctx, f, fsys, c, opts)
		return werr
	})
	if werr != nil {
		return fmt.Errorf("%w (writing %s)", werr, name)
	}
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}
