// Package sysconf is the system configuration that package scriptlets and
// systemctl would otherwise change, done natively on a root filesystem:
// accounts as shadow-utils' groupadd, useradd and usermod apply them
// (with getent and id queries for scriptlet guards), systemd-sysusers,
// and systemctl's enable, disable, set-default and preset-all, plus the
// empty machine-id and the package managers' `clean all`.
//
// It works through rootfs.FS only; it knows nothing of packages or of how
// the root is packed into an image.
package sysconf

import (
	"strconv"
	"strings"
	"sync"

	"github.com/vicroot/vicroot/rootfs"
)

// System applies configuration changes to one root filesystem. Its
// methods are safe for concurrent use; each one is applied whole before
// the next starts.
type System struct {
	mu sync.Mutex
	fs rootfs.FS
}

// New returns the configuration of the root fsys.
func New(fsys rootfs.FS) *System {
	return &System{fs: fsys}
}

// IDs maps user and group names to ids from the root's own /etc/passwd
// and /etc/group (the first entry of a name wins, root is always 0), as
// rpm and chown do inside a root.
func IDs(fsys rootfs.FS) (users, groups map[string]uint32) {
	users, groups = map[string]uint32{"root": 0}, map[string]uint32{"root": 0}
	for _, x := range []struct {
		file string
		into map[string]uint32
	}{{"etc/passwd", users}, {"etc/group", groups}} {
		fi, err := fsys.Stat(x.file)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := fsys.ReadFile(x.file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if len(f) < 3 || f[0] == "" {
				continue
			}
			id, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				continue
			}
			if _, dup := x.into[f[0]]; !dup {
				x.into[f[0]] = uint32(id)
			}
		}
	}
	return users, groups
}
