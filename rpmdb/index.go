package rpmdb

import (
	"encoding/binary"
	"fmt"

	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// indexes are the index databases rpm 4.14 keeps (its dbiTags),
// in its order, with the header tag each indexes.
var indexes = []struct {
	name string
	tag  uint32
}{
	{"Name", rpmhdr.TagName},
	{"Basenames", tagBasenames},
	{"Group", tagGroup},
	{"Requirename", tagRequireName},
	{"Providename", tagProvideName},
	{"Conflictname", tagConflictName},
	{"Obsoletename", tagObsoleteName},
	{"Triggername", tagTriggerName},
	{"Dirnames", tagDirnames},
	{"Installtid", tagInstallTID},
	{"Sigmd5", tagSigMD5},
	{"Sha1header", tagSHA1Header},
	{"Filetriggername", tagFTrigName},
	{"Transfiletriggername", tagTFTrigName},
	{"Recommendname", tagRecommendName},
	{"Suggestname", tagSuggestName},
	{"Supplementname", tagSupplName},
	{"Enhancename", tagEnhanceName},
}

// indexItem is one (header number, tag index) pair of an index.
type indexItem struct{ hnum, idx uint32 }

// indexKey is one key of an index with its items, in insertion order.
type indexKey struct {
	key   []byte
	items []indexItem
}

// dependency flags that make a requirement install-only (rpm's RPMSENSE_*).
const (
	senseInstallOnly = (1<<9 | 1<<10 | 1<<24 | 1<<26 | 1<<7 | 1<<5)
	senseEraseOnly   = (1<<11 | 1<<12)
)

// indexEntries returns, for one index tag of one header, the keys rpm's
// tag2index adds, each with its tag index. Keys are the raw
// values: strings without their NUL, integers in little-endian order (the
// native order of the machines VIC's images run on).
func indexEntries(h *rpmhdr.Header, tag uint32) ([]string, []uint32, error) {
	e, ok := h.Find(tag)
	if !ok {
		if tag == tagGroup {
			return []string{"Unknown"}, []uint32{0}, nil
		}
		return nil, nil, nil
	}
	var keys []string
	var idx []uint32
	switch e.Type {
	case rpmhdr.TypeString, rpmhdr.TypeI18NString, rpmhdr.TypeStringArray:
		ss, _, err := h.Strings(tag)
		if err != nil {
			return nil, nil, err
		}
		if e.Type == rpmhdr.TypeI18NString && len(ss) > 1 {
			ss = ss[:1]
		}
		var flags []uint32
		var trig []uint32
		switch tag {
		case tagRequireName:
			flags, _, err = h.Uint32s(tagRequireFlags)
		case tagFTrigName:
			trig, _, err = h.Uint32s(tagFTrigIndex)
		case tagTFTrigName:
			trig, _, err = h.Uint32s(tagTFTrigIndex)
		}
		if err != nil {
			return nil, nil, err
		}
		for i, s := range ss {
			ix := uint32(i)
			switch tag {
			case tagRequireName:
				if i < len(flags) && flags[i]&senseInstallOnly != 0 && flags[i]&senseEraseOnly == 0 {
					continue
				}
			case tagTriggerName:
				dup := false
				for _, p := range ss[:i] {
					dup = dup || p == s
				}
				if dup {
					continue
				}
			case tagFTrigName, tagTFTrigName:
				if i >= len(trig) {
					return nil, nil, fmt.Errorf("tag %d: %d names but %d trigger indexes", tag, len(ss), len(trig))
				}
				ix = trig[i]
			}
			keys = append(keys, s)
			idx = append(idx, ix)
			if len(s) > 0 && s[0] == '(' {
				switch tag {
				case tagRequireName, tagConflictName, tagSuggestName, tagSupplName, tagRecommendName, tagEnhanceName:
					if e.Type == rpmhdr.TypeStringArray {
						for _, n := range richNames(s) {
							keys = append(keys, n)
							idx = append(idx, ix)
						}
					}
				}
			}
		}
	case rpmhdr.TypeInt32:
		vs, _, err := h.Uint32s(tag)
		if err != nil {
			return nil, nil, err
		}
		for i, v := range vs {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], v)
			keys = append(keys, string(b[:]))
			idx = append(idx, uint32(i))
		}
	case rpmhdr.TypeBin:
		b, _, err := h.Bin(tag)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, string(b))
		idx = append(idx, 0)
	default:
		return nil, nil, fmt.Errorf("tag %d has type %d, which rpm does not index", tag, e.Type)
	}
	return keys, idx, nil
}

// buildIndexes computes every index over the stored blobs (header number
// i+1 for blobs[i]), keys in first-seen order.
func buildIndexes(hdrs []*rpmhdr.Header) (map[string][]indexKey, error) {
	out := map[string][]indexKey{}
	for _, ix := range indexes {
		pos := map[string]int{}
		var list []indexKey
		for i, h := range hdrs {
			keys, idx, err := indexEntries(h, ix.tag)
			if err != nil {
				return nil, fmt.Errorf("header %d: index %s: %v", i+1, ix.name, err)
			}
			for j, k := range keys {
				p, ok := pos[k]
				if !ok {
					p = len(list)
					pos[k] = p
					list = append(list, indexKey{key: []byte(k)})
				}
				list[p].items = append(list[p].items, indexItem{uint32(i + 1), idx[j]})
			}
		}
		out[ix.name] = list
	}
	return out, nil
}
