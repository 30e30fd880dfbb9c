// Package initramfs packs a tree (an io/fs.FS, normally the in-memory tree
// of package rootfs) into a reproducible cpio newc archive — owners and modes
// from the tree, hardlinks, device nodes as records, times clamped to
// SOURCE_DATE_EPOCH — and compresses it the way the Linux kernel can unpack
// it. It also reads newc archives back: record by record (Reader, vicroot's
// one newc reader, RPM payloads included) or as a tree (OpenFS, an io/fs.FS
// with owners, devices, hardlinks and symlinks) that inspect, diff and
// verify compare.
//
// Its subpackage iso writes and reads the bootable ISO9660 image. Neither
// knows anything of yum or RPM headers (the payload reader takes the file
// sizes it needs as values), and nothing here touches the host's owners or
// creates device nodes.
package initramfs
