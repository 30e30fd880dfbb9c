package rpmdb

import (
	"bytes"
	"fmt"

	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// Format is an on-disk rpm database format.
type Format int

const (
	// None: the image has no rpm; no database is written.
	None Format = iota
	// BDB: Berkeley DB hash and btree files (rpm < 4.16, Photon 2.0).
	BDB
	// SQLite: rpmdb.sqlite (rpm ≥ 4.16's default).
	SQLite
)

func (f Format) String() string {
	switch f {
	case None:
		return "none"
	case BDB:
		return "bdb"
	case SQLite:
		return "sqlite"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// File is the name, in /var/lib/rpm, of the file that holds the headers
// of a database of format f ("" for None).
func (f Format) File() string {
	switch f {
	case BDB:
		return "Packages"
	case SQLite:
		return "rpmdb.sqlite"
	}
	return ""
}

// Package is one installed package: its signature and main header exactly
// as the .rpm file holds them, each from the 8-byte header magic to the
// end of its data (rpmhdr.File's Sig.Raw and Main.Raw).
type Package struct {
	Sig, Main []byte
	// FileStates, when not nil, is rpm's state of each file (0 normal,
	// 1 replaced, 2 not installed, 3 net-shared, 4 wrong color, 5 missing);
	// nil means every file is installed normally.
	FileStates []byte
}

// Options are the install-time values rpm would take from its transaction.
type Options struct {
	// InstallTime is the INSTALLTIME of every package (seconds since the
	// epoch; pass the build's SOURCE_DATE_EPOCH, never the clock).
	InstallTime uint32
	// TID is the transaction id (INSTALLTID); 0 means InstallTime.
	TID uint32
	// Color is rpm's %_transaction_color, stored as INSTALLCOLOR: 3 on
	// x86_64 (what Photon's rpm records), 0 on 32-bit x86.
	Color uint32
	// Keys are OpenPGP public key files (armored or binary) as imported
	// with `rpm --import`; each certificate becomes one gpg-pubkey entry,
	// stored before the packages.
	Keys [][]byte
	// RPMVersion is the image's rpm version: the RPMVERSION tag of
	// gpg-pubkey entries and their armored description's "Version:" line,
	// and which rpm's layout they follow (4.14's before 4.15). Empty means
	// "4.14.2", Photon 2.0's.
	RPMVersion string
}

// File is one file of a written database, named relative to the database
// directory (/var/lib/rpm).
type File struct {
	Name string
	Data []byte
}

// Installed is one header read back from a database.
type Installed struct {
	// Num is the header number (rpm's "instance").
	Num uint32
	// Blob is the stored header without the 8-byte magic.
	Blob   []byte
	Header *rpmhdr.Header
	NEVRA  rpmhdr.NEVRA
}

// Write returns the files of an rpm database holding the gpg-pubkey entries
// of o.Keys and then pkgs (header numbers 1, 2, … in that order).
func Write(f Format, pkgs []Package, o Options) ([]File, error) {
	blobs, err := Blobs(pkgs, o)
	if err != nil {
		return nil, err
	}
	switch f {
	case BDB:
		return writeBDB(blobs)
	case SQLite:
		return writeSQLite(blobs)
	case None:
		return nil, nil
	}
	return nil, fmt.Errorf("rpmdb: unknown format %v", f)
}

// Blobs returns the header blobs Write stores, in header-number order.
func Blobs(pkgs []Package, o Options) ([][]byte, error) {
	var blobs [][]byte
	for i, k := range o.Keys {
		bs, err := pubkeyBlobs(k, o)
		if err != nil {
			return nil, fmt.Errorf("rpmdb: key %d: %w", i+1, err)
		}
		blobs = append(blobs, bs...)
	}
	for i, p := range pkgs {
		name := fmt.Sprintf("rpmdb: package %d", i+1)
		if h, err := rpmhdr.Read(bytes.NewReader(p.Main), rpmhdr.MaxData, int64(len(p.Main)), "main header"); err == nil {
			if n, err := h.NEVRA(); err == nil {
				name = fmt.Sprintf("rpmdb: %s-%s-%s.%s", n.Name, n.Version, n.Release, n.Arch)
			}
		}
		b, err := installedBlob(p, o, name)
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, b)
	}
	return blobs, nil
}

// parseAll parses stored blobs for indexing.
func parseAll(blobs [][]byte) ([]*rpmhdr.Header, error) {
	hs := make([]*rpmhdr.Header, len(blobs))
	for i, b := range blobs {
		h, err := parseBlob(b, fmt.Sprintf("rpmdb: header %d", i+1))
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return hs, nil
}

// installed turns a stored blob into an Installed, naming file in errors.
func installed(file string, num uint32, blob []byte) (Installed, error) {
	what := fmt.Sprintf("%s: header %d", file, num)
	h, err := parseBlob(blob, what)
	if err != nil {
		return Installed{}, err
	}
	n, err := nevra(h)
	if err != nil {
		return Installed{}, fmt.Errorf("%s: %v", what, err)
	}
	return Installed{Num: num, Blob: blob, Header: h, NEVRA: n}, nil
}

// nevra is rpmhdr's NEVRA with the arch optional: gpg-pubkey entries have
// none (Arch is then "").
func nevra(h *rpmhdr.Header) (rpmhdr.NEVRA, error) {
	if h.Has(rpmhdr.TagArch) {
		return h.NEVRA()
	}
	var s [3]string
	for i, tag := range []uint32{rpmhdr.TagName, rpmhdr.TagVersion, rpmhdr.TagRelease} {
		v, ok, err := h.String(tag)
		if err == nil && !ok {
			err = fmt.Errorf("tag %d missing", tag)
		}
		if err != nil {
			return rpmhdr.NEVRA{}, err
		}
		s[i] = v
	}
	n := rpmhdr.NEVRA{Name: s[0], Version: s[1], Release: s[2]}
	epoch, _, err := h.Uint64s(rpmhdr.TagEpoch)
	if err != nil {
		return rpmhdr.NEVRA{}, err
	}
	if len(epoch) > 0 {
		n.Epoch = epoch[0]
	}
	return n, nil
}
