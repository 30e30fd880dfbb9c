package rpmrepo

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// Errors VerifyRPM wraps; callers branch on them with errors.Is.
var (
	// ErrUnsigned: gpgcheck is on and the package carries no signature
	// (or none that covers its payload).
	ErrUnsigned = errors.New("package is not signed")
	// ErrNoKey: the package is signed, but by no key of the key ring.
	ErrNoKey = errors.New("signed by a key not in the repository's key list")
	// ErrBadSignature: a signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrNotTrusted: the signature verifies but its key is revoked, had
	// expired when it signed (subkeys), or may not sign.
	ErrNotTrusted = errors.New("signing key not trusted")
	// ErrDigest: a header or payload digest does not match.
	ErrDigest = errors.New("digest mismatch")
)

// SigStatus is the outcome of one signature, with rpm's words.
type SigStatus string

// Signature outcomes.
const (
	SigOK          SigStatus = "OK"
	SigBad         SigStatus = "BAD"
	SigNoKey       SigStatus = "NOKEY"
	SigNotTrusted  SigStatus = "NOTTRUSTED"
	SigUnsupported SigStatus = "UNSUPPORTED"
)

// SigCheck is the result of one signature tag of an RPM.
type SigCheck struct {
	// Tag is the signature header tag: 268 RSAHEADER, 267 DSAHEADER,
	// 1002 PGP, 1005 GPG.
	Tag int
	// Header is true for header-only signatures, false for header+payload.
	Header bool
	// Kind is "V3 RSA/SHA1" and the like.
	Kind  string
	KeyID string // 16 hex digits, lower case
	// Fingerprint is the key that the signature was checked with (empty
	// for NOKEY).
	Fingerprint string
	Created     time.Time
	Status      SigStatus
	Detail      string
}

// String formats the check as rpm -Kv does.
func (c SigCheck) String() string {
	what := "Header " + c.Kind + " signature"
	if !c.Header {
		what = c.Kind + " signature (legacy, header+payload)"
	}
	if c.Kind == "" {
		what = fmt.Sprintf("signature tag %d", c.Tag)
	}
	s := fmt.Sprintf("%s, key ID %s: %s", what, c.KeyID, c.Status)
	if c.KeyID == "" {
		s = fmt.Sprintf("%s: %s", what, c.Status)
	}
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// DigestCheck is the result of one digest of an RPM.
type DigestCheck struct {
	Name      string // "Header SHA256", "Header SHA1", "Payload SHA256", "MD5"
	Want, Got string
	OK        bool
}

func (d DigestCheck) String() string {
	if d.OK {
		return d.Name + " digest: OK"
	}
	return fmt.Sprintf("%s digest: BAD (Expected %s != %s)", d.Name, d.Want, d.Got)
}

// Verification is what VerifyRPM found; it is returned even when
// verification fails, for the build report.
type Verification struct {
	Name       string
	Signatures []SigCheck
	Digests    []DigestCheck
	// Verified is the signature that established trust and Fingerprint
	// the (sub)key that made it; empty when none did.
	Verified    *SigCheck
	Fingerprint string
	// PrimaryFingerprint is the certificate's primary key when Fingerprint
	// is a subkey.
	PrimaryFingerprint string
	Warnings           []string

	// main is the package's main header, for the fetcher to match against
	// the metadata (MatchHeader); it drops it afterwards.
	main *rpmhdr.Header
}

// headerBuffer buffers the small reads of an RPM's lead and headers; a
// header bigger than it is read directly into its own buffer.
const headerBuffer = 16 << 10

// verifyRPMFile verifies the package at path: from its headers and the
// stamp st when st vouches for the file as it is (same identity, facts
// that fit its headers, an outcome for every key tried), else in full.
// It returns the file's identity before it was read and, after a full
// read that verified, the facts to stamp it with (nil when the stamp was
// used). Whatever the stamp cannot settle, a refusal included, is decided
// by the full read, so both ways give the same Verification and error.
func verifyRPMFile(path string, st *stamp, kr *KeyRing, gpgcheck bool) (*Verification, fileid.ID, *rpmFacts, error) {
	f, err := fileid.Open(path)
	if err != nil {
		return &Verification{Name: path}, fileid.ID{}, nil, fmt.Errorf("rpmrepo: %w", err)
	}
	defer f.Close()
	id, idErr := fileid.OfFile(f)
	if idErr == nil && st != nil && st.RPM != nil && st.ID == id {
		v, _, err := verifyRPM(bufio.NewReaderSize(f, headerBuffer), path, kr, gpgcheck, st.RPM)
		if err == nil {
			return v, id, nil, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return &Verification{Name: path}, id, nil, fmt.Errorf("rpmrepo: %w", err)
		}
	}
	v, facts, err := verifyRPM(bufio.NewReaderSize(f, headerBuffer), path, kr, gpgcheck, nil)
	if err != nil || idErr != nil {
		facts = nil
	}
	return v, id, facts, err
}

// VerifyRPM reads a whole .rpm from r and checks it as rpm -K does: the
// header SHA-1/SHA-256 digests, the payload digest, the legacy MD5, and
// every OpenPGP signature (V3 or V4; RSA, DSA, EdDSA) against kr. The
// payload is streamed, never held in memory.
//
// With gpgcheck, the package must carry a signature that verifies with a
// key of kr, whose key was neither revoked nor (for a subkey) expired when
// it signed, and that covers the payload (a header+payload signature, or a
// header signature over a header holding the payload digest). The expiry
// of a primary key is ignored, with a warning, as rpm does. Without
// gpgcheck only the digests must hold. Any BAD signature or digest fails.
// name is used in errors.
func VerifyRPM(r io.Reader, name string, kr *KeyRing, gpgcheck bool) (*Verification, error) {
	v, _, err := verifyRPM(r, name, kr, gpgcheck, nil)
	return v, err
}

// errStale: a stamp's facts do not fit the package read now (or name a
// key outcome not recorded); the package is then read in full.
var errStale = errors.New("stamp does not fit the package")

// verifyRPM is VerifyRPM. With known nil it reads the payload and also
// returns the facts the read established, for a stamp. With known (a
// stamp's facts for this very file) it reads only the headers, re-checks
// everything they hold against kr and gpgcheck as given now, and takes
// what needs the payload from known: the digests the payload hashed to,
// its size, and the outcome of a header+payload signature with a key of
// the same fingerprint as one of kr (rpmFacts says why that is sound). It
// returns errStale when known does not fit; the Verification is then
// meaningless.
func verifyRPM(r io.Reader, name string, kr *KeyRing, gpgcheck bool, known *rpmFacts) (v *Verification, facts *rpmFacts, err error) {
	v = &Verification{Name: name}
	defer func() {
		// Our parser bounds everything, but a bug must not take the build
		// down: report it as a malformed package.
		if p := recover(); p != nil {
			err = fmt.Errorf("rpmrepo: %s: %w: panic while reading: %v", name, ErrMalformedRPM, p)
		}
	}()
	hh := sha256.New()
	f, err := rpmhdr.ReadFile(io.TeeReader(r, hh), -1)
	if err != nil {
		return v, nil, fmt.Errorf("rpmrepo: %s: %w", name, err)
	}
	facts = &rpmFacts{HeaderEnd: f.PayloadOffset}
	hh.Sum(facts.HeaderSHA256[:0])
	stale := func() (*Verification, *rpmFacts, error) { return v, nil, errStale }
	if known != nil && (known.HeaderEnd != facts.HeaderEnd || known.HeaderSHA256 != facts.HeaderSHA256) {
		return stale()
	}
	v.main = f.Main
	fail := func(e error) (*Verification, *rpmFacts, error) { return v, nil, fmt.Errorf("rpmrepo: %s: %w", name, e) }
	// Header digests.
	for _, d := range []struct {
		tag  uint32
		name string
		sum  func([]byte) []byte
	}{
		{sigTagSHA256Header, "Header SHA256", func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }},
		{sigTagSHA1Header, "Header SHA1", func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
	} {
		want, ok, err := f.Sig.String(d.tag)
		if err != nil {
			return fail(fmt.Errorf("signature header: %w", err))
		}
		if ok {
			got := hex.EncodeToString(d.sum(f.Main.Raw))
			v.Digests = append(v.Digests, DigestCheck{Name: d.name, Want: strings.ToLower(want), Got: got, OK: strings.EqualFold(want, got)})
		}
	}

	// Signatures: header-only ones are checked now, header+payload ones
	// get a hash fed with the header and then the streamed payload.
	type pending struct {
		idx int
		tag uint32
		sig *pgpSig
		h   hash.Hash
	}
	var payloadSigs []pending
	var sinks []io.Writer
	for _, t := range []struct {
		tag    uint32
		header bool
	}{{sigTagRSAHeader, true}, {sigTagDSAHeader, true}, {sigTagPGP, false}, {sigTagGPG, false}} {
		blob, ok, err := f.Sig.Bin(t.tag)
		if err != nil {
			return fail(fmt.Errorf("signature header: %w", err))
		}
		if !ok {
			continue
		}
		c := SigCheck{Tag: int(t.tag), Header: t.header}
		s, err := parsePGPSig(blob)
		if err != nil {
			c.Status, c.Detail = parseFailure(err)
			v.Signatures = append(v.Signatures, c)
			continue
		}
		c.Kind, c.KeyID, c.Created = s.describe(), fmt.Sprintf("%016x", s.KeyID), s.Created
		h, err := s.newHash()
		if err != nil {
			c.Status, c.Detail = SigUnsupported, err.Error()
			v.Signatures = append(v.Signatures, c)
			continue
		}
		h.Write(f.Main.Raw)
		v.Signatures = append(v.Signatures, c)
		if t.header {
			v.checkSig(len(v.Signatures)-1, s, kr, hashVerifier(s, h, nil))
		} else {
			payloadSigs = append(payloadSigs, pending{len(v.Signatures) - 1, t.tag, s, h})
			sinks = append(sinks, h)
		}
	}

	// Payload: the legacy MD5 covers header+payload; the payload digest
	// (in the signed main header) covers the compressed payload.
	md5want, hasMD5, err := f.Sig.Bin(sigTagMD5)
	if err != nil {
		return fail(fmt.Errorf("signature header: %w", err))
	}
	var md5h hash.Hash
	if hasMD5 {
		md5h = md5.New()
		md5h.Write(f.Main.Raw)
		sinks = append(sinks, md5h)
	}
	pdWant, hasPD, err := f.Main.Strings(tagPayloadDigest)
	if err != nil {
		return fail(fmt.Errorf("main header: %w", err))
	}
	var pdh hash.Hash
	pdName := ""
	if hasPD {
		if len(pdWant) == 0 {
			return fail(fmt.Errorf("main header: %w: empty payload digest", ErrMalformedRPM))
		}
		algo := byte(8)
		if a, ok, err := f.Main.Int32s(tagPayloadDigestAlg); err != nil {
			return fail(fmt.Errorf("main header: %w", err))
		} else if ok && len(a) == 1 {
			algo = byte(a[0])
		}
		hf, ok := pgpHashes[algo]
		if !ok || hf == crypto.MD5 {
			return fail(fmt.Errorf("main header: %w: payload digest algorithm %d unsupported", ErrMalformedRPM, algo))
		}
		pdh = hf.New()
		pdName = "Payload " + algoName(pgpHashNames, algo)
		sinks = append(sinks, pdh)
	}
	if known == nil {
		fullReads.Add(1)
		// Big reads: the payload can be many megabytes.
		facts.PayloadSize, err = io.CopyBuffer(io.MultiWriter(sinks...), struct{ io.Reader }{r}, make([]byte, 256<<10))
		if err != nil {
			return fail(fmt.Errorf("reading payload: %w", err))
		}
		if hasPD {
			facts.PayloadDigest = pdh.Sum(nil)
		}
		if hasMD5 {
			facts.MD5 = md5h.Sum(nil)
		}
	} else {
		if hasPD != (known.PayloadDigest != nil) || hasMD5 != (known.MD5 != nil) {
			return stale()
		}
		facts.PayloadSize, facts.PayloadDigest, facts.MD5 = known.PayloadSize, known.PayloadDigest, known.MD5
	}
	if hasPD {
		got := hex.EncodeToString(facts.PayloadDigest)
		v.Digests = append(v.Digests, DigestCheck{Name: pdName, Want: strings.ToLower(pdWant[0]), Got: got, OK: strings.EqualFold(pdWant[0], got)})
	}
	if hasMD5 {
		got := facts.MD5
		v.Digests = append(v.Digests, DigestCheck{Name: "MD5", Want: hex.EncodeToString(md5want), Got: hex.EncodeToString(got), OK: bytes.Equal(md5want, got)})
	}
	if sz, ok, err := f.Sig.Int32s(sigTagSize); err == nil && ok && len(sz) == 1 {
		want := int64(sz[0])
		got := int64(len(f.Main.Raw)) + facts.PayloadSize
		if want != got {
			v.Digests = append(v.Digests, DigestCheck{Name: "Size", Want: fmt.Sprint(want), Got: fmt.Sprint(got)})
		}
	}
	for _, p := range payloadSigs {
		verify := hashVerifier(p.sig, p.h, func(fpr string, err error) {
			o := sigOutcome{Tag: p.tag, Fingerprint: fpr}
			if err != nil {
				o.Err = err.Error()
			}
			facts.Sigs = append(facts.Sigs, o)
		})
		if known != nil {
			verify = func(k *Key) error {
				o, ok := known.outcome(p.tag, k.Fingerprint)
				if !ok {
					return errStale
				}
				facts.Sigs = append(facts.Sigs, o)
				if o.Err != "" {
					return errors.New(o.Err)
				}
				return nil
			}
		}
		if v.checkSig(p.idx, p.sig, kr, verify) != nil {
			return stale()
		}
	}

	// Verdict.
	for _, d := range v.Digests {
		if !d.OK {
			return fail(fmt.Errorf("%w: %s", ErrDigest, d))
		}
	}
	if !gpgcheck {
		return v, facts, nil
	}
	var ok, payloadCovered bool
	var notTrusted, noKey []string
	for i, c := range v.Signatures {
		switch c.Status {
		case SigBad:
			return fail(fmt.Errorf("%w: %s", ErrBadSignature, c))
		case SigOK:
			if !ok {
				v.Verified = &v.Signatures[i]
				v.Fingerprint = c.Fingerprint
			}
			ok = true
			if !c.Header || hasPD {
				payloadCovered = true
			}
		case SigNotTrusted:
			notTrusted = append(notTrusted, c.String())
		default:
			noKey = append(noKey, c.String())
		}
	}
	switch {
	case ok && payloadCovered:
		if k := v.findKey(kr); k != nil && !k.primary {
			v.PrimaryFingerprint = k.Cert.Primary.Fingerprint
		}
		return v, facts, nil
	case ok:
		return fail(fmt.Errorf("%w: only the header is signed and it holds no payload digest", ErrUnsigned))
	case len(notTrusted) > 0:
		return fail(fmt.Errorf("%w: %s", ErrNotTrusted, strings.Join(notTrusted, "; ")))
	case len(noKey) > 0:
		return fail(fmt.Errorf("%w (key ring: %s): %s", ErrNoKey, strings.Join(kr.fingerprintsOrNone(), ", "), strings.Join(noKey, "; ")))
	default:
		return fail(ErrUnsigned)
	}
}

func (kr *KeyRing) fingerprintsOrNone() []string {
	if kr == nil || len(kr.Certs) == 0 {
		return []string{"empty"}
	}
	return kr.Fingerprints()
}

func (v *Verification) findKey(kr *KeyRing) *Key {
	if kr == nil {
		return nil
	}
	for _, c := range kr.Certs {
		for _, k := range c.keys() {
			if k.Fingerprint == v.Fingerprint {
				return k
			}
		}
	}
	return nil
}

// checkSig checks signature i against the keys of kr with its key id, with
// verify telling whether the signed data verifies with one of them, and
// records the outcome. It returns verify's errStale, if any.
func (v *Verification) checkSig(i int, s *pgpSig, kr *KeyRing, verify func(*Key) error) error {
	c := &v.Signatures[i]
	if s.SigType != 0 {
		c.Status, c.Detail = SigBad, fmt.Sprintf("signature type %#02x, want binary (0x00)", s.SigType)
		return nil
	}
	if s.hash == crypto.MD5 {
		c.Status, c.Detail = SigUnsupported, "MD5 signatures are insecure"
		return nil
	}
	var cands []*Key
	for _, k := range kr.lookup(s.KeyID) {
		if len(s.Fpr) > 0 && !strings.EqualFold(fmt.Sprintf("%X", s.Fpr), k.Fingerprint) {
			continue
		}
		cands = append(cands, k)
	}
	if len(cands) == 0 {
		c.Status = SigNoKey
		return nil
	}
	// Several certificates can hold the same key (the alice variants).
	var st SigStatus
	var detail, fpr string
	for _, k := range cands {
		if err := verify(k); err != nil {
			var u unsupportedError
			switch {
			case errors.Is(err, errStale):
				return err
			case errors.As(err, &u):
				c.Status, c.Detail = SigUnsupported, u.Error()
				return nil
			}
			if st == "" {
				st, detail, fpr = SigBad, err.Error(), k.Fingerprint
			}
			continue
		}
		if why := k.untrusted(s.Created); why != "" {
			if st != SigNotTrusted {
				st, detail, fpr = SigNotTrusted, why, k.Fingerprint
			}
			continue
		}
		st, detail, fpr = SigOK, "", k.Fingerprint
		if p := k.Cert.Primary; !p.Expires.IsZero() && p.Expires.Before(s.Created) {
			v.Warnings = append(v.Warnings, fmt.Sprintf("signature %d made %s by key %s whose primary key expired %s (ignored, as rpm does)",
				c.Tag, s.Created.UTC().Format(time.RFC3339), fpr, p.Expires.UTC().Format(time.RFC3339)))
		} else if !p.Expires.IsZero() {
			v.Warnings = append(v.Warnings, fmt.Sprintf("key %s: primary key expires %s (ignored, as rpm does)",
				p.Fingerprint, p.Expires.UTC().Format(time.RFC3339)))
		}
		break
	}
	c.Status, c.Detail, c.Fingerprint = st, detail, fpr
	return nil
}

// unsupportedError: the signature cannot be checked at all.
type unsupportedError struct{ error }

// hashVerifier verifies s over the data written to h, with a fresh copy
// of h's state for each key (several certificates can hold the same key:
// the alice variants). record, when not nil, is told each key's outcome.
func hashVerifier(s *pgpSig, h hash.Hash, record func(fpr string, err error)) func(*Key) error {
	return func(k *Key) error {
		hk, err := cloneHash(h)
		if err != nil {
			return unsupportedError{err}
		}
		err = s.verify(hk, k)
		if record != nil {
			record(k.Fingerprint, err)
		}
		return err
	}
}

// untrusted says why k may not make a signature at time t, or "".
func (k *Key) untrusted(t time.Time) string {
	p := k.Cert.Primary
	if p.Revoked {
		return "key is revoked (primary key " + p.Fingerprint + ")"
	}
	if k.Revoked && (k.HardRevoked || !t.Before(k.RevokedAt)) {
		return "key is revoked"
	}
	if !k.CanSign {
		return "key may not sign"
	}
	if !k.primary {
		if t.Before(k.Created) {
			return "signature predates the key"
		}
		if !k.Expires.IsZero() && !t.Before(k.Expires) {
			return "key is not alive: expired " + k.Expires.UTC().Format(time.RFC3339)
		}
	}
	return ""
}

// cloneHash copies a hash state; every standard hash is a hash.Cloner.
func cloneHash(h hash.Hash) (hash.Hash, error) {
	c, ok := h.(hash.Cloner)
	if !ok {
		return nil, fmt.Errorf("hash %T cannot be cloned", h)
	}
	return c.Clone()
}
