// Package pgparmor splits a file into its ASCII-armored OpenPGP blocks —
// the one armor splitter behind both the definition's key pins (repos) and
// the verifying key ring (rpmrepo).
package pgparmor

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// PublicKey is the armor type of an OpenPGP public key block.
const PublicKey = "PGP PUBLIC KEY BLOCK"

const begin = "-----BEGIN PGP "

// Block is one armored block: its type ("PGP PUBLIC KEY BLOCK") and its
// decoded body.
type Block struct {
	Type string
	Body []byte
}

// IsArmored reports whether data holds an armored OpenPGP block at all;
// a key file without one is binary.
func IsArmored(data []byte) bool { return bytes.Contains(data, []byte(begin)) }

// Split returns data's armored blocks in file order; text around them is
// ignored. A block that does not decode (bad base64, bad checksum, no END
// line) is an error naming its position.
func Split(data []byte) ([]Block, error) {
	var out []Block
	rest := data
	for n := 1; ; n++ {
		i := bytes.Index(rest, []byte(begin))
		if i < 0 {
			return out, nil
		}
		rest = rest[i:]
		// armor.Decode buffers its input, so each block is decoded from
		// its own slice; END lines start "-----END", so each slice is one
		// block plus trailing text, which armor.Decode ignores.
		j := bytes.Index(rest[len(begin):], []byte(begin))
		block := rest
		if j >= 0 {
			block = rest[:len(begin)+j]
		}
		b, err := armor.Decode(bytes.NewReader(block))
		if err != nil {
			return nil, fmt.Errorf("armor block %d: %w", n, err)
		}
		body, err := io.ReadAll(b.Body)
		if err != nil {
			return nil, fmt.Errorf("armor block %d: %w", n, err)
		}
		out = append(out, Block{Type: b.Type, Body: body})
		if j < 0 {
			return out, nil
		}
		rest = rest[len(begin)+j:]
	}
}
