package rpmrepo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// A verified-file stamp lies beside a cache entry (<entry>.stamp) once the
// entry has been read in full and verified: the file's identity then
// (fileid: size, inode, device, modification and change times), the
// checksum it was verified against and, for a package, what only the
// full read of its payload could establish (see rpmFacts). While the
// entry keeps that identity its bytes are the ones verified (rewriting it
// in place changes its change time, which no user can set back), so a
// later build trusts the stamp instead of reading the file again:
// Cache.Lookup does not re-hash it, and a package's check reads only its
// headers (verifyStamped). A stamp that is missing, damaged, written for
// another entry or another identity is ignored: the entry is read and
// verified in full, as without stamps, and stamped again.

// fullReads counts the cache entries read in full (Lookup's re-hash, a
// package's payload), for tests to see what a stamp saved.
var fullReads atomic.Int64

// stampMagic starts a stamp; the number is its format's version. A stamp
// replays the outcomes of header+payload signature checks made by the
// vicroot that wrote it: the version must change too whenever what such a
// check accepts changes (pgpSig.verify, the OpenPGP library's rules), or a
// stamp written before would replay an outcome the new rules refuse.
const stampMagic = "vicroot verified stamp 1\n"

// stampSuffix names a cache entry's stamp beside it.
const stampSuffix = ".stamp"

// maxStampSize bounds a stamp file; a bigger one is not read.
const maxStampSize = 64 << 10

// stamp is what a full verification of a cache entry established.
type stamp struct {
	ID  fileid.ID
	Sum Checksum // normalized type, value as it names the entry
	// RPM is set for a package whose digests and signatures were checked.
	RPM *rpmFacts
}

// rpmFacts is what reading a package's payload established, beside what
// its headers say (which are read again each time):
//
//   - the payload digest and legacy MD5 computed over the bytes (the
//     headers say what they must be; the stamp says what they were);
//   - the payload's size (for the signature header's size tag);
//   - for each header+payload signature (V3 style, whose signed data
//     includes the payload), the outcome of the signature check with each
//     key that was tried, by the key's fingerprint. A later check trusts a
//     recorded outcome only for a key of the current key ring with the
//     same fingerprint (the same public key: the cryptographic result
//     over the same bytes cannot differ); whether that key may sign
//     (revoked, expired, usage) is judged again with the current key
//     ring. A key of the current ring the stamp has no outcome for means
//     a full read.
//
// HeaderSHA256 binds the facts to the headers they were computed with:
// the bytes before the payload must hash the same when read again.
type rpmFacts struct {
	HeaderEnd     int64 // the payload's offset
	HeaderSHA256  [sha256.Size]byte
	PayloadSize   int64
	PayloadDigest []byte // with the header's payload digest algorithm; nil when it names none
	MD5           []byte // of the main header and payload; nil when the signature header has no MD5
	Sigs          []sigOutcome
}

// sigOutcome is the check of header+payload signature Tag with the key
// Fingerprint: Err is empty when it verified, else the failure's text.
type sigOutcome struct {
	Tag         uint32
	Fingerprint string
	Err         string
}

// outcome returns the recorded outcome of signature tag with key fpr.
func (f *rpmFacts) outcome(tag uint32, fpr string) (sigOutcome, bool) {
	for _, o := range f.Sigs {
		if o.Tag == tag && o.Fingerprint == fpr {
			return o, true
		}
	}
	return sigOutcome{}, false
}

// encode gives the stamp's bytes: magic, fields (little-endian, strings
// and byte strings with a 16-bit length), SHA-256 of all before.
func (s *stamp) encode() []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, s.ID)
	putStr := func(v []byte) {
		binary.Write(&b, binary.LittleEndian, uint16(len(v)))
		b.Write(v)
	}
	putOpt := func(v []byte) {
		if v == nil {
			b.WriteByte(0)
			return
		}
		b.WriteByte(1)
		putStr(v)
	}
	putStr([]byte(s.Sum.Type))
	putStr([]byte(s.Sum.Value))
	if f := s.RPM; f == nil {
		b.WriteByte(0)
	} else {
		b.WriteByte(1)
		binary.Write(&b, binary.LittleEndian, f.HeaderEnd)
		b.Write(f.HeaderSHA256[:])
		binary.Write(&b, binary.LittleEndian, f.PayloadSize)
		putOpt(f.PayloadDigest)
		putOpt(f.MD5)
		binary.Write(&b, binary.LittleEndian, uint16(len(f.Sigs)))
		for _, o := range f.Sigs {
			binary.Write(&b, binary.LittleEndian, o.Tag)
			putStr([]byte(o.Fingerprint))
			putStr([]byte(o.Err))
		}
	}
	return fileid.Seal(stampMagic, b.Bytes())
}

// errStamp is any defect of a stamp; the entry is then verified in full.
var errStamp = errors.New("unusable stamp")

// parseStamp reads a stamp's bytes; name is used in errors.
func parseStamp(data []byte, name string) (*stamp, error) {
	fail := func(format string, a ...any) (*stamp, error) {
		return nil, fmt.Errorf("rpmrepo: cache stamp %s: %w: %s", name, errStamp, fmt.Sprintf(format, a...))
	}
	if len(data) > maxStampSize {
		return fail("%d bytes, more than %d", len(data), maxStampSize)
	}
	body, err := fileid.Unseal(data, stampMagic)
	if err != nil {
		return fail("%v", err)
	}
	r := bytes.NewReader(body)
	read := func(v any) {
		if err == nil {
			err = binary.Read(r, binary.LittleEndian, v)
		}
	}
	getStr := func() []byte {
		var n uint16
		read(&n)
		if err != nil {
			return nil
		}
		if int(n) > r.Len() {
			err = io.ErrUnexpectedEOF
			return nil
		}
		v := make([]byte, n)
		_, err = io.ReadFull(r, v)
		return v
	}
	getFlag := func() bool {
		var f byte
		read(&f)
		if err == nil && f > 1 {
			err = fmt.Errorf("flag byte %d", f)
		}
		return f == 1
	}
	getOpt := func() []byte {
		if !getFlag() {
			return nil
		}
		return getStr()
	}
	st := &stamp{}
	read(&st.ID)
	st.Sum.Type = string(getStr())
	st.Sum.Value = string(getStr())
	if getFlag() {
		f := &rpmFacts{}
		read(&f.HeaderEnd)
		read(&f.HeaderSHA256)
		read(&f.PayloadSize)
		f.PayloadDigest = getOpt()
		f.MD5 = getOpt()
		var n uint16
		read(&n)
		for i := 0; i < int(n) && err == nil; i++ {
			var o sigOutcome
			read(&o.Tag)
			o.Fingerprint = string(getStr())
			o.Err = string(getStr())
			f.Sigs = append(f.Sigs, o)
		}
		st.RPM = f
	}
	if err != nil {
		return fail("truncated or malformed: %v", err)
	}
	if r.Len() != 0 {
		return fail("%d bytes of trailing data", r.Len())
	}
	if err := st.Sum.check(); err != nil || st.Sum.Type != normSumType(st.Sum.Type) {
		return fail("checksum %q is not a normalized checksum", st.Sum)
	}
	if st.ID.Size < 0 {
		return fail("negative file size %d", st.ID.Size)
	}
	if f := st.RPM; f != nil {
		if f.HeaderEnd < rpmhdr.LeadSize || f.PayloadSize < 0 || f.HeaderEnd > st.ID.Size || f.PayloadSize != st.ID.Size-f.HeaderEnd {
			return fail("header end %d and payload size %d do not fit a file of %d bytes", f.HeaderEnd, f.PayloadSize, st.ID.Size)
		}
	}
	return st, nil
}

// vouched hands a package's stamp that Lookup accepted to the check
// that follows (fetchOne's), so that the stamp is read once; the check
// still compares it with the file's identity.
var vouched sync.Map // cache path -> *stamp

// takeVouched returns the stamp of the package at p: the one Lookup
// accepted, else the one on disk.
func takeVouched(p string, sum Checksum) *stamp {
	if st, ok := vouched.LoadAndDelete(p); ok {
		return st.(*stamp)
	}
	st, _ := readStamp(p, sum)
	return st
}

// stampPath is where the stamp of the entry at p lies.
func stampPath(p string) string { return p + stampSuffix }

// readStamp reads the stamp of the cache entry at p and checks that it was
// written for content sum.
func readStamp(p string, sum Checksum) (*stamp, error) {
	data, err := fileid.ReadFile(stampPath(p), maxStampSize)
	if err != nil {
		return nil, err
	}
	st, err := parseStamp(data, stampPath(p))
	if err != nil {
		return nil, err
	}
	if st.Sum.Type != normSumType(sum.Type) || st.Sum.Value != sum.Value {
		return nil, fmt.Errorf("rpmrepo: cache stamp %s: %w: written for %s, not %s", stampPath(p), errStamp, st.Sum, sum)
	}
	return st, nil
}

// writeStamp records that the cache entry at p, whose identity is id, was
// verified as content sum (with rpm's facts for a package). A failure
// costs only a full verification next time. The stamp is renamed into
// place but not synced to disk: one lost or torn in a crash costs a full
// verification too (its digest refuses a torn one), never a wrong answer,
// and a cold build does not wait for a disk flush per package.
func writeStamp(p string, id fileid.ID, sum Checksum, rpm *rpmFacts) error {
	st := &stamp{ID: id, Sum: Checksum{Type: normSumType(sum.Type), Value: sum.Value}, RPM: rpm}
	f, err := atomicfile.Create(stampPath(p))
	if err != nil {
		return err
	}
	defer f.Discard()
	if _, err := f.Write(st.encode()); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	return f.Rename(stampPath(p))
}

// stampFile stamps the cache entry at p as it is now on disk.
func stampFile(p string, sum Checksum, rpm *rpmFacts) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	id, err := fileid.Of(fi)
	if err != nil {
		return err
	}
	return writeStamp(p, id, sum, rpm)
}
