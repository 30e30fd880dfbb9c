package rpmdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// Tags this package reads or adds (rpm's tag numbers).
const (
	tagImmutable     = 63
	tagDSAHeader     = 267
	tagRSAHeader     = 268
	tagSHA1Header    = 269
	tagSHA256Header  = 273
	tagSigSize       = 257
	tagSigPGP        = 259
	tagSigMD5        = 261
	tagSigGPG        = 262
	tagLongSigSize   = 270
	tagLongArchive   = 271
	tagInstallTime   = 1008
	tagGroup         = 1016
	tagFileStates    = 1029
	tagArchiveSize   = 1046
	tagProvideName   = 1047
	tagRequireFlags  = 1048
	tagRequireName   = 1049
	tagConflictName  = 1054
	tagTriggerName   = 1066
	tagObsoleteName  = 1090
	tagBasenames     = 1117
	tagDirnames      = 1118
	tagInstallColor  = 1127
	tagInstallTID    = 1128
	tagRecommendName = 5046
	tagSuggestName   = 5049
	tagSupplName     = 5052
	tagEnhanceName   = 5055
	tagFTrigName     = 5069
	tagFTrigIndex    = 5070
	tagTFTrigName    = 5079
	tagTFTrigIndex   = 5080
	tagFileSigs      = 5090
	tagFileSigLen    = 5091
	tagVeritySigs    = 5092
	tagVerityAlgo    = 5093
)

// sigXlate is how rpm (headerMergeLegacySigs) copies
// signature-header tags into the header it installs: signature tag,
// header tag, the type it must have and the count it must have (0: any).
var sigXlate = []struct {
	stag, xtag, typ, count uint32
}{
	{1000, tagSigSize, rpmhdr.TypeInt32, 1},
	{1002, tagSigPGP, rpmhdr.TypeBin, 0},
	{1004, tagSigMD5, rpmhdr.TypeBin, 16},
	{1005, tagSigGPG, rpmhdr.TypeBin, 0},
	{1007, tagArchiveSize, rpmhdr.TypeInt32, 1},
	{274, tagFileSigs, rpmhdr.TypeStringArray, 0},
	{275, tagFileSigLen, rpmhdr.TypeInt32, 1},
	{276, tagVeritySigs, rpmhdr.TypeStringArray, 0},
	{277, tagVerityAlgo, rpmhdr.TypeInt32, 1},
	{269, tagSHA1Header, rpmhdr.TypeString, 1},
	{273, tagSHA256Header, rpmhdr.TypeString, 1},
	{267, tagDSAHeader, rpmhdr.TypeBin, 0},
	{268, tagRSAHeader, rpmhdr.TypeBin, 0},
	{270, tagLongSigSize, rpmhdr.TypeInt64, 1},
	{271, tagLongArchive, rpmhdr.TypeInt64, 1},
}

var typeAlign = map[uint32]int{rpmhdr.TypeInt16: 2, rpmhdr.TypeInt32: 4, rpmhdr.TypeInt64: 8}

// addTag is one tag appended after a header's immutable region.
type addTag struct {
	tag, typ, count uint32
	data            []byte
}

var headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

// parseBlob reads a stored header blob (no magic), as rpm keeps it in its
// database.
func parseBlob(blob []byte, what string) (*rpmhdr.Header, error) {
	raw := make([]byte, 0, len(blob)+8)
	raw = append(append(raw, headerMagic...), blob...)
	h, err := rpmhdr.Read(bytes.NewReader(raw), rpmhdr.MaxData, int64(len(raw)), what)
	if err != nil {
		return nil, err
	}
	if len(h.Raw) != len(raw) {
		return nil, fmt.Errorf("%s: %d bytes after the header's data", what, len(raw)-len(h.Raw))
	}
	if err := checkEntries(h, what); err != nil {
		return nil, err
	}
	return h, nil
}

// checkEntries checks what rpm's hdrblobVerifyInfo checks: every entry's
// data lies within the data store, entries do not overlap, and the region
// trailer is sound.
func checkEntries(h *rpmhdr.Header, what string) error {
	es := h.Entries()
	dl := len(h.Raw) - 16 - 16*len(es)
	for _, e := range es {
		if e.Count == 0 && e.Type != rpmhdr.TypeNull {
			return fmt.Errorf("%s: tag %d has count 0", what, e.Tag)
		}
		if a := typeAlign[e.Type]; a > 1 && int(e.Offset)%a != 0 {
			return fmt.Errorf("%s: tag %d misaligned at offset %d", what, e.Tag, e.Offset)
		}
		n, err := dataLen(h.Raw[16+16*len(es):], e)
		if err != nil {
			return fmt.Errorf("%s: tag %d: %v", what, e.Tag, err)
		}
		if int(e.Offset)+n > dl {
			return fmt.Errorf("%s: tag %d data (%d bytes at %d) beyond the data store (%d bytes)", what, e.Tag, n, e.Offset, dl)
		}
	}
	if len(es) > 0 && es[0].Tag == tagImmutable {
		if _, err := regionCount(h, what); err != nil {
			return err
		}
	}
	return nil
}

// dataLen is the byte length of an entry's data.
func dataLen(data []byte, e rpmhdr.Entry) (int, error) {
	switch e.Type {
	case rpmhdr.TypeNull:
		return 0, nil
	case rpmhdr.TypeChar, rpmhdr.TypeInt8, rpmhdr.TypeBin:
		return int(e.Count), nil
	case rpmhdr.TypeInt16:
		return 2 * int(e.Count), nil
	case rpmhdr.TypeInt32:
		return 4 * int(e.Count), nil
	case rpmhdr.TypeInt64:
		return 8 * int(e.Count), nil
	case rpmhdr.TypeString:
		if e.Count != 1 {
			return 0, fmt.Errorf("string with count %d", e.Count)
		}
		fallthrough
	default:
		off := int(e.Offset)
		for i := uint32(0); i < e.Count; i++ {
			if off >= len(data) {
				return 0, fmt.Errorf("string %d beyond the data store", i)
			}
			j := bytes.IndexByte(data[off:], 0)
			if j < 0 {
				return 0, fmt.Errorf("string %d not terminated", i)
			}
			off += j + 1
		}
		return off - int(e.Offset), nil
	}
}

// regionCount returns how many index entries (the region tag included) a
// header's immutable region covers, checking its trailer.
func regionCount(h *rpmhdr.Header, what string) (int, error) {
	es := h.Entries()
	e := es[0]
	if e.Type != rpmhdr.TypeBin || e.Count != 16 {
		return 0, fmt.Errorf("%s: region tag %d has type %d count %d, want BIN 16", what, e.Tag, e.Type, e.Count)
	}
	data := h.Raw[16+16*len(es):]
	if int(e.Offset)+16 > len(data) {
		return 0, fmt.Errorf("%s: region trailer beyond the data store", what)
	}
	t := data[e.Offset:]
	tag := binary.BigEndian.Uint32(t[0:])
	off := int32(binary.BigEndian.Uint32(t[8:]))
	if tag != e.Tag || off >= 0 || -off%16 != 0 || int(-off/16) > len(es) {
		return 0, fmt.Errorf("%s: region trailer (tag %d, offset %d) does not fit %d entries", what, tag, off, len(es))
	}
	return int(-off / 16), nil
}

// installedBlob returns the header blob rpm would store for a package:
// the main header's bytes after the magic, unchanged, with the signature
// tags rpm merges and the install tags appended after the immutable region
// (sorted by tag, data aligned as rpm's headerExport lays it out).
func installedBlob(p Package, o Options, name string) ([]byte, error) {
	main, err := rpmhdr.Read(bytes.NewReader(p.Main), rpmhdr.MaxData, int64(len(p.Main)), name+": main header")
	if err != nil {
		return nil, err
	}
	if err := checkEntries(main, name+": main header"); err != nil {
		return nil, err
	}
	es := main.Entries()
	if es[0].Tag != tagImmutable {
		return nil, fmt.Errorf("%s: main header has no immutable region (first tag %d)", name, es[0].Tag)
	}
	if n, err := regionCount(main, name+": main header"); err != nil {
		return nil, err
	} else if n != len(es) {
		return nil, fmt.Errorf("%s: main header has %d tags outside its immutable region", name, len(es)-n)
	}
	var add []addTag
	if len(p.Sig) > 0 {
		sig, err := rpmhdr.Read(bytes.NewReader(p.Sig), rpmhdr.MaxSigData, int64(len(p.Sig)), name+": signature header")
		if err != nil {
			return nil, err
		}
		if err := checkEntries(sig, name+": signature header"); err != nil {
			return nil, err
		}
		sdata := sig.Raw[16+16*len(sig.Entries()):]
		for _, x := range sigXlate {
			if main.Has(x.xtag) {
				continue
			}
			e, ok := sig.Find(x.stag)
			if !ok {
				continue
			}
			if e.Type != x.typ || (x.count != 0 && e.Count != x.count) {
				return nil, fmt.Errorf("%s: invalid signature tag %d (type %d, count %d)", name, x.stag, e.Type, e.Count)
			}
			n, _ := dataLen(sdata, e)
			add = append(add, addTag{x.xtag, e.Type, e.Count, sdata[e.Offset : int(e.Offset)+n]})
		}
	}
	if !main.Has(tagFileStates) {
		bn, _, err := main.Strings(tagBasenames)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if len(bn) > 0 {
			st := p.FileStates
			if st == nil {
				st = make([]byte, len(bn))
			} else if len(st) != len(bn) {
				return nil, fmt.Errorf("%s: %d file states for %d files", name, len(st), len(bn))
			}
			add = append(add, addTag{tagFileStates, rpmhdr.TypeChar, uint32(len(bn)), st})
		}
	}
	tid := o.TID
	if tid == 0 {
		tid = o.InstallTime
	}
	add = append(add,
		addTag{tagInstallTime, rpmhdr.TypeInt32, 1, be32(o.InstallTime)},
		addTag{tagInstallTID, rpmhdr.TypeInt32, 1, be32(tid)},
		addTag{tagInstallColor, rpmhdr.TypeInt32, 1, be32(o.Color)})
	for _, a := range add[:len(add)-3] {
		if a.tag == tagInstallTime || a.tag == tagInstallTID || a.tag == tagInstallColor {
			return nil, fmt.Errorf("%s: header already holds install tag %d", name, a.tag)
		}
	}
	for _, t := range []uint32{tagInstallTime, tagInstallTID, tagInstallColor} {
		if main.Has(t) {
			return nil, fmt.Errorf("%s: main header already holds install tag %d", name, t)
		}
	}
	return appendTags(main.Raw[8:], len(es), add), nil
}

// appendTags appends tags, sorted by tag, to a blob (il, dl, index, data)
// holding il entries.
func appendTags(blob []byte, il int, add []addTag) []byte {
	sort.SliceStable(add, func(i, j int) bool { return add[i].tag < add[j].tag })
	dl := len(blob) - 8 - 16*il
	data := append([]byte(nil), blob[8+16*il:]...)
	index := append([]byte(nil), blob[8:8+16*il]...)
	for _, a := range add {
		if al := typeAlign[a.typ]; al > 1 {
			for len(data)%al != 0 {
				data = append(data, 0)
			}
		}
		var e [16]byte
		binary.BigEndian.PutUint32(e[0:], a.tag)
		binary.BigEndian.PutUint32(e[4:], a.typ)
		binary.BigEndian.PutUint32(e[8:], uint32(len(data)))
		binary.BigEndian.PutUint32(e[12:], a.count)
		index = append(index, e[:]...)
		data = append(data, a.data...)
	}
	_ = dl
	out := make([]byte, 8, 8+len(index)+len(data))
	binary.BigEndian.PutUint32(out[0:], uint32(il+len(add)))
	binary.BigEndian.PutUint32(out[4:], uint32(len(data)))
	out = append(out, index...)
	return append(out, data...)
}

func be32(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}
