package rpmdb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
)

// Berkeley DB on-disk constants, as libdb 5.3 defines them.
const (
	bdbPageSize = 4096
	pageHdrSize = 26

	pHashMeta  = 8
	pBtreeMeta = 9
	pHash      = 13
	pLBtree    = 5
	pIBtree    = 3
	pOverflow  = 7

	hashMagic  = 0x061561
	btreeMagic = 0x053162
	dbVersion  = 9

	hKeyData  = 1
	hOffPage  = 3
	bKeyData  = 1
	bOverflow = 3

	// hashBig: a hash item larger than this goes to overflow pages
	// (libdb's ISBIG: a quarter page).
	hashBig = bdbPageSize / 4
	// btreeOvfl: a btree key or data item larger than this goes to
	// overflow pages (B_MINKEY_TO_OVFLSIZE with minkey 2).
	btreeOvfl = (bdbPageSize-pageHdrSize)/(2*2) - (4 + 2 + 4)
)

// bdbFile builds one database file page by page.
type bdbFile struct {
	pages [][]byte
}

func (f *bdbFile) alloc() uint32 {
	f.pages = append(f.pages, make([]byte, bdbPageSize))
	return uint32(len(f.pages) - 1)
}

// setHeader fills a page's generic header; the LSN is [0][1], rpm's and
// libdb's "not logged".
func setHeader(p []byte, pgno, prev, next uint32, entries, hf uint16, level, typ byte) {
	le := binary.LittleEndian
	le.PutUint32(p[0:], 0)
	le.PutUint32(p[4:], 1)
	le.PutUint32(p[8:], pgno)
	le.PutUint32(p[12:], prev)
	le.PutUint32(p[16:], next)
	le.PutUint16(p[20:], entries)
	le.PutUint16(p[22:], hf)
	p[24] = level
	p[25] = typ
}

// overflow stores data on a chain of overflow pages and returns the first.
func (f *bdbFile) overflow(data []byte) uint32 {
	const room = bdbPageSize - pageHdrSize
	var first, prev uint32
	for len(data) > 0 {
		n := min(room, len(data))
		pg := f.alloc()
		if prev != 0 {
			binary.LittleEndian.PutUint32(f.pages[prev][16:], pg)
		} else {
			first = pg
		}
		p := f.pages[pg]
		setHeader(p, pg, prev, 0, 1, uint16(n), 0, pOverflow)
		copy(p[pageHdrSize:], data[:n])
		data = data[n:]
		prev = pg
	}
	return first
}

// putItems lays items out from the end of page p downward and fills its
// index; it reports false when they do not fit.
func putItems(p []byte, items [][]byte, align int) (uint16, bool) {
	off := bdbPageSize
	for i, it := range items {
		sz := len(it)
		if align > 1 {
			sz = (sz + align - 1) / align * align
		}
		off -= sz
		if off < pageHdrSize+2*len(items) {
			return 0, false
		}
		copy(p[off:], it)
		binary.LittleEndian.PutUint16(p[pageHdrSize+2*i:], uint16(off))
	}
	return uint16(off), true
}

// fileID is the 20-byte unique file id of a database's meta page: libdb
// tells open files apart by it, so every file needs its own; it is derived
// from the file's name and content for reproducibility.
func fileID(name string, pages [][]byte) []byte {
	h := sha256.New()
	h.Write([]byte("vicroot rpmdb " + name + "\x00"))
	for _, p := range pages[1:] {
		h.Write(p)
	}
	return h.Sum(nil)[:20]
}

func setMeta(p []byte, magic, lastPgno uint32, typ byte) {
	le := binary.LittleEndian
	setHeader(p, 0, 0, 0, 0, 0, 0, 0)
	le.PutUint32(p[12:], magic)
	le.PutUint32(p[16:], dbVersion)
	le.PutUint32(p[20:], bdbPageSize)
	p[24] = 0 // encrypt_alg
	p[25] = typ
	le.PutUint32(p[32:], lastPgno)
}

func (f *bdbFile) bytes(name string) []byte {
	copy(f.pages[0][52:72], fileID(name, f.pages))
	return bytes.Join(f.pages, nil)
}

// hashFunc is libdb's default hash (__ham_func5, FNV-1 32-bit).
func hashFunc(k []byte) uint32 {
	var h uint32
	for _, c := range k {
		h *= 16777619
		h ^= uint32(c)
	}
	return h
}

// defCmp is libdb's default key order (__bam_defcmp): bytes, then length.
func defCmp(a, b []byte) int { return bytes.Compare(a, b) }

type kv struct{ k, v []byte }

// hashLoad is how many records a bucket gets on average; at 100 (about
// 2 KiB of on-page items for header records) a bucket rarely needs a
// second page. Tests raise it to exercise bucket chains.
var hashLoad = uint32(100)

// writeHash writes a DB_HASH file holding recs.
func writeHash(name string, recs []kv) []byte {
	nb := uint32(2)
	for nb*hashLoad < uint32(len(recs)) {
		nb *= 2
	}
	f := &bdbFile{}
	f.alloc()
	for i := uint32(0); i < nb; i++ {
		f.alloc()
	}
	buckets := make([][]kv, nb)
	for _, r := range recs {
		b := hashFunc(r.k) & (nb - 1)
		buckets[b] = append(buckets[b], r)
	}
	item := func(d []byte) []byte {
		if len(d)+1 <= hashBig {
			return append([]byte{hKeyData}, d...)
		}
		pg := f.overflow(d)
		it := make([]byte, 12)
		it[0] = hOffPage
		binary.LittleEndian.PutUint32(it[4:], pg)
		binary.LittleEndian.PutUint32(it[8:], uint32(len(d)))
		return it
	}
	for b, list := range buckets {
		sort.SliceStable(list, func(i, j int) bool { return defCmp(list[i].k, list[j].k) < 0 })
		pg := uint32(b + 1)
		var prev uint32
		var items [][]byte
		flush := func(next uint32) {
			hf, ok := putItems(f.pages[pg], items, 1)
			if !ok {
				panic("rpmdb: hash page overfilled")
			}
			setHeader(f.pages[pg], pg, prev, next, uint16(len(items)), hf, 0, pHash)
		}
		used := pageHdrSize
		for _, r := range list {
			ki, vi := item(r.k), item(r.v)
			need := len(ki) + len(vi) + 4
			if used+need > bdbPageSize && len(items) > 0 {
				next := f.alloc()
				flush(next)
				prev, pg, items, used = pg, next, nil, pageHdrSize
			}
			items = append(items, ki, vi)
			used += need
		}
		flush(0)
	}
	p := f.pages[0]
	setMeta(p, hashMagic, uint32(len(f.pages)-1), pHashMeta)
	le := binary.LittleEndian
	le.PutUint32(p[72:], nb-1)                                // max_bucket
	le.PutUint32(p[76:], nb-1)                                // high_mask
	le.PutUint32(p[80:], nb/2-1)                              // low_mask
	le.PutUint32(p[84:], 0)                                   // ffactor
	le.PutUint32(p[88:], uint32(len(recs)))                   // nelem
	le.PutUint32(p[92:], hashFunc([]byte("%$sniglet^&\x00"))) // h_charkey: sizeof(CHARKEY), NUL included
	for i := 0; 1<<i <= nb; i++ {
		le.PutUint32(p[96+4*i:], 1) // spares: buckets are pages 1..nb
	}
	return f.bytes(name)
}

// btreeNode is one page of a btree being built.
type btreeNode struct {
	items       [][]byte
	first, last []byte
	pgno        uint32
}

// writeBtree writes a DB_BTREE file holding recs (keys unique).
func writeBtree(name string, recs []kv) ([]byte, error) {
	sort.SliceStable(recs, func(i, j int) bool { return defCmp(recs[i].k, recs[j].k) < 0 })
	f := &bdbFile{}
	f.alloc()
	f.alloc() // the root is page 1
	leafItem := func(d []byte) []byte {
		if len(d) <= btreeOvfl {
			it := make([]byte, 3+len(d))
			binary.LittleEndian.PutUint16(it, uint16(len(d)))
			it[2] = bKeyData
			copy(it[3:], d)
			return it
		}
		pg := f.overflow(d)
		it := make([]byte, 12)
		it[2] = bOverflow
		binary.LittleEndian.PutUint32(it[4:], pg)
		binary.LittleEndian.PutUint32(it[8:], uint32(len(d)))
		return it
	}
	isz := func(it []byte) int { return (len(it)+3)/4*4 + 2 }
	var nodes []*btreeNode
	cur := &btreeNode{}
	used := pageHdrSize
	for i, r := range recs {
		if i > 0 && bytes.Equal(recs[i-1].k, r.k) {
			return nil, fmt.Errorf("rpmdb: %s: duplicate key %q", name, r.k)
		}
		ki, vi := leafItem(r.k), leafItem(r.v)
		need := isz(ki) + isz(vi)
		if used+need > bdbPageSize && len(cur.items) > 0 {
			nodes = append(nodes, cur)
			cur, used = &btreeNode{}, pageHdrSize
		}
		if len(cur.items) == 0 {
			cur.first = r.k
		}
		cur.last = r.k
		cur.items = append(cur.items, ki, vi)
		used += need
	}
	nodes = append(nodes, cur)
	level := byte(1)
	for {
		typ := byte(pLBtree)
		if level > 1 {
			typ = pIBtree
		}
		if len(nodes) == 1 {
			nodes[0].pgno = 1
		} else {
			for _, n := range nodes {
				n.pgno = f.alloc()
			}
		}
		for i, n := range nodes {
			var prev, next uint32
			if i > 0 {
				prev = nodes[i-1].pgno
			}
			if i+1 < len(nodes) {
				next = nodes[i+1].pgno
			}
			p := f.pages[n.pgno]
			hf, ok := putItems(p, n.items, 4)
			if !ok {
				return nil, fmt.Errorf("rpmdb: %s: btree page overfilled", name)
			}
			setHeader(p, n.pgno, prev, next, uint16(len(n.items)), hf, level, typ)
		}
		if len(nodes) == 1 {
			break
		}
		// The next level up: one entry per child, keyed by the shortest
		// prefix of its first key above the previous child's last key
		// (libdb's __bam_defpfx); the first entry's key is empty.
		var up []*btreeNode
		cur := &btreeNode{}
		used := pageHdrSize
		for i, n := range nodes {
			var key []byte
			if i > 0 {
				key = separator(nodes[i-1].last, n.first)
				if len(key) > btreeOvfl {
					return nil, fmt.Errorf("rpmdb: %s: key of %d bytes too long for an internal page", name, len(key))
				}
			}
			it := make([]byte, 12+len(key))
			binary.LittleEndian.PutUint16(it, uint16(len(key)))
			it[2] = bKeyData
			binary.LittleEndian.PutUint32(it[4:], n.pgno)
			copy(it[12:], key)
			if used+isz(it) > bdbPageSize && len(cur.items) > 0 {
				up = append(up, cur)
				cur, used = &btreeNode{}, pageHdrSize
				// The first entry of every internal page has an empty key.
				it = append(it[:12:12], nil...)
				binary.LittleEndian.PutUint16(it, 0)
			}
			if len(cur.items) == 0 {
				cur.first = n.first
			}
			cur.last = n.last
			cur.items = append(cur.items, it)
			used += isz(it)
		}
		up = append(up, cur)
		nodes = up
		level++
	}
	p := f.pages[0]
	setMeta(p, btreeMagic, uint32(len(f.pages)-1), pBtreeMeta)
	le := binary.LittleEndian
	le.PutUint32(p[76:], 2)    // minkey
	le.PutUint32(p[84:], 0x20) // re_pad
	le.PutUint32(p[88:], 1)    // root
	return f.bytes(name), nil
}

// separator returns the shortest prefix of b that sorts after a (a < b).
func separator(a, b []byte) []byte {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	if n < len(b) {
		return b[:n+1]
	}
	return b
}

// writeBDB writes Packages and the index files.
func writeBDB(blobs [][]byte) ([]File, error) {
	hs, err := parseAll(blobs)
	if err != nil {
		return nil, err
	}
	recs := []kv{{le32(0), le32(uint32(len(blobs)))}}
	for i, b := range blobs {
		recs = append(recs, kv{le32(uint32(i + 1)), b})
	}
	if len(blobs) == 0 {
		recs = nil
	}
	files := []File{{Name: "Packages", Data: writeHash("Packages", recs)}}
	idx, err := buildIndexes(hs)
	if err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		var recs []kv
		for _, k := range idx[ix.name] {
			key := k.key
			if len(key) == 0 {
				key = []byte{0} // rpm's "/" fixup: an empty key is one NUL
			}
			v := make([]byte, 0, 8*len(k.items))
			for _, it := range k.items {
				v = append(v, le32(it.hnum)...)
				v = append(v, le32(it.idx)...)
			}
			recs = append(recs, kv{key, v})
		}
		// Two keys can meet after the empty-key fixup; merge them as rpm
		// would have appended to one record.
		recs = mergeKeys(recs)
		data, err := writeBtree(ix.name, recs)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: ix.name, Data: data})
	}
	return files, nil
}

func mergeKeys(recs []kv) []kv {
	pos := map[string]int{}
	var out []kv
	for _, r := range recs {
		if p, ok := pos[string(r.k)]; ok {
			out[p].v = append(out[p].v, r.v...)
			continue
		}
		pos[string(r.k)] = len(out)
		out = append(out, r)
	}
	return out
}

func le32(v uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return b[:]
}
