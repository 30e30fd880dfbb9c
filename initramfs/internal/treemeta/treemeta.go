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
