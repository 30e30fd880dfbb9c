// Package rootfs is the installed tree, built in memory as rpm would leave it
// on disk, without root: installing and erasing RPM payloads, the effects of
// scriptlets done natively (depmod, ldconfig, accounts, systemd links),
// repo hooks run on the tree, and the ELF library closure. It does not know
// how the tree is packed into an image.
package rootfs
