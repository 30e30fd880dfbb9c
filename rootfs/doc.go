// Package rootfs is the installed tree, built in memory as rpm would leave
// it on disk, without root.
//
// A Tree implements io/fs (FS, StatFS, ReadDirFS, ReadFileFS, ReadLinkFS)
// and a mutation API (Mkdir, WriteFile, Symlink, Link, Mknod, Remove,
// Rename, Chmod, Chown, ...). Names never leave the tree: symlinks, even
// absolute ones, resolve inside it. FileInfo.Sys() is an *fsmeta.Meta with
// owners, device numbers, hardlink identity, file capabilities and the
// owning package, which the image writers read.
//
// Install puts verified RPM files into the tree in plan order, as rpm's
// file state machine does (symlinked directories followed, %ghost skipped,
// owners mapped through the tree's own /etc/passwd and /etc/group, hardlink
// sets, shared identical files, conflicts, file colors, capabilities),
// decompressing payloads in parallel with its own decoders so nothing
// depends on cgo. Erase removes a package using the tree's file database.
//
// Scriptlets are never run. Their effects that matter are done natively:
// accounts from %pre (groupadd, useradd, usermod with getent guards, parsed
// with mvdan.cc/sh/v3/syntax), sysusers.d, systemd presets, enable,
// disable, set-default and an empty machine-id; Report says, per package,
// what was emulated and what was skipped. depmod and ldconfig live in the
// subpackages rootfs/depmod and rootfs/ldso, run by the build stage.
// RunHook runs a repository's base.sh or staging.sh on the tree in
// mvdan.cc/sh/v3/interp with a fixed set of applets.
//
// The package does not know how the tree is packed into an image, nor
// which packages to install: that is the resolver's and initramfs' job.
package rootfs
