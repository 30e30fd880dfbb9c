package iso

import "encoding/binary"

// isohybrid: an MBR in the system area so that the same image boots from
// a disk. The MBR code (syslinux's isohdpfx.bin) reads the boot file's
// 512-byte block address at byte 432 and loads it; isolinux.bin then
// finds the rest of the image itself. The layout of bytes 432..511 is the
// one syslinux's isohybrid writes.

const (
	mbrCodeSize  = 432
	mbrHeads     = 64
	mbrSectors   = 32
	cylinderSize = mbrHeads * mbrSectors * 512
)

// hybridMBR returns the 512-byte MBR for an image of size bytes whose boot
// file is at sector bootLBA; id is the disk signature.
func hybridMBR(code []byte, bootLBA uint32, size int64, id uint32) []byte {
	m := make([]byte, 512)
	copy(m, code[:mbrCodeSize])
	binary.LittleEndian.PutUint32(m[432:], bootLBA*4)
	binary.LittleEndian.PutUint32(m[440:], id)
	cyl := size / cylinderSize
	endCyl := min(cyl, 1024) - 1
	p := m[446:462]
	p[0] = 0x80 // active
	p[1], p[2], p[3] = 0, 1, 0
	p[4] = 0x17 // the type isohybrid uses
	p[5] = mbrHeads - 1
	p[6] = byte(mbrSectors | (endCyl&0x300)>>2)
	p[7] = byte(endCyl)
	binary.LittleEndian.PutUint32(p[8:], 0)
	binary.LittleEndian.PutUint32(p[12:], uint32(cyl*mbrHeads*mbrSectors))
	m[510], m[511] = 0x55, 0xaa
	return m
}
