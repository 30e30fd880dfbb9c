package rpmrepo

import (
	"bytes"
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA keys still sign RHEL and Fedora packages.
	_ "crypto/md5"
	"crypto/rsa"
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// pgpSig is one OpenPGP signature packet from an RPM signature tag. V4 (and
// later) packets are parsed and verified by go-crypto; V3 packets, which
// go-crypto rejects but which Photon, RHEL and Fedora use, are ours.
type pgpSig struct {
	Version  int
	SigType  byte
	Created  time.Time
	KeyID    uint64
	Fpr      []byte // issuer fingerprint when the packet names one
	PubAlgo  byte
	HashAlgo byte
	hash     crypto.Hash

	v4 *packet.Signature

	v3trailer [5]byte // sig type and creation time, hashed after the data
	left16    [2]byte
	mpis      [][]byte
}

// OpenPGP hash algorithm ids (RFC 4880 §9.4).
var pgpHashes = map[byte]crypto.Hash{
	1: crypto.MD5, 2: crypto.SHA1, 8: crypto.SHA256, 9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224,
}

var pgpHashNames = map[byte]string{
	1: "MD5", 2: "SHA1", 3: "RIPEMD160", 8: "SHA256", 9: "SHA384", 10: "SHA512", 11: "SHA224",
}

var pgpAlgoNames = map[byte]string{
	1: "RSA", 3: "RSA", 16: "ElGamal", 17: "DSA", 19: "ECDSA", 22: "EdDSA", 27: "Ed25519", 28: "Ed448",
}

func algoName(m map[byte]string, a byte) string {
	if n, ok := m[a]; ok {
		return n
	}
	return fmt.Sprintf("algo%d", a)
}

// errSigUnsupported marks a well-formed signature packet this package
// cannot check (an unknown algorithm).
var errSigUnsupported = errors.New("unsupported")

// parseFailure is the status of a signature packet that parsePGPSig
// refused: UNSUPPORTED for an algorithm or version it cannot check, and
// otherwise BAD, as rpm -Kv reports an invalid OpenPGP signature (not
// NOKEY: nothing could even say which key made it).
func parseFailure(err error) (SigStatus, string) {
	var ue pgperrors.UnsupportedError
	if errors.Is(err, errSigUnsupported) || errors.As(err, &ue) {
		return SigUnsupported, err.Error()
	}
	return SigBad, "malformed OpenPGP signature: " + err.Error()
}

// parsePGPSig parses the single signature packet an RPM signature tag holds.
func parsePGPSig(b []byte) (*pgpSig, error) {
	pkts, err := splitPackets(b)
	if err != nil {
		return nil, err
	}
	if len(pkts) != 1 || pkts[0].tag != tagSignature {
		return nil, fmt.Errorf("want one signature packet, got %d packets", len(pkts))
	}
	body := pkts[0].body
	if len(body) == 0 {
		return nil, errors.New("empty signature packet")
	}
	if body[0] == 3 || body[0] == 2 {
		return parseV3Sig(body)
	}
	p, err := packet.Read(bytes.NewReader(pkts[0].full))
	if err != nil {
		return nil, err
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return nil, fmt.Errorf("packet is %T, want a signature", p)
	}
	s := &pgpSig{
		Version: sig.Version, SigType: byte(sig.SigType), Created: sig.CreationTime,
		PubAlgo: byte(sig.PubKeyAlgo), hash: sig.Hash, v4: sig, Fpr: sig.IssuerFingerprint,
	}
	for id, h := range pgpHashes {
		if h == sig.Hash {
			s.HashAlgo = id
		}
	}
	switch {
	case sig.IssuerKeyId != nil:
		s.KeyID = *sig.IssuerKeyId
	case len(sig.IssuerFingerprint) >= 8 && sig.Version == 4:
		s.KeyID = binary.BigEndian.Uint64(sig.IssuerFingerprint[len(sig.IssuerFingerprint)-8:])
	case len(sig.IssuerFingerprint) >= 8:
		s.KeyID = binary.BigEndian.Uint64(sig.IssuerFingerprint[:8])
	default:
		return nil, errors.New("V4 signature names no issuer")
	}
	return s, nil
}

// parseV3Sig parses a V3 signature packet body (RFC 4880 §5.2.2).
func parseV3Sig(b []byte) (*pgpSig, error) {
	if len(b) < 19 {
		return nil, fmt.Errorf("V3 signature packet of %d bytes is too short", len(b))
	}
	if b[1] != 5 {
		return nil, fmt.Errorf("V3 signature: hashed length %d, want 5", b[1])
	}
	s := &pgpSig{
		Version:  int(b[0]),
		SigType:  b[2],
		Created:  time.Unix(int64(binary.BigEndian.Uint32(b[3:7])), 0),
		KeyID:    binary.BigEndian.Uint64(b[7:15]),
		PubAlgo:  b[15],
		HashAlgo: b[16],
	}
	copy(s.v3trailer[:], b[2:7])
	copy(s.left16[:], b[17:19])
	h, ok := pgpHashes[s.HashAlgo]
	if !ok {
		return nil, fmt.Errorf("V3 signature: %w hash algorithm %s", errSigUnsupported, algoName(pgpHashNames, s.HashAlgo))
	}
	s.hash = h
	var want int
	switch s.PubAlgo {
	case 1, 3:
		want = 1
	case 17:
		want = 2
	default:
		return nil, fmt.Errorf("V3 signature: %w public-key algorithm %s", errSigUnsupported, algoName(pgpAlgoNames, s.PubAlgo))
	}
	rest := b[19:]
	for i := 0; i < want; i++ {
		if len(rest) < 2 {
			return nil, errors.New("V3 signature: truncated MPI")
		}
		bits := int(binary.BigEndian.Uint16(rest))
		n := (bits + 7) / 8
		if len(rest) < 2+n {
			return nil, errors.New("V3 signature: truncated MPI")
		}
		s.mpis = append(s.mpis, rest[2:2+n])
		rest = rest[2+n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("V3 signature: %d trailing bytes", len(rest))
	}
	return s, nil
}

// newHash returns the hash the signed data is written to.
func (s *pgpSig) newHash() (hash.Hash, error) {
	if s.v4 != nil {
		return s.v4.PrepareVerify()
	}
	if !s.hash.Available() {
		return nil, fmt.Errorf("hash %v not available", s.hash)
	}
	return s.hash.New(), nil
}

// verify checks the signature over the data written to h with key k.
func (s *pgpSig) verify(h hash.Hash, k *Key) error {
	if s.v4 != nil {
		return k.pub.VerifySignature(h, s.v4)
	}
	if k.pub.PubKeyAlgo != packet.PublicKeyAlgorithm(s.PubAlgo) &&
		!(s.PubAlgo == 1 && k.pub.PubKeyAlgo == packet.PubKeyAlgoRSASignOnly) &&
		!(s.PubAlgo == 3 && k.pub.PubKeyAlgo == packet.PubKeyAlgoRSA) {
		return fmt.Errorf("key algorithm %s does not match signature algorithm %s",
			algoName(pgpAlgoNames, byte(k.pub.PubKeyAlgo)), algoName(pgpAlgoNames, s.PubAlgo))
	}
	h.Write(s.v3trailer[:])
	d := h.Sum(nil)
	if d[0] != s.left16[0] || d[1] != s.left16[1] {
		return errors.New("digest does not match the signature's left 16 bits")
	}
	switch s.PubAlgo {
	case 1, 3:
		pub, ok := k.pub.PublicKey.(*rsa.PublicKey)
		if !ok {
			return errors.New("not an RSA key")
		}
		sig := s.mpis[0]
		// Signature MPIs drop leading zeros; PKCS#1 wants the key's length.
		if n := (pub.N.BitLen() + 7) / 8; len(sig) < n {
			sig = append(make([]byte, n-len(sig)), sig...)
		}
		if err := rsa.VerifyPKCS1v15(pub, s.hash, d, sig); err != nil {
			return errors.New("RSA verification failure")
		}
		return nil
	case 17:
		pub, ok := k.pub.PublicKey.(*dsa.PublicKey)
		if !ok {
			return errors.New("not a DSA key")
		}
		if n := (pub.Q.BitLen() + 7) / 8; len(d) > n {
			d = d[:n]
		}
		if !dsa.Verify(pub, d, new(big.Int).SetBytes(s.mpis[0]), new(big.Int).SetBytes(s.mpis[1])) {
			return errors.New("DSA verification failure")
		}
		return nil
	}
	return fmt.Errorf("unsupported algorithm %d", s.PubAlgo)
}

// describe names the signature as rpm -Kv does: "V4 RSA/SHA256".
func (s *pgpSig) describe() string {
	h := algoName(pgpHashNames, s.HashAlgo)
	if s.HashAlgo == 0 {
		h = s.hash.String()
	}
	return fmt.Sprintf("V%d %s/%s", s.Version, algoName(pgpAlgoNames, s.PubAlgo), h)
}
