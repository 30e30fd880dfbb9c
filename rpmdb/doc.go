// Package rpmdb writes the rpm database of an image (/var/lib/rpm) from
// the headers of its installed packages, natively and reproducibly, and
// reads such databases back (for tests, fuzzing and inspection).
//
// Two on-disk formats are written:
//
//   - BDB: Berkeley DB files as rpm ≤ 4.15 (Photon 2.0's rpm 4.14, with
//     libdb 5.3) keeps them: "Packages", a DB_HASH keyed by the 4-byte
//     little-endian header number, key 0 holding the largest header
//     number; and the index files rpm 4.14 opens (Name, Basenames, Group,
//     Requirename, Providename, Conflictname, Obsoletename, Triggername,
//     Dirnames, Installtid, Sigmd5, Sha1header, Filetriggername,
//     Transfiletriggername, Recommendname, Suggestname, Supplementname,
//     Enhancename), each a DB_BTREE from key to an array of (header number,
//     tag index) pairs, as rpm 4.14's BDB backend writes them. 4 KiB
//     pages; headers and index values larger than libdb's limits go to
//     overflow pages.
//   - SQLite: "rpmdb.sqlite" in rpm 4.16+'s schema (Packages(hnum, blob),
//     sqlite_sequence, one (key, hnum, idx) table per index above and the
//     key/hnum indexes rpm creates), in rollback-journal mode so that a
//     read-only rpm needs no -wal/-shm files.
//
// Use:
//
//	format, err := rpmdb.Detect(treeFS) // None: write nothing, say so
//	files, err := rpmdb.Write(format, pkgs, rpmdb.Options{
//		InstallTime: sourceDateEpoch, Color: 3, // x86_64
//		Keys:        importedKeyFiles,
//		RPMVersion:  "4.14.2",                   // the image's rpm
//	})
//	// place each files[i].Data at /var/lib/rpm/<files[i].Name> (0644)
//
// Each Package carries the signature header and main header of one .rpm
// exactly as the file holds them (rpmhdr.File's Sig.Raw and Main.Raw), in
// install order. Write stores each main header as rpm's own install does:
// the immutable region byte for byte (so digests and signatures of
// installed headers still verify), followed by the tags rpm adds outside
// it — the signature-header tags rpm merges in (SIGSIZE, SIGMD5,
// SHA1HEADER, SHA256HEADER, RSAHEADER, DSAHEADER, ARCHIVESIZE, …),
// FILESTATES, INSTALLTIME, INSTALLTID and INSTALLCOLOR. Install time and
// transaction id come from Options, never from the clock, so the same
// input gives the same bytes. Options.Keys adds one gpg-pubkey entry per
// armored public key block, before the packages, as `rpm --import` (and
// tdnf's key import) makes them; RPMVersion chooses rpm 4.14's or 4.15+'s
// layout of that entry.
//
// Detect decides the format from the image's tree (an fs.FS rooted at the
// image's /): None when the tree has no rpm (no rpm, tdnf or librpm), the
// last %_db_backend its rpm macro files set ("bdb"/"bdb_ro" → BDB,
// "sqlite" → SQLite), BDB for a librpm older than rpm 4.16's without one,
// and an error naming what it found when rpm is present but the format
// cannot be determined.
//
// ReadDir (whichever format a /var/lib/rpm holds), Read, ReadBDB and
// ReadSQLite parse a database back into its installed headers (`vicroot
// inspect --rpmdb` lists an image's with them); every reader rejects
// malformed input with an error naming the file and what is wrong, and
// never panics.
package rpmdb
