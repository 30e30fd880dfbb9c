// Package fileid identifies a file on disk by what changes whenever its
// bytes may have changed: size, device and inode, modification time and
// change time. The change time cannot be set back by a user (utimes and
// Chtimes set it to now), so a file rewritten in place, even with the same
// size and its modification time restored, no longer matches an identity
// taken before (unless the rewrite falls in the same tick of the kernel's
// coarse clock, a few milliseconds, as the change the identity saw). An
// identity says nothing about bytes that rot on disk without a write, and
// on a network filesystem that caches attributes (NFS, sshfs) a file
// another machine rewrote may show its old identity for a while. The
// cache uses it to trust what it verified earlier without reading the
// file again, in records (Seal) kept beside the file.
package fileid

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// ID is a file's identity. Its layout (five little- or big-endian int64s,
// in this order) is part of the cache's on-disk formats.
type ID struct {
	Size, Ino, Dev, Mtime, Ctime int64
}

// Of is the identity of the file fi describes (from Stat or Lstat).
func Of(fi fs.FileInfo) (ID, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ID{}, errors.New("no inode information")
	}
	return ID{
		Size: fi.Size(), Ino: int64(st.Ino), Dev: int64(st.Dev),
		Mtime: fi.ModTime().UnixNano(), Ctime: statCtime(st),
	}, nil
}

// OfFile is the identity of the open file f.
func OfFile(f *os.File) (ID, error) {
	fi, err := f.Stat()
	if err != nil {
		return ID{}, err
	}
	return Of(fi)
}

// Seal frames body as a record that vouches for a file: magic (naming the
// format and its version), body, and the SHA-256 of both, so that a
// damaged or foreign record is told from a good one.
func Seal(magic string, body []byte) []byte {
	b := make([]byte, 0, len(magic)+len(body)+sha256.Size)
	b = append(append(b, magic...), body...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// Unseal returns the body of a record Seal made with magic, or an error
// saying why data is not one.
func Unseal(data []byte, magic string) ([]byte, error) {
	if len(data) < len(magic)+sha256.Size || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("not a %q record (bad magic or too short)", strings.TrimSpace(magic))
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, errors.New("digest mismatch")
	}
	return body[len(magic):], nil
}

// Open opens a file for reading, as os.Open does but without offering it
// to the runtime's poller: a regular file cannot be polled, and on Linux
// os.Open finds that out with four fcntl calls and a failed epoll_ctl on
// every open. Reads of the file block, as reads of regular files do.
func Open(name string) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// ReadFile reads a whole file opened with Open, refusing one longer
// than max bytes.
func ReadFile(name string, max int64) ([]byte, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than %d bytes", name, max)
	}
	return b, nil
}
