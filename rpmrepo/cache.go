package rpmrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vicroot/vicroot/internal/atomicfile"
)

// ErrChecksum: content does not match the checksum that names it.
var ErrChecksum = errors.New("checksum mismatch")

// Cache is a content-addressed store of verified files, keyed by checksum:
// Dir/<type>/<first two hex digits>/<hex>. Concurrent builds (processes)
// may share one Dir: files are written to Dir/tmp, fsynced, verified and
// renamed into place, so a reader only ever sees complete, verified files,
// and two writers of the same content race harmlessly.
type Cache struct {
	Dir string
}

// Path is where content with this checksum lives (whether or not present).
func (c *Cache) Path(sum Checksum) string {
	v := sum.Value
	pre := "xx"
	if len(v) >= 2 {
		pre = v[:2]
	}
	return filepath.Join(c.Dir, normSumType(sum.Type), pre, v)
}

// Lookup returns the cached file for sum, after checking its size (when
// size >= 0) and hashing it again: a file altered on disk since it was
// stored is removed and reported missing.
func (c *Cache) Lookup(sum Checksum, size int64) (string, bool) {
	if sum.check() != nil {
		return "", false
	}
	p := c.Path(sum)
	if err := verifyFile(p, sum, size); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			os.Remove(p)
		}
		return "", false
	}
	return p, true
}

// tempFile creates a temporary file inside the cache (same filesystem as
// the destination, so rename is atomic).
func (c *Cache) tempFile() (*os.File, error) {
	d := filepath.Join(c.Dir, "tmp")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(d, "dl-*")
}

// commit verifies tmp against sum and size, fsyncs it and renames it into
// place. tmp is closed and removed on failure.
func (c *Cache) commit(tmp *os.File, sum Checksum, size int64) (string, error) {
	name := tmp.Name()
	fail := func(err error) (string, error) {
		tmp.Close()
		os.Remove(name)
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := verifyFile(name, sum, size); err != nil {
		os.Remove(name)
		return "", err
	}
	dst := c.Path(sum)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, dst); err != nil {
		os.Remove(name)
		return "", err
	}
	return dst, nil
}

// verifyFile hashes path and compares it with sum (and size when >= 0).
func verifyFile(path string, sum Checksum, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := sum.newHash()
	if err != nil {
		return err
	}
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%w: size %d, want %d", ErrChecksum, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum.Value {
		return fmt.Errorf("%w: %s %s, want %s", ErrChecksum, normSumType(sum.Type), got, sum.Value)
	}
	return nil
}

// storeByName writes data under Dir/<kind>/<sha256 of key> (repomd.xml
// and its signature, which no checksum names) with temp file and rename,
// for offline use.
func (c *Cache) storeByName(kind, key string, data []byte) error {
	p := c.namedPath(kind, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, 0o644)
}

func (c *Cache) namedPath(kind, key string) string {
	s := sha256.Sum256([]byte(key))
	return filepath.Join(c.Dir, kind, hex.EncodeToString(s[:]))
}

func (c *Cache) loadByName(kind, key string) ([]byte, error) {
	return os.ReadFile(c.namedPath(kind, key))
}
