// Package treemeta reads the metadata the image writers need from an
// fs.FileInfo: owners, device numbers and hardlink identity. It prefers the
// *fsmeta.Meta of the in-memory tree and falls back to the host's stat data
// for trees on disk (os.DirFS), so tests can pack real directories.
package treemeta

import (
	"io/fs"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// LinkID identifies a hardlink set; the zero value means "not hardlinked".
type LinkID struct {
	Dev, Ino uint64
}

// Entry is what the writers know about one tree entry.
type Entry struct {
	Mode           fs.FileMode
	UID, GID       uint32
	RMajor, RMinor uint32 // device numbers of a device node
	Link           LinkID // zero unless a regular file with Nlink > 1
	Nlink          uint32
	ModTime        time.Time
	Size           int64
}

// Of returns the metadata of fi.
func Of(fi fs.FileInfo) Entry {
	e := Entry{Mode: fi.Mode(), ModTime: fi.ModTime(), Size: fi.Size(), Nlink: 1}
	if m := fsmeta.Of(fi); m != nil {
		e.UID, e.GID = m.UID, m.GID
		e.RMajor, e.RMinor = m.Major, m.Minor
		if m.Nlink > 1 && m.Inode != 0 {
			e.Link = LinkID{Ino: m.Inode}
			e.Nlink = m.Nlink
		}
	} else {
		fromSys(fi, &e)
	}
	if !e.Mode.IsRegular() {
		e.Link, e.Nlink = LinkID{}, 1
	}
	if e.Mode&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
		e.RMajor, e.RMinor = 0, 0
	}
	return e
}

// Linux file type bits (the values of <sys/stat.h>, fixed by the cpio and
// Rock Ridge formats rather than by the host).
const (
	SIFMT   = 0o170000
	SIFSOCK = 0o140000
	SIFLNK  = 0o120000
	SIFREG  = 0o100000
	SIFBLK  = 0o060000
	SIFDIR  = 0o040000
	SIFCHR  = 0o020000
	SIFIFO  = 0o010000
	SISUID  = 0o4000
	SISGID  = 0o2000
	SISVTX  = 0o1000
)

// LinuxMode converts an fs.FileMode to st_mode bits.
func LinuxMode(m fs.FileMode) uint32 {
	r := uint32(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		r |= SIFDIR
	case m&fs.ModeSymlink != 0:
		r |= SIFLNK
	case m&fs.ModeNamedPipe != 0:
		r |= SIFIFO
	case m&fs.ModeSocket != 0:
		r |= SIFSOCK
	case m&fs.ModeCharDevice != 0:
		r |= SIFCHR
	case m&fs.ModeDevice != 0:
		r |= SIFBLK
	default:
		r |= SIFREG
	}
	if m&fs.ModeSetuid != 0 {
		r |= SISUID
	}
	if m&fs.ModeSetgid != 0 {
		r |= SISGID
	}
	if m&fs.ModeSticky != 0 {
		r |= SISVTX
	}
	return r
}

// FileMode converts st_mode bits to an fs.FileMode.
func FileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	switch mode & SIFMT {
	case SIFDIR:
		m |= fs.ModeDir
	case SIFLNK:
		m |= fs.ModeSymlink
	case SIFIFO:
		m |= fs.ModeNamedPipe
	case SIFSOCK:
		m |= fs.ModeSocket
	case SIFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case SIFBLK:
		m |= fs.ModeDevice
	case SIFREG:
	default:
		m |= fs.ModeIrregular
	}
	if mode&SISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&SISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&SISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// Clamp returns t, or epoch when t is later (SOURCE_DATE_EPOCH semantics);
// a zero epoch leaves t alone. Times before 1970 become 1970.
func Clamp(t, epoch time.Time) time.Time {
	if !epoch.IsZero() && t.After(epoch) {
		t = epoch
	}
	if t.Unix() < 0 {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}
