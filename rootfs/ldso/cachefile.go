package ldso

import (
	"encoding/binary"
	"sort"
)

// The new ld.so.cache format glibc 2.32 and later write by default
// (glibc's sysdeps/generic/dl-cache.h): a 48-byte header, 24-byte entries,
// a tail-merged string table, then a 4-aligned extension directory.
const (
	cacheMagicNew     = "glibc-ld.so.cache"
	cacheVersion      = "1.1"
	cacheHeaderSize   = 48
	cacheEntrySize    = 24
	cacheEndianLittle = 2

	extensionMagic    = uint32(0xEAA42174) // (uint32_t) -358342284
	extTagGenerator   = 0
	extTagGlibcHwcaps = 1
	hwcapExtensionBit = uint64(1) << 62
	isaLevelMask      = (1 << 10) - 1
)

// Flags of cache entries (glibc's ldconfig.h).
const (
	flagAny        = -1
	flagLibc4      = 0x0000
	flagELF        = 0x0001
	flagELFLibc5   = 0x0002
	flagELFLibc6   = 0x0003
	flagTypeMask   = 0x00ff
	flagX8664Lib64 = 0x0300
	flagX8664X32   = 0x0800
)

// stringTable interns strings and lays them out as glibc's stringtable.c
// does: sorted so that a string that is a suffix of another shares its bytes.
type stringTable struct {
	index   map[string]int
	strings []string
	offsets []uint32
}

func (t *stringTable) add(s string) int {
	if t.index == nil {
		t.index = map[string]int{}
	}
	if i, ok := t.index[s]; ok {
		return i
	}
	t.index[s] = len(t.strings)
	t.strings = append(t.strings, s)
	return len(t.strings) - 1
}

// finalize assigns offsets and returns the table bytes. The order is
// independent of insertion: reversed strings sorted descending, a string
// placed inside its predecessor when it is that one's suffix.
func (t *stringTable) finalize() []byte {
	n := len(t.strings)
	t.offsets = make([]uint32, n)
	if n == 0 {
		return nil
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		return finalizeCompare(t.strings[order[a]], t.strings[order[b]]) < 0
	})
	var out []byte
	prev := -1
	for _, i := range order {
		s := t.strings[i]
		if prev >= 0 {
			p := t.strings[prev]
			if len(p) >= len(s) && p[len(p)-len(s):] == s {
				t.offsets[i] = t.offsets[prev] + uint32(len(p)-len(s))
				prev = i
				continue
			}
		}
		t.offsets[i] = uint32(len(out))
		out = append(out, s...)
		out = append(out, 0)
		prev = i
	}
	return out
}

// finalizeCompare is stringtable.c's finalize_compare: compare from the
// end, larger bytes first, a longer string before its own suffix.
func finalizeCompare(l, r string) int {
	n := min(len(l), len(r))
	for i := 1; i <= n; i++ {
		lc, rc := l[len(l)-i], r[len(r)-i]
		if lc != rc {
			return int(rc) - int(lc)
		}
	}
	switch {
	case len(l) == len(r):
		return 0
	case len(l) < len(r):
		return 1
	default:
		return -1
	}
}

// cacheEntry is one library of the cache, before serialisation.
type cacheEntry struct {
	lib, path string // soname (the lookup key) and the path stored
	flags     int32
	isaLevel  uint32
	hwcap     uint64 // legacy hwcap bits from the directory name
	bitsHwcap int
	hwcaps    string // glibc-hwcaps subdirectory name, "" for none
}

// compareEntries is cache.c's compare(): descending libcmp of the names,
// then flags descending, glibc-hwcaps entries first (by name), then the
// most specific legacy hwcap.
func compareEntries(e1, e2 *cacheEntry) int {
	res := libcmp(e2.lib, e1.lib)
	if res != 0 {
		return res
	}
	switch {
	case e1.flags < e2.flags:
		return 1
	case e1.flags > e2.flags:
		return -1
	case e1.hwcaps != "" && e2.hwcaps == "":
		return -1
	case e1.hwcaps == "" && e2.hwcaps != "":
		return 1
	case e1.hwcaps != "" && e2.hwcaps != "":
		if e1.hwcaps != e2.hwcaps {
			if e1.hwcaps < e2.hwcaps {
				return -1
			}
			return 1
		}
	}
	switch {
	case e2.bitsHwcap > e1.bitsHwcap:
		return 1
	case e2.bitsHwcap < e1.bitsHwcap:
		return -1
	case e2.hwcap > e1.hwcap:
		return 1
	case e2.hwcap < e1.hwcap:
		return -1
	}
	return 0
}

// cacheBuilder collects entries in ldconfig's order: each new entry goes
// after every existing entry that does not compare greater than it.
type cacheBuilder struct {
	strings stringTable
	entries []*cacheEntry
	hwcaps  map[string]bool // glibc-hwcaps names seen; true once used
}

func (b *cacheBuilder) addHwcapsName(name string) {
	if b.hwcaps == nil {
		b.hwcaps = map[string]bool{}
	}
	b.strings.add(name)
	if _, ok := b.hwcaps[name]; !ok {
		b.hwcaps[name] = false
	}
}

func (b *cacheBuilder) add(dir, filename, soname string, flags int32, isa uint32, hwcap uint64, hwcaps string) {
	e := &cacheEntry{path: dir + "/" + filename, lib: soname, flags: flags, isaLevel: isa, hwcap: hwcap, hwcaps: hwcaps}
	b.strings.add(e.path)
	b.strings.add(soname)
	if hwcaps != "" {
		b.addHwcapsName(hwcaps)
		b.hwcaps[hwcaps] = true
	}
	for i := 0; i < 64 && hwcap>>uint(i) != 0; i++ {
		if hwcap&(1<<uint(i)) != 0 {
			e.bitsHwcap++
		}
	}
	pos := len(b.entries)
	for i, x := range b.entries {
		if compareEntries(x, e) > 0 {
			pos = i
			break
		}
	}
	b.entries = append(b.entries, nil)
	copy(b.entries[pos+1:], b.entries[pos:])
	b.entries[pos] = e
}

// bytes serialises the cache as save_cache does with the new format only.
func (b *cacheBuilder) bytes(generator string) ([]byte, error) {
	var used []string
	for name, u := range b.hwcaps {
		if u {
			used = append(used, name)
		}
	}
	sort.Strings(used)
	hwcapsIndex := map[string]uint32{}
	for i, n := range used {
		hwcapsIndex[n] = uint32(i)
	}
	strs := b.strings.finalize()
	le := binary.LittleEndian
	n := len(b.entries)
	strOffset := uint32(cacheHeaderSize + n*cacheEntrySize)
	out := make([]byte, 0, int(strOffset)+len(strs)+64+len(generator))
	out = append(out, cacheMagicNew...)
	out = append(out, cacheVersion...)
	out = le.AppendUint32(out, uint32(n))
	out = le.AppendUint32(out, uint32(len(strs)))
	out = append(out, cacheEndianLittle, 0, 0, 0)
	extOffset := alignUp(uint64(strOffset)+uint64(len(strs)), 4)
	out = le.AppendUint32(out, uint32(extOffset))
	out = append(out, make([]byte, 12)...)
	for _, e := range b.entries {
		out = le.AppendUint32(out, uint32(e.flags))
		out = le.AppendUint32(out, strOffset+b.strings.offsets[b.strings.index[e.lib]])
		out = le.AppendUint32(out, strOffset+b.strings.offsets[b.strings.index[e.path]])
		out = le.AppendUint32(out, 0) // osversion_unused
		hw := e.hwcap
		if e.hwcaps != "" {
			if e.isaLevel > isaLevelMask {
				return nil, &isaError{path: e.path, level: e.isaLevel}
			}
			hw = hwcapExtensionBit | uint64(e.isaLevel)<<32 | uint64(hwcapsIndex[e.hwcaps])
		}
		out = le.AppendUint64(out, hw)
	}
	out = append(out, strs...)
	for uint64(len(out)) < extOffset {
		out = append(out, 0)
	}
	// Extension directory: the generator section, then glibc-hwcaps if used.
	nsec := uint32(1)
	if len(used) > 0 {
		nsec = 2
	}
	dirSize := uint32(8 + 16*nsec)
	hwcapsOffset := uint32(extOffset) + dirSize
	hwcapsSize := uint32(4 * len(used))
	genOffset := hwcapsOffset + hwcapsSize
	out = le.AppendUint32(out, extensionMagic)
	out = le.AppendUint32(out, nsec)
	out = le.AppendUint32(out, extTagGenerator)
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, genOffset)
	out = le.AppendUint32(out, uint32(len(generator)))
	if len(used) > 0 {
		out = le.AppendUint32(out, extTagGlibcHwcaps)
		out = le.AppendUint32(out, 0)
		out = le.AppendUint32(out, hwcapsOffset)
		out = le.AppendUint32(out, hwcapsSize)
		for _, name := range used {
			out = le.AppendUint32(out, strOffset+b.strings.offsets[b.strings.index[name]])
		}
	}
	out = append(out, generator...)
	return out, nil
}
