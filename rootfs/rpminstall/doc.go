// Package rpminstall installs RPM packages into a root filesystem as rpm
// would leave it on disk, without root, and erases them again.
//
// Install puts verified RPM files into a rootfs.FS in plan order, as rpm's
// file state machine does (symlinked directories followed, %ghost skipped,
// owners mapped through the root's own /etc/passwd and /etc/group,
// hardlink sets, shared identical files, conflicts, %config, file colors,
// capabilities), decompressing payloads in parallel with its own decoders
// (header through internal/rpmhdr, the cpio payload with every field
// bounded) so nothing depends on cgo. Erase removes a package using the
// installer's file database.
//
// Scriptlets are never run. Each is parsed with mvdan.cc/sh/v3/syntax and
// classified: account commands are applied through rootfs/sysconf, and
// the effects left to the build (depmod, ldconfig, systemd presets,
// sysusers, machine-id) are named in the Report.
//
// The package does not choose which packages to install (the resolver
// does) nor how the tree is packed into an image.
package rpminstall
