// Package ldso computes, over an installed tree, what glibc's dynamic loader
// (ld.so) and ldconfig would do there, without ever running them: the
// /etc/ld.so.cache that Debian 12's `ldconfig -r DIR` writes (byte for byte,
// apart from the generator string), the soname links ldconfig creates, the
// ELF library closure of given programs as the tree's own loader resolves it
// (PT_INTERP, DT_NEEDED through DT_RPATH/DT_RUNPATH with $ORIGIN, $LIB and
// $PLATFORM, ld.so.cache, default directories), the iptables extensions that
// libxtables dlopens, the minimum kernel an executable needs, and the tmpfs
// size a set of files occupies.
//
// The tree is any io/fs.FS that also implements io/fs.ReadLinkFS. Every
// symlink is resolved by this package inside that tree: absolute targets are
// relative to the tree's root, ".." never climbs above it, and a symlink loop
// is an error. The host's files and loader are never consulted.
//
// It is not a loader: nothing is mapped or relocated, symbol versions are not
// checked, and CPU-dependent choices (glibc-hwcaps and legacy hwcap
// subdirectories, the AT_PLATFORM the kernel reports) are not made — see
// Options for the fixed values used instead.
package ldso
