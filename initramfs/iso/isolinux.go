package iso

// The paths of the ISO tree VIC boots from: ISOLINUX in /boot/isolinux
// loads /boot/vmlinuz64 and /boot/core.gz (package vic writes
// isolinux.cfg and boot.msg).
const (
	KernelPath  = "boot/vmlinuz64"
	InitrdPath  = "boot/core.gz"
	IsolinuxDir = "boot/isolinux"
	IsolinuxBin = "boot/isolinux/isolinux.bin"
	LdlinuxC32  = "boot/isolinux/ldlinux.c32"
	IsolinuxCfg = "boot/isolinux/isolinux.cfg"
	BootMsgPath = "boot/isolinux/boot.msg"
	CatalogPath = "boot/isolinux/boot.cat"
)
