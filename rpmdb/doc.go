// Package rpmdb writes the rpm database of an image (/var/lib/rpm) from
// the headers of its installed packages, natively and reproducibly, and
// reads such databases back (for tests, fuzzing and inspection).
//
// Two on-disk formats are written:
//
//   - BDB: Berkeley DB files as rpm ≤ 4.15 (Photon 2.0's rpm 4.14, with
//     libdb 5.3) keeps them: "Packages", a DB_HASH keyed by the 4-byte
//     native-endian (little-endian) header number, key 0 holding the
//     largest header number; and the index files rpm 4.14 opens (Name,
//     Basenames, Group, Requirename, Providename, Conflictname,
//     Obsoletename, Triggername, Dirnames, Installtid, Sigmd5, Sha1header,
//     Filetriggername, Transfiletriggername, Recommendname, Suggestname,
//     Supplementname, Enhancename), each a DB_BTREE from key to an array of
//     (header number, tag index) pairs, as rpm's lib/backend/db3.c writes
//     them. Headers larger than a page go to overflow pages.
//   - SQLite: "rpmdb.sqlite" in rpm 4.16+'s schema (Packages(hnum, blob)
//     plus one index table per index above).
//
// The API is small:
//
//	files, err := rpmdb.Write(rpmdb.BDB, pkgs, rpmdb.Options{InstallTime: sde, Keys: keys})
//	// files: []rpmdb.File{Name: "Packages", Data: …}, …, to place under /var/lib/rpm
//
// Each Package carries the signature header and main header of one .rpm
// exactly as the file holds them (rpmhdr.File's Sig.Raw and Main.Raw).
// Write stores each main header as rpm's own install does: the immutable
// region byte for byte (so digests and signatures of installed headers still
// verify), followed by the tags rpm adds outside it — the signature-header
// tags rpm merges in (SIGSIZE, SIGMD5, SHA1HEADER, SHA256HEADER, RSAHEADER,
// DSAHEADER, ARCHIVESIZE, …), FILESTATES, INSTALLTIME, INSTALLTID and
// INSTALLCOLOR. Install time and transaction id come from Options (never
// from the clock), so the same input gives the same bytes. Options.Keys
// adds one gpg-pubkey entry per imported OpenPGP certificate, as
// `rpm --import` (and tdnf's key import) makes them.
//
// Detect decides the format from the image's tree: None when the tree has
// no rpm (no librpm, rpm or tdnf), the value of %_db_backend from the rpm
// macros files when set, BDB for an rpm older than 4.16 without one, and an
// error naming what it found when rpm is present but the format cannot be
// determined.
//
// Read parses a database back into its installed headers; every reader
// rejects malformed input with an error naming the file and what is wrong.
package rpmdb
