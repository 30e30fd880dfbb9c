package initramfs_test

import (
	"io/fs"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// epoch is the SOURCE_DATE_EPOCH of the tests.
var epoch = time.Date(2021, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	old   = time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC) // kept as is
	later = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // clamped to epoch
)

func meta(uid, gid uint32) *fsmeta.Meta { return &fsmeta.Meta{UID: uid, GID: gid} }

// testTree is a tree with every kind of entry the writer handles, owners
// that are not the host's, and a hardlink set of three.
func testTree() fstest.MapFS {
	hl := func() *fsmeta.Meta { return &fsmeta.Meta{UID: 1000, GID: 100, Inode: 42, Nlink: 3} }
	return fstest.MapFS{
		".":                 {Mode: fs.ModeDir | 0o755, ModTime: old, Sys: meta(0, 0)},
		"bin":               {Mode: fs.ModeDir | 0o755, ModTime: later, Sys: meta(0, 0)},
		"bin/busybox":       {Data: []byte("#!/bin/sh\necho busybox\n"), Mode: 0o755, ModTime: old, Sys: meta(0, 0)},
		"bin/sh":            {Data: []byte("busybox"), Mode: fs.ModeSymlink | 0o777, ModTime: old, Sys: meta(0, 0)},
		"bin/su":            {Data: []byte("setuid"), Mode: fs.ModeSetuid | 0o755, ModTime: old, Sys: meta(0, 0)},
		"dev":               {Mode: fs.ModeDir | 0o755, ModTime: old, Sys: meta(0, 0)},
		"dev/null":          {Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, ModTime: old, Sys: &fsmeta.Meta{Major: 1, Minor: 3}},
		"dev/sda":           {Mode: fs.ModeDevice | 0o660, ModTime: old, Sys: &fsmeta.Meta{GID: 6, Major: 8, Minor: 0}},
		"dev/ttyS1":         {Mode: fs.ModeDevice | fs.ModeCharDevice | 0o620, ModTime: old, Sys: &fsmeta.Meta{GID: 5, Major: 4, Minor: 65}},
		"dev/initctl":       {Mode: fs.ModeNamedPipe | 0o600, ModTime: old, Sys: meta(0, 0)},
		"etc":               {Mode: fs.ModeDir | 0o755, ModTime: old, Sys: meta(0, 0)},
		"etc/empty":         {Data: nil, Mode: 0o644, ModTime: old, Sys: meta(0, 0)},
		"etc/shadow":        {Data: []byte("root:*:1::::::\n"), Mode: 0o640, ModTime: later, Sys: meta(0, 42)},
		"home":              {Mode: fs.ModeDir | 0o755, ModTime: old, Sys: meta(0, 0)},
		"home/vicadmin":     {Mode: fs.ModeDir | 0o700, ModTime: old, Sys: meta(1000, 1000)},
		"home/vicadmin/x.c": {Data: []byte("int main(){}\n"), Mode: 0o600, ModTime: old, Sys: meta(1000, 1000)},
		"lib64":             {Data: []byte("/lib"), Mode: fs.ModeSymlink | 0o777, ModTime: old, Sys: meta(0, 0)},
		"tmp":               {Mode: fs.ModeDir | fs.ModeSticky | 0o777, ModTime: old, Sys: meta(0, 0)},
		"usr":               {Mode: fs.ModeDir | 0o755, ModTime: old, Sys: meta(0, 0)},
		"usr/bin":           {Mode: fs.ModeDir | 0o755, ModTime: old, Sys: meta(0, 0)},
		"usr/bin/a":         {Data: []byte("hardlinked content\x00\x01"), Mode: 0o755, ModTime: old, Sys: hl()},
		"usr/bin/b":         {Data: []byte("hardlinked content\x00\x01"), Mode: 0o755, ModTime: old, Sys: hl()},
		"usr/sbin":          {Mode: fs.ModeDir | 0o750, ModTime: old, Sys: meta(0, 0)},
		"usr/sbin/c":        {Data: []byte("hardlinked content\x00\x01"), Mode: 0o755, ModTime: old, Sys: hl()},
		"usr/share":         {Mode: fs.ModeDir | 0o755, ModTime: old, Sys: meta(0, 0)},
		"usr/share/big":     {Data: bigData(), Mode: 0o644, ModTime: old, Sys: meta(0, 0)},
		"usr/share/odd":     {Data: []byte("abc"), Mode: 0o444, ModTime: old, Sys: meta(2, 3)},
	}
}

func bigData() []byte {
	b := make([]byte, 300001)
	x := uint32(1)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}
