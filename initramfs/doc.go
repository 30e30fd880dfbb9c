// Package initramfs packs a tree (an io/fs.FS, normally the in-memory tree
// of package rootfs) into a reproducible cpio newc archive — owners and modes
// from the tree, hardlinks, device nodes as records, times clamped to
// SOURCE_DATE_EPOCH — and compresses it the way the Linux kernel can unpack
// it. It also reads newc archives back, for inspection and tests.
//
// Its subpackage iso writes the bootable ISO9660 image. Neither knows
// anything of RPM or yum, and nothing here touches the host's owners or
// creates device nodes.
package initramfs
