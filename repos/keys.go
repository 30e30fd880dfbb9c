package repos

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/vicroot/vicroot/internal/pgparmor"
)

// ErrFingerprintMismatch is returned (wrapped) when key material does not
// match the fingerprint a definition pins.
var ErrFingerprintMismatch = errors.New("fingerprint does not match the pin")

// Key sources.
const (
	KeyFromDefinition = "definition" // a file in the definition folder
	KeyPinned         = "pinned"     // no material yet: it must come from the repository and match Pins
	KeyFromGPGKeyFlag = "gpgkey"     // added by hand (--gpgkey FILE)
)

// Key is one trusted signing key of a definition.
//
// A .repo line gpgkey=file:///P names a path inside the image (as VIC's
// setup_pm does): the key is read from <definition>/<basename P> and
// installed in the image at P. When that file is absent but the definition
// pins the key (gpgkeys), the material must come from the repository's
// release package that ships P (photon-repos, centos-release); the build
// accepts it only if Verify passes, and must then verify that package like
// any other. gpgkey=https://… is allowed only with a pin, and the fetched
// key is accepted only if Verify passes.
type Key struct {
	URL       string   `json:"url,omitempty"`        // the gpgkey value as used (after $releasever/$basearch); "" for --gpgkey keys
	ImagePath string   `json:"image_path,omitempty"` // where the image carries it (file:// keys)
	Source    string   `json:"source"`               // KeyFromDefinition, KeyPinned or KeyFromGPGKeyFlag
	File      string   `json:"file,omitempty"`       // where Armored came from: a definition-relative name or a --gpgkey path
	Pins      []string `json:"pins,omitempty"`       // pinned fingerprints, from gpgkeys
	// Fingerprints of the primary keys in Armored; empty while Source is KeyPinned.
	Fingerprints []string `json:"fingerprints,omitempty"`
	RepoFiles    []string `json:"repo_files,omitempty"` // the .repo files that name it
	Armored      []byte   `json:"-"`                    // the key material, nil while Source is KeyPinned
}

// Verify checks key material obtained for k (from a release package or a
// URL) against k's pins and returns its fingerprints. Every primary key in
// the material must be pinned; a key without pins accepts nothing (fail
// closed).
func (k *Key) Verify(material []byte) ([]string, error) {
	name := k.URL
	if name == "" {
		name = k.File
	}
	fps, err := CheckPin(material, k.Pins)
	if err != nil {
		return nil, fmt.Errorf("repos: key %s: %w", name, err)
	}
	return fps, nil
}

// NormalizeFingerprint returns a fingerprint as upper-case hex without
// spaces. It accepts the forms people paste ("36E4 7E1C …", "0x…",
// lower case) and rejects anything that is not 40 (V4) or 64 (V6) hex
// digits: a short key ID is not a pin.
func NormalizeFingerprint(s string) (string, error) {
	t := strings.Join(strings.Fields(s), "")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	t = strings.ToUpper(t)
	if _, err := hex.DecodeString(t); err != nil || (len(t) != 40 && len(t) != 64) {
		return "", fmt.Errorf("%q: expected a full key fingerprint (40 or 64 hex digits)", s)
	}
	return t, nil
}

// Fingerprints returns the fingerprints of the primary public keys in a key
// file (ASCII-armored, possibly several blocks, or binary), in file order.
// It reads packets, not whole entities: self-signatures are not checked,
// so old keys (the VMware RSA-1024 key with its SHA-1 self-signature,
// expired in 2017) still give their fingerprint — trust comes from the pin,
// and rpm ignores expiry too.
func Fingerprints(data []byte) ([]string, error) {
	var fps []string
	if !pgparmor.IsArmored(data) {
		if err := packetFingerprints(bytes.NewReader(data), &fps); err != nil {
			return nil, err
		}
	} else {
		blocks, err := pgparmor.Split(data)
		if err != nil {
			return nil, err
		}
		for _, b := range blocks {
			if b.Type != pgparmor.PublicKey {
				continue
			}
			if err := packetFingerprints(bytes.NewReader(b.Body), &fps); err != nil {
				return nil, err
			}
		}
	}
	if len(fps) == 0 {
		return nil, errors.New("no OpenPGP public key found")
	}
	return fps, nil
}

func packetFingerprints(r io.Reader, fps *[]string) (err error) {
	defer func() {
		// The packet parser is third-party code fed untrusted bytes.
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed OpenPGP data: %v", p)
		}
	}()
	pr := packet.NewReader(bufio.NewReader(r))
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("OpenPGP packet: %w", err)
		}
		if pk, ok := p.(*packet.PublicKey); ok && !pk.IsSubkey {
			fp := strings.ToUpper(hex.EncodeToString(pk.Fingerprint))
			if !slices.Contains(*fps, fp) {
				*fps = append(*fps, fp)
			}
		}
	}
}

// CheckPin reads a key file and checks that every primary key in it has a
// pinned fingerprint (so a pinned file cannot smuggle in a second key). It
// returns the fingerprints. An error wraps ErrFingerprintMismatch when the
// material is readable but not pinned.
func CheckPin(data []byte, pins []string) ([]string, error) {
	fps, err := Fingerprints(data)
	if err != nil {
		return nil, err
	}
	for _, fp := range fps {
		if !slices.Contains(pins, fp) {
			return nil, fmt.Errorf("%w: key %s is not among the pinned %s", ErrFingerprintMismatch, fp, strings.Join(pins, ", "))
		}
	}
	return fps, nil
}

// GPGKeyValues returns the gpgkey= values of a .repo file in file order,
// duplicates removed. This is a deliberately minimal scan, not a .repo
// parser (that is rpmrepo's job): lines are trimmed; lines starting with
// '#' or ';' and section headers are skipped; a line whose key (before the
// first '=', trimmed, case-insensitive) is "gpgkey" contributes its value
// split on white space and commas; following indented lines without '='
// continue it, as in yum's multi-line options. Variables are not expanded
// here.
func GPGKeyValues(data []byte) []string {
	var out []string
	add := func(v string) {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	inKey := false
	for _, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimRight(raw, "\r")
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if inKey && (line[0] == ' ' || line[0] == '\t') && !strings.Contains(t, "=") {
			add(t)
			continue
		}
		inKey = false
		if t[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "gpgkey") {
			add(v)
			inKey = true
		}
	}
	return out
}
