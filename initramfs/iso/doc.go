// Package iso writes and reads the bootable ISO9660 images of VIC:
// ECMA-119 with the relaxed file names xorriso writes (full length, case
// kept, ";1" on files — ISOLINUX looks files up by these plain names), L
// and M path tables, Rock Ridge (RRIP 1.10: SP, RR, PX, PN, SL, NM, TF,
// CE, ER) and an El Torito BIOS no-emulation boot entry with the
// boot-info-table patched into the image's copy of the boot file. Every
// date comes from SOURCE_DATE_EPOCH and nothing comes from the host, so
// the same tree gives the same bytes anywhere. Open reads an image back as
// an io/fs.FS of its Rock Ridge tree, checking every extent against the
// image's size.
//
// VIC's isolinux.cfg, boot.msg and publisher are package vic's. It does
// not do Joliet, UDF, multi-extent files (over 4 GiB), UEFI boot or
// multisession, and it knows nothing of RPM or of how the tree was made.
package iso
