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

// Linux file type bits (the values of <sys/stat.h>, fixed by the cpio and
// Rock Ridge formats rather than by the host).
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
	sISUID  = 0o4000
	sISGID  = 0o2000
	sISVTX  = 0o1000
)

// UnixMode converts an fs.FileMode to st_mode bits.
func UnixMode(m fs.FileMode) uint32 {
	r := uint32(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		r |= sIFDIR
	case m&fs.ModeSymlink != 0:
		r |= sIFLNK
	case m&fs.ModeNamedPipe != 0:
		r |= sIFIFO
	case m&fs.ModeSocket != 0:
		r |= sIFSOCK
	case m&fs.ModeCharDevice != 0:
		r |= sIFCHR
	case m&fs.ModeDevice != 0:
		r |= sIFBLK
	default:
		r |= sIFREG
	}
	if m&fs.ModeSetuid != 0 {
		r |= sISUID
	}
	if m&fs.ModeSetgid != 0 {
		r |= sISGID
	}
	if m&fs.ModeSticky != 0 {
		r |= sISVTX
	}
	return r
}

// FileMode converts st_mode bits (as cpio, RPM headers and Rock Ridge store
// them) to an fs.FileMode; an unknown file type gives fs.ModeIrregular.
func FileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	switch mode & sIFMT {
	case sIFDIR:
		m |= fs.ModeDir
	case sIFLNK:
		m |= fs.ModeSymlink
	case sIFIFO:
		m |= fs.ModeNamedPipe
	case sIFSOCK:
		m |= fs.ModeSocket
	case sIFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case sIFBLK:
		m |= fs.ModeDevice
	case sIFREG:
	default:
		m |= fs.ModeIrregular
	}
	if mode&sISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&sISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&sISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
