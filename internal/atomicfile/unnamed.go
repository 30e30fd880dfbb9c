package atomicfile

import "os"

// Unnamed returns a new empty file in dir (os.TempDir() when "") that has
// no name, for data a process keeps only while it runs (spilled file
// content): nothing is left behind, however the process ends. Where the
// file system cannot create an unnamed file, a temp file is created and
// removed at once.
func Unnamed(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if f, err := openUnnamed(dir); err == nil {
		return f, nil
	}
	f, err := os.CreateTemp(dir, ".vicroot-spill-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}
