package rpmrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/internal/fileid"
)

// ErrChecksum: content does not match the checksum that names it.
var ErrChecksum = errors.New("checksum mismatch")

// Cache is a content-addressed store of verified files, keyed by checksum:
// Dir/<type>/<first two hex digits>/<hex>. Concurrent builds (processes)
// may share one Dir: files are written to Dir/tmp (locked by their writer,
// so RemoveStale tells a killed build's leftovers from a running one's),
// fsynced, verified and renamed into place, so a reader only ever sees
// complete, verified files, and two writers of the same content race
// harmlessly.
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
// size >= 0) and its content: a file altered on disk since it was stored
// is removed and reported missing. The content is hashed again unless the
// file's stamp (see stamp) vouches for it as it is now; a file hashed
// here gets a stamp. A file that cannot be read (no file descriptor left,
// an I/O error) is reported missing but stays: that says nothing about
// its content, and a download of it replaces it.
func (c *Cache) Lookup(sum Checksum, size int64) (string, bool) {
	if sum.check() != nil {
		return "", false
	}
	p := c.Path(sum)
	if st, err := readStamp(p, sum); err == nil {
		if fi, err := os.Stat(p); err == nil {
			if id, err := fileid.Of(fi); err == nil && id == st.ID && (size < 0 || id.Size == size) {
				if st.RPM != nil {
					vouched.Store(p, st)
				}
				return p, true
			}
		}
	}
	fullReads.Add(1)
	id, err := verifyFile(p, sum, size)
	if err != nil {
		if errors.Is(err, ErrChecksum) {
			os.Remove(p)
			os.Remove(stampPath(p))
		}
		return "", false
	}
	writeStamp(p, id, sum, nil)
	return p, true
}

// tempFile creates a temporary file inside the cache (same filesystem as
// the destination, so rename is atomic), locked while the download lasts.
func (c *Cache) tempFile() (*atomicfile.File, error) {
	d := filepath.Join(c.Dir, "tmp")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	return atomicfile.CreateIn(d, "dl-*")
}

// TempDir creates a locked temporary directory inside the cache (verify
// rebuilds an image there), which RemoveStale removes once its holder is
// gone.
func (c *Cache) TempDir(pattern string) (*atomicfile.Dir, error) {
	d := filepath.Join(c.Dir, "tmp")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	return atomicfile.MkdirIn(d, pattern)
}

// RemoveStale removes what killed processes left in the cache: every entry
// of Dir/tmp and every atomicfile temp (".<name>.tmp*") below Dir whose
// lock can be taken. The temps of a build running now are locked by it and
// stay. It returns the paths removed.
func (c *Cache) RemoveStale() ([]string, error) {
	removed, err := atomicfile.RemoveStale(filepath.Join(c.Dir, "tmp"), func(string) bool { return true })
	errs := []error{err}
	werr := filepath.WalkDir(c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p == filepath.Join(c.Dir, "tmp") {
			return fs.SkipDir
		}
		r, err := atomicfile.RemoveStale(p, atomicfile.IsTemp)
		removed = append(removed, r...)
		errs = append(errs, err)
		return nil
	})
	errs = append(errs, werr)
	return removed, errors.Join(errs...)
}

// commit verifies tmp against sum and size, and check (when not nil) on
// the file, then renames it into place: a file that fails either never
// enters the cache. tmp is discarded on failure.
func (c *Cache) commit(tmp *atomicfile.File, sum Checksum, size int64, check func(path string) error) (string, error) {
	defer tmp.Discard()
	if err := tmp.Flush(0o644); err != nil {
		return "", err
	}
	if _, err := verifyFile(tmp.Name(), sum, size); err != nil {
		return "", err
	}
	if check != nil {
		if err := check(tmp.Name()); err != nil {
			return "", err
		}
	}
	dst := c.Path(sum)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := tmp.Rename(dst); err != nil {
		return "", err
	}
	if check == nil {
		// A package (check) is stamped by its fetcher, with its facts.
		stampFile(dst, sum, nil)
	}
	return dst, nil
}

// verifyFile hashes path and compares it with sum (and size when >= 0).
// It returns the file's identity before it was read.
func verifyFile(path string, sum Checksum, size int64) (fileid.ID, error) {
	f, err := fileid.Open(path)
	if err != nil {
		return fileid.ID{}, err
	}
	defer f.Close()
	id, err := fileid.OfFile(f)
	if err != nil {
		return id, err
	}
	if size >= 0 && id.Size != size {
		return id, fmt.Errorf("%w: size %d, want %d", ErrChecksum, id.Size, size)
	}
	h, err := sum.newHash()
	if err != nil {
		return id, err
	}
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 256<<10))
	if err != nil {
		return id, err
	}
	if size >= 0 && n != size {
		return id, fmt.Errorf("%w: size %d, want %d", ErrChecksum, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum.Value {
		return id, fmt.Errorf("%w: %s %s, want %s", ErrChecksum, normSumType(sum.Type), got, sum.Value)
	}
	return id, nil
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
