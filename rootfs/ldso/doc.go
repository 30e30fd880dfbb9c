// Package ldso computes, over an installed tree, what glibc's dynamic loader
// (ld.so) and ldconfig would do there, without ever running them:
//
//   - Cache: the /etc/ld.so.cache that Debian 12's `ldconfig -r DIR` (glibc
//     2.36) writes — byte for byte, apart from the generator string — and
//     the soname links it would create or remove, as a list;
//   - Resolve: the ELF library closure of given programs as the tree's own
//     loader resolves it (PT_INTERP, DT_NEEDED breadth first through the
//     DT_RPATH chain, DT_RUNPATH, $ORIGIN/$LIB/$PLATFORM, the ld.so.cache,
//     the default directories read out of the tree's ld.so), each file with
//     every name it is reached by;
//   - XtablesDir and Extensions: the iptables extensions libxtables dlopens;
//   - MinKernel and CheckKernel: the oldest kernel an executable runs on;
//   - TmpfsSize: the tmpfs size a set of files needs.
//
// The tree is any io/fs.FS that also implements io/fs.ReadLinkFS. Every
// symlink is resolved inside that tree by internal/fspath: absolute targets are
// relative to the tree's root, ".." never climbs above it, and a symlink loop
// is an error (ErrLoop). The host's files and loader are never consulted.
//
// The generator string is the only difference from glibc's cache: the
// cache ends with it, and the extension directory holds its length. Pass
// CacheOptions.Generator to write glibc's own and get identical bytes.
//
// Not done, on purpose: nothing is mapped or relocated, symbol versions are
// not checked, LD_LIBRARY_PATH and LD_PRELOAD play no part, and the
// CPU-dependent choices of the real loader are not made — glibc-hwcaps and
// legacy hwcap subdirectories and cache entries are not searched (the
// baseline library they shadow is always found and works on every CPU), and
// $PLATFORM is "x86_64" unless Options.Platform says otherwise. $ORIGIN of
// a root is the directory of the path given, as when the loader is run
// explicitly (`ld.so /bin/iptables`, as VIC's tether does).
package ldso
