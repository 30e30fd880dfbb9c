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
}

// Of returns the Meta of fi, or nil when its Sys() carries none.
func Of(fi fs.FileInfo) *Meta {
	if m, ok := fi.Sys().(*Meta); ok {
		return m
	}
	return nil
}
