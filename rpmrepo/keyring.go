package rpmrepo

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/vicroot/vicroot/internal/pgparmor"
)

// ErrKey is wrapped by every error about a key file that cannot be used.
var ErrKey = errors.New("unusable OpenPGP key")

// Key is one primary key or subkey of a certificate in a KeyRing.
type Key struct {
	// Fingerprint is the upper-case hex V4 fingerprint.
	Fingerprint string
	KeyID       uint64
	Created     time.Time
	// Expires is when the key's binding (or, for a primary key, its
	// self-signature) says it expires; zero when it does not.
	Expires time.Time
	// Revoked is set by a valid revocation signature; RevokedAt is its
	// time, and HardRevoked is set when the reason makes it retroactive
	// (no reason, or "key compromised").
	Revoked     bool
	RevokedAt   time.Time
	HardRevoked bool
	// CanSign is false when the key flags exclude signing (a certify-only
	// primary, an encryption subkey).
	CanSign bool
	// Cert is the certificate the key belongs to.
	Cert *Cert

	pub     *packet.PublicKey
	primary bool
}

// Cert is one OpenPGP certificate (transferable public key): a primary
// key, its user ids and its subkeys.
type Cert struct {
	Primary *Key
	Subkeys []*Key
	UserIDs []string
	// Source names the key file the certificate came from.
	Source string
	// Warnings are problems rpm ignores but a build report should show
	// ("primary key expired 2017-07-25").
	Warnings []string
}

// KeyRing is a set of trusted certificates: the keys a repository's gpgkey
// list supplies. It is immutable once read.
type KeyRing struct {
	Certs []*Cert
	byID  map[uint64][]*Key
}

// KeyFile is the content of one key file and the name errors use for it.
type KeyFile struct {
	Name string
	Data []byte
}

// ReadKeyFiles reads one or more key files. Each may be ASCII-armored (with
// several PUBLIC KEY BLOCKs, each holding one or more certificates) or
// binary. A certificate whose primary key cannot be parsed is an error; a
// subkey or signature in a format we do not know (V3 keys, unknown
// algorithms) is skipped, with a warning on the certificate for subkeys.
func ReadKeyFiles(files ...KeyFile) (*KeyRing, error) {
	kr := &KeyRing{byID: map[uint64][]*Key{}}
	for _, f := range files {
		name, data := f.Name, f.Data
		certs, err := parseKeyFile(data, name)
		if err != nil {
			return nil, err
		}
		kr.Certs = append(kr.Certs, certs...)
	}
	if len(kr.Certs) == 0 {
		return nil, fmt.Errorf("rpmrepo: %w: no public keys found", ErrKey)
	}
	for _, c := range kr.Certs {
		for _, k := range c.keys() {
			kr.byID[k.KeyID] = append(kr.byID[k.KeyID], k)
		}
	}
	return kr, nil
}

func (c *Cert) keys() []*Key { return append([]*Key{c.Primary}, c.Subkeys...) }

// Fingerprints returns the primary fingerprints of the key ring, sorted.
func (kr *KeyRing) Fingerprints() []string {
	var out []string
	for _, c := range kr.Certs {
		out = append(out, c.Primary.Fingerprint)
	}
	sort.Strings(out)
	return out
}

// lookup returns the keys with the given key id.
func (kr *KeyRing) lookup(id uint64) []*Key {
	if kr == nil {
		return nil
	}
	return kr.byID[id]
}

// parseKeyFile splits a key file into certificates.
func parseKeyFile(data []byte, name string) ([]*Cert, error) {
	var blobs [][]byte
	if pgparmor.IsArmored(data) {
		blocks, err := pgparmor.Split(data)
		if err != nil {
			return nil, fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrKey, err)
		}
		for _, b := range blocks {
			if b.Type != pgparmor.PublicKey {
				return nil, fmt.Errorf("rpmrepo: %s: %w: armor block %q, want PGP PUBLIC KEY BLOCK", name, ErrKey, b.Type)
			}
			blobs = append(blobs, b.Body)
		}
	} else {
		blobs = append(blobs, data)
	}
	var certs []*Cert
	for _, b := range blobs {
		cs, err := parseCerts(b, name)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("rpmrepo: %s: %w: no public key in file", name, ErrKey)
	}
	return certs, nil
}

// OpenPGP packet tags.
const (
	tagSignature = 2
	tagPublicKey = 6
	tagTrust     = 12
	tagUserID    = 13
	tagSubkey    = 14
	tagUserAttr  = 17
)

// rawPacket is one OpenPGP packet: its tag, body, and the whole framed
// packet (what go-crypto's packet.Read wants).
type rawPacket struct {
	tag  int
	body []byte
	full []byte
}

// splitPackets frames an OpenPGP packet sequence (RFC 4880 §4.2, old and
// new formats). Partial body lengths are not allowed in keys or
// signatures, so they are an error.
func splitPackets(b []byte) ([]rawPacket, error) {
	var out []rawPacket
	for off := 0; off < len(b); {
		start := off
		h := b[off]
		if h&0x80 == 0 {
			return nil, fmt.Errorf("packet at offset %d: bad header byte %#02x", off, h)
		}
		off++
		var tag, n int
		if h&0x40 != 0 { // new format
			tag = int(h & 0x3f)
			if off >= len(b) {
				return nil, fmt.Errorf("packet at offset %d: truncated length", start)
			}
			l0 := int(b[off])
			switch {
			case l0 < 192:
				n, off = l0, off+1
			case l0 < 224:
				if off+2 > len(b) {
					return nil, fmt.Errorf("packet at offset %d: truncated length", start)
				}
				n, off = (l0-192)<<8+int(b[off+1])+192, off+2
			case l0 == 255:
				if off+5 > len(b) {
					return nil, fmt.Errorf("packet at offset %d: truncated length", start)
				}
				v := uint32(b[off+1])<<24 | uint32(b[off+2])<<16 | uint32(b[off+3])<<8 | uint32(b[off+4])
				if v > uint32(len(b)) {
					return nil, fmt.Errorf("packet at offset %d: length %d past the end", start, v)
				}
				n, off = int(v), off+5
			default:
				return nil, fmt.Errorf("packet at offset %d: partial body length not allowed here", start)
			}
		} else { // old format
			tag = int(h>>2) & 0xf
			switch h & 3 {
			case 0:
				if off+1 > len(b) {
					return nil, fmt.Errorf("packet at offset %d: truncated length", start)
				}
				n, off = int(b[off]), off+1
			case 1:
				if off+2 > len(b) {
					return nil, fmt.Errorf("packet at offset %d: truncated length", start)
				}
				n, off = int(b[off])<<8|int(b[off+1]), off+2
			case 2:
				if off+4 > len(b) {
					return nil, fmt.Errorf("packet at offset %d: truncated length", start)
				}
				v := uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3])
				if v > uint32(len(b)) {
					return nil, fmt.Errorf("packet at offset %d: length %d past the end", start, v)
				}
				n, off = int(v), off+4
			default: // indeterminate: to the end
				n = len(b) - off
			}
		}
		if n > len(b)-off {
			return nil, fmt.Errorf("packet at offset %d (tag %d): body of %d bytes runs past the end (%d left)", start, tag, n, len(b)-off)
		}
		out = append(out, rawPacket{tag: tag, body: b[off : off+n], full: b[start : off+n]})
		off += n
	}
	return out, nil
}

// parseCerts groups packets into certificates and validates bindings at
// packet level, as rpm does: self-signatures and subkey bindings must
// verify, the primary key's expiry is recorded but not enforced.
func parseCerts(b []byte, name string) ([]*Cert, error) {
	pkts, err := splitPackets(b)
	if err != nil {
		return nil, fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrKey, err)
	}
	type pending struct {
		cert   *Cert
		uidSig map[string][]*packet.Signature
		direct []*packet.Signature
		sub    []*Key
		subSig [][]*packet.Signature
	}
	var certs []*pending
	var cur *pending
	var curUID string
	inSub := -1
	for i, p := range pkts {
		switch p.tag {
		case tagPublicKey:
			pk, err := readPublicKey(p)
			if err != nil {
				return nil, fmt.Errorf("rpmrepo: %s: %w: primary key (packet %d): %v", name, ErrKey, i, err)
			}
			k := newKey(pk, true)
			cur = &pending{cert: &Cert{Primary: k, Source: name}, uidSig: map[string][]*packet.Signature{}}
			k.Cert = cur.cert
			certs = append(certs, cur)
			curUID, inSub = "", -1
		case tagSubkey:
			if cur == nil {
				return nil, fmt.Errorf("rpmrepo: %s: %w: subkey before any primary key", name, ErrKey)
			}
			pk, err := readPublicKey(p)
			if err != nil {
				cur.cert.Warnings = append(cur.cert.Warnings, fmt.Sprintf("subkey (packet %d) skipped: %v", i, err))
				inSub = -2 // skip its signatures
				continue
			}
			k := newKey(pk, false)
			k.Cert = cur.cert
			cur.sub = append(cur.sub, k)
			cur.subSig = append(cur.subSig, nil)
			inSub = len(cur.sub) - 1
		case tagUserID:
			if cur == nil {
				return nil, fmt.Errorf("rpmrepo: %s: %w: user id before any primary key", name, ErrKey)
			}
			curUID = string(p.body)
			cur.cert.UserIDs = append(cur.cert.UserIDs, curUID)
			inSub = -1
		case tagUserAttr:
			curUID, inSub = "\x00attr", -1
		case tagSignature:
			if cur == nil {
				return nil, fmt.Errorf("rpmrepo: %s: %w: signature before any primary key", name, ErrKey)
			}
			if inSub == -2 {
				continue
			}
			pp, err := packet.Read(bytes.NewReader(p.full))
			sig, ok := pp.(*packet.Signature)
			if err != nil || !ok {
				// V3 certifications by third parties and the like: rpm
				// does not need them.
				continue
			}
			switch {
			case inSub >= 0:
				cur.subSig[inSub] = append(cur.subSig[inSub], sig)
			case curUID != "":
				cur.uidSig[curUID] = append(cur.uidSig[curUID], sig)
			default:
				cur.direct = append(cur.direct, sig)
			}
		case tagTrust:
		default:
			// Other packets (marker, padding) carry nothing rpm uses.
		}
	}
	var out []*Cert
	for _, pc := range certs {
		c := pc.cert
		prim := c.Primary
		// Primary key: the newest valid self-signature decides flags and
		// expiry; a valid key revocation revokes the whole certificate.
		var best *packet.Signature
		consider := func(s *packet.Signature) {
			if best == nil || s.CreationTime.After(best.CreationTime) {
				best = s
			}
		}
		for _, s := range pc.direct {
			if !issuedBy(s, prim) {
				continue
			}
			switch s.SigType {
			case packet.SigTypeDirectSignature:
				if prim.pub.VerifyDirectKeySignature(s) == nil {
					consider(s)
				}
			case packet.SigTypeKeyRevocation:
				if prim.pub.VerifyRevocationSignature(s) == nil {
					markRevoked(prim, s)
				}
			}
		}
		uids := make([]string, 0, len(pc.uidSig))
		for u := range pc.uidSig {
			uids = append(uids, u)
		}
		sort.Strings(uids)
		for _, u := range uids {
			for _, s := range pc.uidSig[u] {
				if !issuedBy(s, prim) || s.SigType < packet.SigTypeGenericCert || s.SigType > packet.SigTypePositiveCert {
					continue
				}
				if prim.pub.VerifyUserIdSignature(u, prim.pub, s) == nil {
					consider(s)
				}
			}
		}
		if best != nil {
			if best.KeyLifetimeSecs != nil && *best.KeyLifetimeSecs != 0 {
				prim.Expires = prim.Created.Add(time.Duration(*best.KeyLifetimeSecs) * time.Second)
			}
			if best.FlagsValid {
				prim.CanSign = best.FlagSign
			}
		}
		if !prim.Expires.IsZero() {
			c.Warnings = append(c.Warnings, fmt.Sprintf("primary key %s expires %s (rpm ignores the expiry of a primary key)",
				prim.Fingerprint, prim.Expires.UTC().Format(time.RFC3339)))
		}
		if prim.Revoked {
			c.Warnings = append(c.Warnings, fmt.Sprintf("primary key %s revoked %s", prim.Fingerprint, prim.RevokedAt.UTC().Format(time.RFC3339)))
		}
		for i, sk := range pc.sub {
			var bind *packet.Signature
			for _, s := range pc.subSig[i] {
				if !issuedBy(s, prim) {
					continue
				}
				switch s.SigType {
				case packet.SigTypeSubkeyBinding:
					if prim.pub.VerifyKeySignature(sk.pub, s) == nil && (bind == nil || s.CreationTime.After(bind.CreationTime)) {
						bind = s
					}
				case packet.SigTypeSubkeyRevocation:
					if prim.pub.VerifySubkeyRevocationSignature(s, sk.pub) == nil {
						markRevoked(sk, s)
					}
				}
			}
			if bind == nil {
				c.Warnings = append(c.Warnings, fmt.Sprintf("subkey %s has no valid binding signature: ignored", sk.Fingerprint))
				continue
			}
			if bind.KeyLifetimeSecs != nil && *bind.KeyLifetimeSecs != 0 {
				sk.Expires = sk.Created.Add(time.Duration(*bind.KeyLifetimeSecs) * time.Second)
			}
			if bind.FlagsValid {
				sk.CanSign = bind.FlagSign
			}
			c.Subkeys = append(c.Subkeys, sk)
		}
		out = append(out, c)
	}
	return out, nil
}

func markRevoked(k *Key, s *packet.Signature) {
	hard := s.RevocationReason == nil || *s.RevocationReason == packet.NoReason || *s.RevocationReason == packet.KeyCompromised
	if !k.Revoked || s.CreationTime.Before(k.RevokedAt) {
		k.RevokedAt = s.CreationTime
	}
	k.Revoked = true
	k.HardRevoked = k.HardRevoked || hard
}

func issuedBy(s *packet.Signature, k *Key) bool {
	if len(s.IssuerFingerprint) > 0 {
		return strings.EqualFold(fmt.Sprintf("%X", s.IssuerFingerprint), k.Fingerprint)
	}
	if s.IssuerKeyId != nil {
		return *s.IssuerKeyId == k.KeyID
	}
	// No issuer at all: let the cryptographic check decide.
	return true
}

func readPublicKey(p rawPacket) (*packet.PublicKey, error) {
	if len(p.body) > 0 && p.body[0] < 4 {
		return nil, fmt.Errorf("V%d keys are not supported", p.body[0])
	}
	pp, err := packet.Read(bytes.NewReader(p.full))
	if err != nil {
		return nil, err
	}
	pk, ok := pp.(*packet.PublicKey)
	if !ok {
		return nil, fmt.Errorf("packet is %T, want a public key", pp)
	}
	return pk, nil
}

func newKey(pk *packet.PublicKey, primary bool) *Key {
	return &Key{
		Fingerprint: fmt.Sprintf("%X", pk.Fingerprint),
		KeyID:       pk.KeyId,
		Created:     pk.CreationTime,
		CanSign:     pk.CanSign(),
		pub:         pk,
		primary:     primary,
	}
}
