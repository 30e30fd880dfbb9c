package fileid

import "syscall"

// statCtime is the inode's change time in nanoseconds.
func statCtime(st *syscall.Stat_t) int64 { return st.Ctim.Nano() }
