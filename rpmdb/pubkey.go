package rpmdb

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/vicroot/vicroot/internal/pgparmor"
	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// Tags of a gpg-pubkey header (rpm's tag numbers).
const (
	tagPubkeys        = 266
	tagSummary        = 1004
	tagDescription    = 1005
	tagBuildTime      = 1006
	tagBuildHost      = 1007
	tagSize           = 1009
	tagLicense        = 1014
	tagPackager       = 1015
	tagSourceRPM      = 1044
	tagRPMVersion     = 1064
	tagProvideFlags   = 1112
	tagProvideVersion = 1113
)

// senseKeyring is RPMSENSE_KEYRING|RPMSENSE_EQUAL, the flags of a
// gpg-pubkey's provides.
const senseKeyring = 1<<26 | 8

// pgpKey is what rpm takes from one certificate.
type pgpKey struct {
	raw     []byte // the certificate's packets, as rpm --import keeps them
	version int
	keyID   uint64
	created uint32
	userID  string
	subkeys []struct {
		keyID   uint64
		created uint32
	}
}

// pubkeyBlobs returns the gpg-pubkey header blobs of one key file: one per
// armored block (binary files: one), as `rpm --import` makes them.
func pubkeyBlobs(file []byte, o Options) ([][]byte, error) {
	var bodies [][]byte
	if pgparmor.IsArmored(file) {
		blocks, err := pgparmor.Split(file)
		if err != nil {
			return nil, err
		}
		for _, b := range blocks {
			if b.Type == pgparmor.PublicKey {
				bodies = append(bodies, b.Body)
			}
		}
		if len(bodies) == 0 {
			return nil, errors.New("no PGP PUBLIC KEY BLOCK")
		}
	} else {
		bodies = [][]byte{file}
	}
	var out [][]byte
	for i, body := range bodies {
		k, err := parseKey(body)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", i+1, err)
		}
		out = append(out, pubkeyHeader(k, o))
	}
	return out, nil
}

func parseKey(body []byte) (*pgpKey, error) {
	k := &pgpKey{raw: body}
	r := packet.NewReader(bytes.NewReader(body))
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var unsup pgperrors.UnsupportedError
			if errors.As(err, &unsup) {
				continue
			}
			return nil, err
		}
		switch x := p.(type) {
		case *packet.PublicKey:
			if !x.IsSubkey {
				if k.version != 0 {
					return nil, errors.New("more than one primary key in one block")
				}
				k.version, k.keyID, k.created = x.Version, x.KeyId, uint32(x.CreationTime.Unix())
			} else if k.version != 0 {
				k.subkeys = append(k.subkeys, struct {
					keyID   uint64
					created uint32
				}{x.KeyId, uint32(x.CreationTime.Unix())})
			}
		case *packet.UserId:
			if k.userID == "" {
				k.userID = x.Id
			}
		}
	}
	if k.version == 0 {
		return nil, errors.New("no primary public key")
	}
	if k.userID == "" {
		k.userID = "none"
	}
	return k, nil
}

// rpmAtLeast reports whether an rpm version string is 4.minor or newer.
func rpmAtLeast(v string, minor int) bool {
	f := strings.SplitN(v, ".", 3)
	if len(f) < 2 {
		return false
	}
	maj, _ := strconv.Atoi(f[0])
	mnr, _ := strconv.Atoi(f[1])
	return maj > 4 || (maj == 4 && mnr >= minor)
}

// hdrTag is one tag of a header being built.
type hdrTag struct {
	tag, typ uint32
	strs     []string
	ints     []uint32
}

// pubkeyHeader builds the header rpm's makePubkeyHeader
// builds: 4.14's for rpm < 4.15, 4.15+'s otherwise (a "USERID public key"
// summary, a third provide by long key id, SHA256HEADER); the armored
// description's "Version:" line carries " (NSS-3)" before rpm 4.18.
func pubkeyHeader(k *pgpKey, o Options) []byte {
	ver := o.RPMVersion
	if ver == "" {
		ver = "4.14.2"
	}
	modern := rpmAtLeast(ver, 15)
	signid := fmt.Sprintf("%016x", k.keyID)
	short := signid[8:]
	rel := fmt.Sprintf("%x", k.created)
	evr := fmt.Sprintf("%d:%s-%s", k.version, signid, rel)
	enc := rpmBase64(k.raw)
	vline := ver
	if !rpmAtLeast(ver, 18) {
		vline += " (NSS-3)"
	}
	desc := armorPubkey(k.raw, vline)
	summary := "gpg(" + k.userID + ")"
	provides := []string{"gpg(" + k.userID + ")", "gpg(" + short + ")"}
	versions := []string{evr, evr}
	if modern {
		summary = k.userID + " public key"
		provides = append(provides, "gpg("+signid+")")
		versions = append(versions, evr)
	}
	for _, s := range k.subkeys {
		sid := fmt.Sprintf("%016x", s.keyID)
		srel := fmt.Sprintf("%x", s.created)
		if modern {
			sevr := fmt.Sprintf("%d:%s-%s", k.version, sid, srel)
			provides = append(provides, "gpg("+sid[8:]+")", "gpg("+sid+")")
			versions = append(versions, sevr, sevr)
		} else {
			provides = append(provides, "gpg("+sid[8:]+")")
			versions = append(versions, fmt.Sprintf("%d:%s-%s", k.version, sid, srel))
		}
	}
	flags := make([]uint32, len(provides))
	for i := range flags {
		flags[i] = senseKeyring
	}
	tags := []hdrTag{
		{tag: tagPubkeys, typ: rpmhdr.TypeStringArray, strs: []string{enc}},
		{tag: rpmhdr.TagName, typ: rpmhdr.TypeString, strs: []string{"gpg-pubkey"}},
		{tag: rpmhdr.TagVersion, typ: rpmhdr.TypeString, strs: []string{short}},
		{tag: rpmhdr.TagRelease, typ: rpmhdr.TypeString, strs: []string{rel}},
		{tag: tagSummary, typ: rpmhdr.TypeI18NString, strs: []string{summary}},
		{tag: tagDescription, typ: rpmhdr.TypeI18NString, strs: []string{desc}},
		{tag: tagBuildTime, typ: rpmhdr.TypeInt32, ints: []uint32{k.created}},
		{tag: tagBuildHost, typ: rpmhdr.TypeString, strs: []string{"localhost"}},
		{tag: tagSize, typ: rpmhdr.TypeInt32, ints: []uint32{0}},
		{tag: tagLicense, typ: rpmhdr.TypeString, strs: []string{"pubkey"}},
		{tag: tagPackager, typ: rpmhdr.TypeString, strs: []string{k.userID}},
		{tag: tagGroup, typ: rpmhdr.TypeI18NString, strs: []string{"Public Keys"}},
		{tag: tagSourceRPM, typ: rpmhdr.TypeString, strs: []string{"(none)"}},
		{tag: tagProvideName, typ: rpmhdr.TypeStringArray, strs: provides},
		{tag: tagRPMVersion, typ: rpmhdr.TypeString, strs: []string{ver}},
		{tag: tagProvideFlags, typ: rpmhdr.TypeInt32, ints: flags},
		{tag: tagProvideVersion, typ: rpmhdr.TypeStringArray, strs: versions},
	}
	blob := immutableBlob(tags)
	add := []addTag{{tagSHA1Header, rpmhdr.TypeString, 1, cstr(hexDigest(sha1.New(), blob))}}
	if modern {
		add = append(add, addTag{tagSHA256Header, rpmhdr.TypeString, 1, cstr(hexDigest(sha256.New(), blob))})
	}
	tid := o.TID
	if tid == 0 {
		tid = o.InstallTime
	}
	add = append(add,
		addTag{tagInstallTime, rpmhdr.TypeInt32, 1, be32(tid)},
		addTag{tagInstallTID, rpmhdr.TypeInt32, 1, be32(tid)})
	il := int(binary.BigEndian.Uint32(blob))
	return appendTags(blob, il, add)
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func hexDigest(h interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, blob []byte) string {
	h.Write(headerMagic)
	h.Write(blob)
	return hex.EncodeToString(h.Sum(nil))
}

// immutableBlob lays tags out as rpm's headerReload(h, HEADERIMMUTABLE)
// does: the region tag first, the others by tag with their data in that
// order, the region trailer after the data.
func immutableBlob(tags []hdrTag) []byte {
	sort.Slice(tags, func(i, j int) bool { return tags[i].tag < tags[j].tag })
	var data, index []byte
	entry := func(tag, typ uint32, off int, count int) {
		var e [16]byte
		binary.BigEndian.PutUint32(e[0:], tag)
		binary.BigEndian.PutUint32(e[4:], typ)
		binary.BigEndian.PutUint32(e[8:], uint32(off))
		binary.BigEndian.PutUint32(e[12:], uint32(count))
		index = append(index, e[:]...)
	}
	for _, t := range tags {
		if al := typeAlign[t.typ]; al > 1 {
			for len(data)%al != 0 {
				data = append(data, 0)
			}
		}
		off := len(data)
		n := len(t.strs)
		if t.typ == rpmhdr.TypeInt32 {
			n = len(t.ints)
			for _, v := range t.ints {
				data = binary.BigEndian.AppendUint32(data, v)
			}
		} else {
			for _, s := range t.strs {
				data = append(append(data, s...), 0)
			}
		}
		entry(t.tag, t.typ, off, n)
	}
	il := len(tags) + 1
	trailerOff := len(data)
	var tr [16]byte
	binary.BigEndian.PutUint32(tr[0:], tagImmutable)
	binary.BigEndian.PutUint32(tr[4:], rpmhdr.TypeBin)
	binary.BigEndian.PutUint32(tr[8:], uint32(int32(-16*il)))
	binary.BigEndian.PutUint32(tr[12:], 16)
	data = append(data, tr[:]...)
	var region [16]byte
	binary.BigEndian.PutUint32(region[0:], tagImmutable)
	binary.BigEndian.PutUint32(region[4:], rpmhdr.TypeBin)
	binary.BigEndian.PutUint32(region[8:], uint32(trailerOff))
	binary.BigEndian.PutUint32(region[12:], 16)
	out := binary.BigEndian.AppendUint32(nil, uint32(il))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	out = append(append(out, region[:]...), index...)
	return append(out, data...)
}

// rpmBase64 is rpm's rpmBase64Encode with 64-column lines, each ended by
// a newline.
func rpmBase64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(s) > 64 {
		sb.WriteString(s[:64])
		sb.WriteByte('\n')
		s = s[64:]
	}
	sb.WriteString(s)
	sb.WriteByte('\n')
	return sb.String()
}

// armorPubkey is rpm's pgpArmorWrap of a public key block, with rpm's
// "Version: rpm-…" line.
func armorPubkey(b []byte, ver string) string {
	crc := crc24(b)
	c := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 16), byte(crc >> 8), byte(crc)})
	return "-----BEGIN PGP PUBLIC KEY BLOCK-----\nVersion: rpm-" + ver + "\n\n" + rpmBase64(b) + "=" + c + "\n-----END PGP PUBLIC KEY BLOCK-----\n"
}

func crc24(b []byte) uint32 {
	crc := uint32(0xb704ce)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864cfb
			}
		}
	}
	return crc & 0xffffff
}
