// Package fsmeta holds the file metadata that images need beyond what
// io/fs.FileInfo carries: owners, device numbers, hardlink identity, file
// capabilities and the owning package. The in-memory tree (package rootfs)
// returns a *Meta from FileInfo.Sys(); the writers (package initramfs and
// its iso subpackage) read it from there, so neither imports the other.
package fsmeta

import "io/fs"

// Meta is the extra metadata of one tree entry.
type Meta struct {
	UID, GID uint32
	// Major and Minor are the device numbers of a character or block device.
	Major, Minor uint32
	// Inode identifies hardlink sets: entries with the same non-zero Inode
	// are one file. Nlink is the size of the set (1 for a plain file).
	Inode uint64
	Nlink uint32
	// Caps is the raw security.capability extended attribute, if any.
	Caps []byte
	// Package is the NEVRA of the package that installed the entry, or "".
	Package string
	// SHA256 is the digest of a regular file's content when the tree
	// already knows it (the in-memory tree stores content by digest), so
	// that writers of manifests need not hash it again; nil otherwise.
	SHA256 []byte
}

// Of returns the Meta of fi, or nil when its Sys() carries none.
func Of(fi fs.FileInfo) *Meta {
	if m, ok := fi.Sys().(*Meta); ok {
		return m
	}
	return nil
}

// Linux file type and mode bits (the values of <sys/stat.h>, fixed by the
// cpio, RPM and Rock Ridge formats rather than by the host): the one set of
// them in vicroot.
const (
	S_IFMT   = 0o170000
	S_IFSOCK = 0o140000
	S_IFLNK  = 0o120000
	S_IFREG  = 0o100000
	S_IFBLK  = 0o060000
	S_IFDIR  = 0o040000
	S_IFCHR  = 0o020000
	S_IFIFO  = 0o010000
	S_ISUID  = 0o4000
	S_ISGID  = 0o2000
	S_ISVTX  = 0o1000
)

// UnixMode converts an fs.FileMode to st_mode bits.
func UnixMode(m fs.FileMode) uint32 {
	r := uint32(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		r |= S_IFDIR
	case m&fs.ModeSymlink != 0:
		r |= S_IFLNK
	case m&fs.ModeNamedPipe != 0:
		r |= S_IFIFO
	case m&fs.ModeSocket != 0:
		r |= S_IFSOCK
	case m&fs.ModeCharDevice != 0:
		r |= S_IFCHR
	case m&fs.ModeDevice != 0:
		r |= S_IFBLK
	default:
		r |= S_IFREG
	}
	if m&fs.ModeSetuid != 0 {
		r |= S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		r |= S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		r |= S_ISVTX
	}
	return r
}

// FileMode converts st_mode bits (as cpio, RPM headers and Rock Ridge store
// them) to an fs.FileMode; an unknown file type gives fs.ModeIrregular.
func FileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	switch mode & S_IFMT {
	case S_IFDIR:
		m |= fs.ModeDir
	case S_IFLNK:
		m |= fs.ModeSymlink
	case S_IFIFO:
		m |= fs.ModeNamedPipe
	case S_IFSOCK:
		m |= fs.ModeSocket
	case S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case S_IFBLK:
		m |= fs.ModeDevice
	case S_IFREG:
	default:
		m |= fs.ModeIrregular
	}
	if mode&S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
