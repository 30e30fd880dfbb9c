package rpminstall

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/fsmeta"
)

// A payload cache entry (the expanded cpio archive, named by the package's
// SHA-256, which the signed repository metadata vouches for) gets an index
// beside it once every file in it has matched the header's digest: where
// each regular file's content lies in the archive, its size and SHA-256,
// and the identity of the archive file it was verified in (size, inode,
// modification and change times). A warm install then builds the package
// by reference, without reading or hashing the archive: the bytes are
// read once, when the image is written.
//
// An index is used only when its own SHA-256 matches, it describes the
// package's header file for file (count, sizes), and the archive is still
// the very file that was verified: rewriting, truncating or replacing it
// changes its size, inode or change time (which no user can set back). Any
// other case reads the archive in full as before, checking every file,
// and writes a new index.

// indexMagic starts an index file; the number is its format's version.
const indexMagic = "vicroot payload index 1\n"

// maxIndexSize bounds the index file read: 64 bytes per file of a package
// with a million files.
const maxIndexSize = 64 << 20

// indexEntry is one regular file's content in the archive.
type indexEntry struct {
	Off, Size int64
	Sum       [sha256.Size]byte
}

// indexable reports whether file f of a package has content in the
// archive that the index records.
func indexable(f *hdrFile) bool {
	return f.mode&fsmeta.S_IFMT == fsmeta.S_IFREG && f.flags&fileGhost == 0
}

// writeIndex writes the index of the verified archive f (held open) at
// name; a failure costs only a full read next time.
func (d *decodedRPM) writeIndex(name string, f *os.File) error {
	id, err := fileid.OfFile(f)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, id)
	binary.Write(&b, binary.LittleEndian, int64(len(d.files)))
	for i := range d.files {
		h := &d.files[i]
		if !indexable(h) {
			continue
		}
		binary.Write(&b, binary.LittleEndian, indexEntry{Off: h.coff, Size: h.got, Sum: h.sum})
	}
	return atomicfile.WriteFile(name, fileid.Seal(indexMagic, b.Bytes()), 0o644)
}

// fromIndex gives d's files their content by reference into the archive
// f, as the index at name records it. It fails, leaving d untouched, unless
// the index is whole, matches d's header and f is the archive it was made
// from.
func (d *decodedRPM) fromIndex(name string, f *os.File) error {
	data, err := fileid.ReadFile(name, maxIndexSize)
	if err != nil {
		return err
	}
	cur, err := fileid.OfFile(f)
	if err != nil {
		return err
	}
	if err := d.useIndex(data, f, cur); err != nil {
		return fmt.Errorf("payload cache index %s: %w", name, err)
	}
	return nil
}

// useIndex is fromIndex on the index's bytes, for the archive f whose
// identity is cur.
func (d *decodedRPM) useIndex(data []byte, f io.ReaderAt, cur fileid.ID) error {
	body, err := fileid.Unseal(data, indexMagic)
	if err != nil {
		return err
	}
	r := bytes.NewReader(body)
	var id fileid.ID
	var n int64
	if err := binary.Read(r, binary.LittleEndian, &id); err != nil {
		return err
	}
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return err
	}
	if cur != id {
		return errors.New("archive changed since it was indexed")
	}
	if n != int64(len(d.files)) {
		return fmt.Errorf("index lists %d files, the header %d", n, len(d.files))
	}
	ents := make([]indexEntry, 0, len(d.files))
	for i := range d.files {
		h := &d.files[i]
		if !indexable(h) {
			continue
		}
		var e indexEntry
		if err := binary.Read(r, binary.LittleEndian, &e); err != nil {
			return err
		}
		if e.Size != h.size || e.Off < 0 || e.Off > id.Size-e.Size {
			return fmt.Errorf("index entry of %s out of range", h.path)
		}
		ents = append(ents, e)
	}
	if r.Len() != 0 {
		return errors.New("index has trailing data")
	}
	k := 0
	for i := range d.files {
		h := &d.files[i]
		h.seen = h.flags&fileGhost == 0
		if !indexable(h) {
			continue
		}
		e := ents[k]
		k++
		h.sum, h.got, h.coff = e.Sum, e.Size, e.Off
		if e.Size > 0 {
			h.ref, h.off = f, e.Off
		}
	}
	return nil
}
