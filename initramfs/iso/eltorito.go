package iso

import (
	"encoding/binary"
	"fmt"
)

// El Torito (Bootable CD-ROM Format Specification 1.0).

// LoadSectors is the number of 512-byte sectors the BIOS loads of a
// no-emulation boot image: 4, as ISOLINUX expects (it loads the rest).
const LoadSectors = 4

// bootRecord is the boot record volume descriptor pointing at the catalog.
func bootRecord(catalog uint32) []byte {
	b := make([]byte, sectorSize)
	copy(b[1:], "CD001")
	b[6] = 1
	copy(b[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(b[71:], catalog)
	return b
}

// bootCatalog returns the catalog sector: a validation entry for x86 and a
// bootable no-emulation default entry.
func bootCatalog(image uint32) []byte {
	b := make([]byte, sectorSize)
	b[0] = 1 // header ID
	b[1] = 0 // platform x86
	b[30], b[31] = 0x55, 0xaa
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(b[i:])
	}
	binary.LittleEndian.PutUint16(b[28:], -sum)
	e := b[32:64]
	e[0] = 0x88                             // bootable
	e[1] = 0                                // no emulation
	binary.LittleEndian.PutUint16(e[2:], 0) // load segment: the default 0x7c0
	binary.LittleEndian.PutUint16(e[6:], LoadSectors)
	binary.LittleEndian.PutUint32(e[8:], image)
	return b
}

// patchBootInfo writes the boot-info-table (mkisofs -boot-info-table) at
// offset 8 of the boot file: the PVD's sector, the file's sector, its
// length and the 32-bit sum of its little-endian words from byte 64.
func patchBootInfo(data []byte, pvd, lba uint32) error {
	if len(data) < 64 {
		return fmt.Errorf("%d bytes is too short for a boot-info-table (64)", len(data))
	}
	binary.LittleEndian.PutUint32(data[8:], pvd)
	binary.LittleEndian.PutUint32(data[12:], lba)
	binary.LittleEndian.PutUint32(data[16:], uint32(len(data)))
	binary.LittleEndian.PutUint32(data[20:], BootInfoChecksum(data))
	clear(data[24:64])
	return nil
}

// BootInfoChecksum is the boot-info-table checksum of a boot file.
func BootInfoChecksum(data []byte) uint32 {
	var sum uint32
	for i := 64; i < len(data); i += 4 {
		var w [4]byte
		copy(w[:], data[i:])
		sum += binary.LittleEndian.Uint32(w[:])
	}
	return sum
}
