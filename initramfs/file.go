package initramfs

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile packs fsys into the file at name, compressed with c. It writes
// a temporary file beside name and renames it into place, so an
// interrupted build never leaves a partial archive under name.
func WriteFile(ctx context.Context, name string, fsys fs.FS, c Compression, opts Options) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := Write(ctx, f, fsys, c, opts); err != nil {
		return fmt.Errorf("%w (writing %s)", err, name)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("initramfs: close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}
