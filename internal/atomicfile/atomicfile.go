// Package atomicfile writes a file so that its name holds either the old
// content or the complete new one, never a partial file: the one
// temp-file-then-rename writer of vicroot.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates a temporary file beside name, lets fill write it, gives it
// perm, flushes it to disk, and renames it to name. On any error the
// temporary file is removed and name is left as it was. The directory of
// name must exist.
func Write(name string, perm fs.FileMode, fill func(f *os.File) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	return os.Rename(f.Name(), name)
}

// WriteFile is Write with fixed content, as os.WriteFile.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return Write(name, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}
