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
// A regular file's Content is bytes in memory or a reference (digest,
// size, offset) into a store outside the heap: the cache's expanded
// payload of its package, or a spill file. Open returns a file that is an
// io.ReaderAt over either, so the writers stream big files instead of
// holding them; ReadFile is for the small files callers edit.
//
// The package knows nothing of packages, scripts or image formats.
package rootfs
