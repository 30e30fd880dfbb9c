// Package atomicfile writes a file so that its name holds either the old
// content or the complete new one, never a partial file: the one
// temp-file-then-rename writer of vicroot.
//
// Every temporary file (and directory) it makes is locked (flock,
// exclusive) by its writer for as long as the writer has it open, so a
// later process can tell a live temp from one a killed process left:
// RemoveStale removes a temp only when it can take its lock, never by age.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// File is a temporary file being written, locked while open. Flush it,
// then Rename it to its final name; Discard removes it unless renamed.
type File struct {
	*os.File
	final string // the name Commit renames to
	done  bool
}

// Create creates a locked temporary file ".<base>.tmp*" beside name, in
// name's directory (which must exist), for Commit to rename to name.
func Create(name string) (*File, error) {
	f, err := CreateIn(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return nil, err
	}
	f.final = name
	return f, nil
}

// CreateIn creates a locked temporary file in dir, named as os.CreateTemp
// names it from pattern.
func CreateIn(dir, pattern string) (*File, error) {
	// RemoveStale may take the lock between the creation and ours and
	// remove the file: then its name no longer leads to it, and another
	// one is made.
	for range 100 {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if stillNamed(f) {
			return &File{File: f}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("creating a temporary file in %s: each was removed before it could be locked", dir)
}

// stillNamed reports whether f's name still leads to f.
func stillNamed(f *os.File) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(f.Name())
	return err == nil && os.SameFile(a, b)
}

// Flush gives the file perm and flushes it to disk; it stays open and
// locked.
func (f *File) Flush(perm fs.FileMode) error {
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	return nil
}

// Rename renames the file to name, then closes it (releasing the lock only
// once it has its final name). Flush it first.
func (f *File) Rename(name string) error {
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	f.done = true
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

// Commit flushes the file with perm and renames it to the name given to
// Create.
func (f *File) Commit(perm fs.FileMode) error {
	if f.final == "" {
		return fmt.Errorf("atomicfile: %s has no final name", f.Name())
	}
	if err := f.Flush(perm); err != nil {
		return err
	}
	return f.Rename(f.final)
}

// Discard closes and removes the file unless it was renamed; it may be
// called after Rename (as a deferred clean-up).
func (f *File) Discard() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// Write creates a temporary file beside name, lets fill write it, gives it
// perm, flushes it to disk, and renames it to name. On any error the
// temporary file is removed and name is left as it was. The directory of
// name must exist.
func Write(name string, perm fs.FileMode, fill func(f *os.File) error) error {
	f, err := Create(name)
	if err != nil {
		return err
	}
	defer f.Discard()
	if err := fill(f.File); err != nil {
		return err
	}
	return f.Commit(perm)
}

// WriteFile is Write with fixed content, as os.WriteFile.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return Write(name, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Dir is a temporary directory, locked while open; Remove removes it and
// its content.
type Dir struct {
	f    *os.File
	Path string
}

// MkdirIn creates a locked temporary directory in dir, named as os.MkdirTemp
// names it from pattern.
func MkdirIn(dir, pattern string) (*Dir, error) {
	for range 100 {
		p, err := os.MkdirTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			os.RemoveAll(p)
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if stillNamed(f) {
			return &Dir{f: f, Path: p}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("creating a temporary directory in %s: each was removed before it could be locked", dir)
}

// Remove removes the directory and all it holds, then releases its lock.
func (d *Dir) Remove() error {
	err := os.RemoveAll(d.Path)
	d.f.Close()
	return err
}

// RemoveStale removes the temporary files and directories in dir whose
// names match is and whose lock it can take: those whose writer is gone
// (killed, or an older vicroot that did not lock them). A temp a running
// process holds is left alone, however old. It returns what it removed;
// a missing dir is not an error.
func RemoveStale(dir string, is func(name string) bool) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if !is(e.Name()) || !(e.Type().IsRegular() || e.IsDir()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		gone, err := removeIfStale(p, e.IsDir())
		if err != nil {
			errs = append(errs, err)
		}
		if gone {
			removed = append(removed, p)
		}
	}
	return removed, errors.Join(errs...)
}

func removeIfStale(p string, dir bool) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // its writer renamed or removed it meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil // live
		}
		return false, fmt.Errorf("lock %s: %w", p, err)
	}
	if !stillNamed(f) {
		return false, nil
	}
	if dir {
		err = os.RemoveAll(p)
	} else {
		err = os.Remove(p)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// IsTempOf reports whether name is a temporary file Create makes for the
// final name base (".<base>.tmp<digits>").
func IsTempOf(name, base string) bool {
	rest, ok := strings.CutPrefix(name, "."+base+".tmp")
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// IsTemp reports whether name is a temporary file Create makes for any
// final name (".<something>.tmp<digits>").
func IsTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp")
	return i > 1 && name[0] == '.' && IsTempOf(name, name[1:i])
}
