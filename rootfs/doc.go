// Package rootfs is an in-memory root filesystem with the metadata an
// image needs: modes, owners, device numbers, hardlinks, mtimes, file
// capabilities and the owning package of each entry.
//
// A Tree implements io/fs (FS, StatFS, ReadDirFS, ReadFileFS, ReadLinkFS)
// and FS, the small writable interface (Mkdir, WriteFile, Symlink, Link,
// Mknod, Remove, Rename, Chmod, Chown, ...) that the packages building a
// root work through: rootfs/rpminstall (RPM payloads, the file database,
// scriptlet selection), rootfs/hook (a repository's base.sh and
// staging.sh) and rootfs/sysconf (accounts, sysusers.d, systemd). Names
// never leave the tree: symlinks, even absolute ones, resolve inside it,
// in one resolver (Realpath exposes it). FileInfo.Sys() is an
// *fsmeta.Meta, which the image writers read.
//
// The package knows nothing of packages, scripts or image formats.
package rootfs
