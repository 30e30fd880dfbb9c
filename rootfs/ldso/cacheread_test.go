package ldso

// ParseCache is the tests' reader of the ld.so.cache files the package
// writes and glibc's ldconfig writes: the oracle comparisons go through it.

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// CacheFile is a parsed ld.so.cache in the new format.
type CacheFile struct {
	Entries   []CacheEntry
	Generator string   // the generator extension section, "" if absent
	Hwcaps    []string // the glibc-hwcaps extension section's names
}

// CacheEntry is one library of an ld.so.cache.
type CacheEntry struct {
	Flags int32
	Key   string // the soname looked up
	Value string // the path the loader opens
	Hwcap uint64
}

// ParseCache reads an ld.so.cache written in the new format (as glibc 2.32
// and later write it by default). name is used in errors only.
func ParseCache(name string, b []byte) (*CacheFile, error) {
	le := binary.LittleEndian
	if len(b) < cacheHeaderSize || string(b[:len(cacheMagicNew)]) != cacheMagicNew ||
		string(b[len(cacheMagicNew):len(cacheMagicNew)+len(cacheVersion)]) != cacheVersion {
		return nil, fmt.Errorf("ldso: %s: not a %s%s cache", name, cacheMagicNew, cacheVersion)
	}
	if fl := b[28]; fl != 0 && fl&3 != cacheEndianLittle {
		return nil, fmt.Errorf("ldso: %s: flags %#x: not a little-endian cache", name, fl)
	}
	nlibs := uint64(le.Uint32(b[20:]))
	if nlibs > uint64(len(b)-cacheHeaderSize)/cacheEntrySize {
		return nil, fmt.Errorf("ldso: %s: nlibs %d does not fit in %d bytes", name, nlibs, len(b))
	}
	str := func(off uint32, field string) (string, error) {
		if uint64(off) >= uint64(len(b)) {
			return "", fmt.Errorf("ldso: %s: %s offset %#x is beyond the file (%d bytes)", name, field, off, len(b))
		}
		i := bytes.IndexByte(b[off:], 0)
		if i < 0 {
			return "", fmt.Errorf("ldso: %s: %s at %#x is not NUL-terminated", name, field, off)
		}
		return string(b[off : int(off)+i]), nil
	}
	cf := &CacheFile{}
	for i := uint64(0); i < nlibs; i++ {
		e := b[cacheHeaderSize+i*cacheEntrySize:]
		k, err := str(le.Uint32(e[4:]), fmt.Sprintf("entry %d key", i))
		if err != nil {
			return nil, err
		}
		v, err := str(le.Uint32(e[8:]), fmt.Sprintf("entry %d value", i))
		if err != nil {
			return nil, err
		}
		cf.Entries = append(cf.Entries, CacheEntry{Flags: int32(le.Uint32(e)), Key: k, Value: v, Hwcap: le.Uint64(e[16:])})
	}
	ext := uint64(le.Uint32(b[32:]))
	if ext == 0 || ext+8 > uint64(len(b)) {
		return cf, nil
	}
	if le.Uint32(b[ext:]) != extensionMagic {
		return nil, fmt.Errorf("ldso: %s: extension directory at %#x has a wrong magic", name, ext)
	}
	count := uint64(le.Uint32(b[ext+4:]))
	if count > (uint64(len(b))-ext-8)/16 {
		return nil, fmt.Errorf("ldso: %s: %d extension sections do not fit", name, count)
	}
	for i := uint64(0); i < count; i++ {
		s := b[ext+8+16*i:]
		tag, off, size := le.Uint32(s), uint64(le.Uint32(s[8:])), uint64(le.Uint32(s[12:]))
		if off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, fmt.Errorf("ldso: %s: extension section %d (%d bytes at %#x) is beyond the file", name, tag, size, off)
		}
		data := b[off : off+size]
		switch tag {
		case extTagGenerator:
			cf.Generator = string(data)
		case extTagGlibcHwcaps:
			if size%4 != 0 {
				return nil, fmt.Errorf("ldso: %s: glibc-hwcaps section size %d is not a multiple of 4", name, size)
			}
			for j := uint64(0); j < size; j += 4 {
				n, err := str(le.Uint32(data[j:]), "glibc-hwcaps name")
				if err != nil {
					return nil, err
				}
				cf.Hwcaps = append(cf.Hwcaps, n)
			}
		}
	}
	return cf, nil
}
