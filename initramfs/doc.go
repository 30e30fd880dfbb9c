// Package initramfs packs a tree into a reproducible cpio newc archive (with
// owners, hardlinks, device nodes and fixed times) and compresses it. Its
// subpackage iso writes the bootable ISO9660 image. It knows nothing of RPM
// or yum.
package initramfs
