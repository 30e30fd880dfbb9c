//go:build linux

package treemeta

import (
	"io/fs"
	"syscall"
)

// fromSys reads owners, device numbers and hardlink identity from the
// host's stat data, for trees on disk.
func fromSys(fi fs.FileInfo, e *Entry) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	e.UID, e.GID = st.Uid, st.Gid
	rdev := uint64(st.Rdev)
	// Linux's dev_t split (glibc's gnu_dev_major/minor).
	e.RMajor = uint32((rdev>>8)&0xfff | (rdev>>32)&^0xfff)
	e.RMinor = uint32(rdev&0xff | (rdev>>12)&^0xff)
	if st.Nlink > 1 {
		e.Link = LinkID{Dev: uint64(st.Dev), Ino: st.Ino}
		e.Nlink = uint32(st.Nlink)
	}
}
