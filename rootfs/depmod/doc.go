// Package depmod does natively what kmod's `depmod -b ROOT KVER` does to a
// tree of kernel modules, so that vicroot never runs depmod (or chroots) to
// build an image, and so that the result is byte-identical to Debian 12's
// kmod 30 on the same modules.
//
// It provides two steps, matching VIC's isos/base.sh (README.md, "How a
// build goes"):
//
//   - [Decompress] finds lib/modules/KVER/**/*.ko.{xz,gz,zst} and returns,
//     for each, the uncompressed bytes to store as the same path minus the
//     compression suffix, as `xz -d FILE` does (VIC decompresses because
//     some container kmods lack xz support: vmware/vic#3858).
//   - [Generate] reads the modules and modules.order, modules.builtin and
//     modules.builtin.modinfo of lib/modules/KVER and returns the files
//     depmod writes: modules.dep(.bin), modules.alias(.bin),
//     modules.softdep, modules.symbols(.bin), modules.builtin.bin,
//     modules.builtin.alias.bin and modules.devname. kmod 30 writes no
//     modules.weakdep (that file appeared in kmod 33), and it writes the two
//     builtin indexes even when their inputs are missing (empty files).
//
// Both read an [io/fs.FS] rooted at the tree's root and return values; the
// caller writes them into its tree (Decompress first, then Generate on the
// updated tree). Neither writes anything itself. [KernelVersions] lists the
// candidates for KVER.
//
// What it reproduces, from kmod 30's tools/depmod.c and libkmod: module
// names from file names; the order of modules.dep from modules.order, then
// kmod's own hash-table order for the modules it does not name; direct
// dependencies from each module's undefined symbols (and unreferenced
// __versions entries) against the __crc_ (or, without modversions,
// __ksymtab_strings) exports of the others; dependency lists in depmod's
// topological order; modules.symbols in hash-table order; and the .bin
// indexes as libkmod's prefix-compressed trie (magic 0xB007F457, version
// 2.1) written post-order, values by ascending priority and newest first
// among equals.
//
// What it does not do: depmod's configuration files (depmod.d search,
// override, external, exclude; the default "search updates" is built in),
// -F System.map / -E Module.symvers (depmod does not need them to compute
// dependencies; without them it ignores symbols nobody exports, which is
// what the kernel's own symbols are), module signatures and loading. Where
// depmod's result depends on the host (readdir order, when two files give
// one module name outside updates/), this package uses sorted order. Where
// depmod logs an unreadable module and lists it without dependencies, or
// leaves a non-ASCII alias to undefined behaviour, Generate returns an error
// naming the file.
//
// Large trees: modules are parsed in parallel; when the tree's files
// implement io.ReaderAt, an uncompressed module is read in place (headers
// and the few sections depmod needs), not whole.
package depmod
