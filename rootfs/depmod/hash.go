package depmod

import (
	"cmp"
	"slices"
)

// depmod writes modules.symbols in the iteration order of its symbol hash
// table, and orders the modules that modules.order does not name in the
// iteration order of its module-name table (kmod's shared/hash.c). That
// order is deterministic: buckets in index order, keys within a bucket in
// strcmp order, the bucket being Paul Hsieh's SuperFastHash of the key
// masked by the (power of two) bucket count.

const (
	modulesBuckets = 512  // depmod_init: hash_new(512, ...) for modules_by_name
	symbolsBuckets = 2048 // depmod_init: hash_new(2048, ...) for symbols
)

// superFastHash is kmod's hash_superfast. kmod reads 16-bit words
// little-endian (x86) and single chars as signed char, so this does too.
func superFastHash(key string) uint32 {
	n := len(key)
	hash := uint32(n)
	rem := n & 3
	p := 0
	for l := n / 4; l > 0; l-- {
		hash += uint32(key[p]) | uint32(key[p+1])<<8
		tmp := (uint32(key[p+2])|uint32(key[p+3])<<8)<<11 ^ hash
		hash = hash<<16 ^ tmp
		p += 4
		hash += hash >> 11
	}
	switch rem {
	case 3:
		hash += uint32(key[p]) | uint32(key[p+1])<<8
		hash ^= hash << 16
		hash ^= uint32(int32(int8(key[p+2])) << 18)
		hash += hash >> 11
	case 2:
		hash += uint32(key[p]) | uint32(key[p+1])<<8
		hash ^= hash << 11
		hash += hash >> 17
	case 1:
		hash += uint32(int32(int8(key[p])))
		hash ^= hash << 10
		hash += hash >> 1
	}
	hash ^= hash << 3
	hash += hash >> 5
	hash ^= hash << 4
	hash += hash >> 17
	hash ^= hash << 25
	hash += hash >> 6
	return hash
}

// sortHashOrder sorts keys into the order kmod's hash_iter visits them in
// a table of nBuckets buckets. Keys must be unique.
func sortHashOrder[T any](items []T, key func(T) string, nBuckets uint32) {
	type entry struct {
		bucket uint32
		key    string
		item   T
	}
	es := make([]entry, len(items))
	for i, it := range items {
		k := key(it)
		es[i] = entry{superFastHash(k) & (nBuckets - 1), k, it}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key) // strcmp: bytewise, as Go strings compare
	})
	for i := range es {
		items[i] = es[i].item
	}
}
