package rpmdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// ErrMalformed is wrapped by every error about a database file that cannot
// be read.
var ErrMalformed = errors.New("malformed rpm database")

// bdbReader reads a whole Berkeley DB hash or btree file from memory.
type bdbReader struct {
	name     string
	data     []byte
	pagesize int
	last     uint32
	swapped  bool
	btree    bool
	ord      binary.ByteOrder
}

func (r *bdbReader) errf(format string, a ...any) error {
	return fmt.Errorf("%s: %w: %s", r.name, ErrMalformed, fmt.Sprintf(format, a...))
}

func openBDB(name string, data []byte) (*bdbReader, error) {
	r := &bdbReader{name: name, data: data, ord: binary.LittleEndian}
	if len(data) < 512 {
		return nil, r.errf("%d bytes, shorter than a meta page", len(data))
	}
	switch m := binary.LittleEndian.Uint32(data[12:]); m {
	case hashMagic, btreeMagic:
		r.btree = m == btreeMagic
	default:
		switch binary.BigEndian.Uint32(data[12:]) {
		case hashMagic, btreeMagic:
			r.ord = binary.BigEndian
			r.btree = binary.BigEndian.Uint32(data[12:]) == btreeMagic
		default:
			return nil, r.errf("not a Berkeley DB hash or btree (magic %#x)", m)
		}
	}
	if v := r.ord.Uint32(data[16:]); v < 8 || v > 10 {
		return nil, r.errf("unsupported version %d", v)
	}
	ps := r.ord.Uint32(data[20:])
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil, r.errf("page size %d", ps)
	}
	r.pagesize = int(ps)
	if data[24] != 0 {
		return nil, r.errf("encrypted (algorithm %d)", data[24])
	}
	r.last = r.ord.Uint32(data[32:])
	if uint64(r.last+1)*uint64(ps) > uint64(len(data)) {
		return nil, r.errf("last page %d beyond the file's %d bytes", r.last, len(data))
	}
	return r, nil
}

// page returns page pg, checking its number and type.
func (r *bdbReader) page(pg uint32, types ...byte) ([]byte, error) {
	if pg == 0 || pg > r.last {
		return nil, r.errf("page %d out of range (last %d)", pg, r.last)
	}
	p := r.data[int(pg)*r.pagesize : int(pg+1)*r.pagesize]
	if got := r.ord.Uint32(p[8:]); got != pg {
		return nil, r.errf("page %d says it is page %d", pg, got)
	}
	for _, t := range types {
		if p[25] == t {
			return p, nil
		}
	}
	return nil, r.errf("page %d has type %d, want %v", pg, p[25], types)
}

// overflowData reads an overflow chain of total length n.
func (r *bdbReader) overflowData(pg, n uint32) ([]byte, error) {
	if n == 0 || int64(n) > int64(r.last+1)*int64(r.pagesize) {
		return nil, r.errf("overflow item of %d bytes", n)
	}
	out := make([]byte, 0, n)
	seen := map[uint32]bool{}
	for uint32(len(out)) < n {
		if seen[pg] {
			return nil, r.errf("overflow chain loops at page %d", pg)
		}
		seen[pg] = true
		p, err := r.page(pg, pOverflow)
		if err != nil {
			return nil, err
		}
		l := int(r.ord.Uint16(p[22:]))
		if l > r.pagesize-pageHdrSize || uint32(len(out)+l) > n {
			return nil, r.errf("overflow page %d holds %d bytes", pg, l)
		}
		out = append(out, p[pageHdrSize:pageHdrSize+l]...)
		pg = r.ord.Uint32(p[16:])
		if uint32(len(out)) < n && pg == 0 {
			return nil, r.errf("overflow chain ends after %d of %d bytes", len(out), n)
		}
	}
	return out, nil
}

// index returns the offset of item i of page p (pg names it in errors).
func (r *bdbReader) index(p []byte, pg uint32, i int) (int, error) {
	n := int(r.ord.Uint16(p[20:]))
	if pageHdrSize+2*n > r.pagesize {
		return 0, r.errf("page %d: %d entries do not fit", pg, n)
	}
	off := int(r.ord.Uint16(p[pageHdrSize+2*i:]))
	if off < pageHdrSize+2*n || off >= r.pagesize {
		return 0, r.errf("page %d: item %d at offset %d", pg, i, off)
	}
	return off, nil
}

// all returns every key/value pair of the database.
func (r *bdbReader) all() ([]kv, error) {
	if r.btree {
		return r.btreeAll()
	}
	return r.hashAll()
}

func (r *bdbReader) hashAll() ([]kv, error) {
	m := r.data
	maxb := r.ord.Uint32(m[72:])
	if uint64(maxb) >= uint64(r.last)+1 {
		return nil, r.errf("max bucket %d with %d pages", maxb, r.last+1)
	}
	var spares [32]uint32
	for i := range spares {
		spares[i] = r.ord.Uint32(m[96+4*i:])
	}
	var out []kv
	seen := map[uint32]bool{}
	for b := uint32(0); b <= maxb; b++ {
		i := 0
		for x := b; x != 0; x >>= 1 {
			i++
		}
		pg := b + spares[i]
		for pg != 0 {
			if seen[pg] {
				return nil, r.errf("bucket %d: page %d reached twice", b, pg)
			}
			seen[pg] = true
			p, err := r.page(pg, pHash, 2)
			if err != nil {
				return nil, fmt.Errorf("bucket %d: %w", b, err)
			}
			n := int(r.ord.Uint16(p[20:]))
			if n%2 != 0 {
				return nil, r.errf("hash page %d has an odd number of items (%d)", pg, n)
			}
			end := r.pagesize
			var items [][]byte
			for j := 0; j < n; j++ {
				off, err := r.index(p, pg, j)
				if err != nil {
					return nil, err
				}
				if off >= end {
					return nil, r.errf("hash page %d: item %d at %d overlaps the one before", pg, j, off)
				}
				it, err := r.hashItem(p[off:end], pg)
				if err != nil {
					return nil, err
				}
				items = append(items, it)
				end = off
			}
			for j := 0; j < n; j += 2 {
				out = append(out, kv{items[j], items[j+1]})
			}
			pg = r.ord.Uint32(p[16:])
		}
	}
	return out, nil
}

func (r *bdbReader) hashItem(it []byte, pg uint32) ([]byte, error) {
	switch it[0] {
	case hKeyData:
		return it[1:], nil
	case hOffPage:
		if len(it) != 12 {
			return nil, r.errf("hash page %d: off-page item of %d bytes", pg, len(it))
		}
		return r.overflowData(r.ord.Uint32(it[4:]), r.ord.Uint32(it[8:]))
	}
	return nil, r.errf("hash page %d: item type %d", pg, it[0])
}

func (r *bdbReader) btreeAll() ([]kv, error) {
	root := r.ord.Uint32(r.data[88:])
	var out []kv
	seen := map[uint32]bool{}
	var walk func(pg uint32, depth int) error
	walk = func(pg uint32, depth int) error {
		if depth > 64 {
			return r.errf("btree deeper than 64 levels")
		}
		if seen[pg] {
			return r.errf("btree page %d reached twice", pg)
		}
		seen[pg] = true
		p, err := r.page(pg, pLBtree, pIBtree)
		if err != nil {
			return err
		}
		n := int(r.ord.Uint16(p[20:]))
		if p[25] == pIBtree {
			for j := 0; j < n; j++ {
				off, err := r.index(p, pg, j)
				if err != nil {
					return err
				}
				if off+12 > r.pagesize {
					return r.errf("btree page %d: internal item %d truncated", pg, j)
				}
				if err := walk(r.ord.Uint32(p[off+4:]), depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if n%2 != 0 {
			return r.errf("btree leaf %d has an odd number of items (%d)", pg, n)
		}
		var items [][]byte
		for j := 0; j < n; j++ {
			off, err := r.index(p, pg, j)
			if err != nil {
				return err
			}
			if off+3 > r.pagesize {
				return r.errf("btree leaf %d: item %d truncated", pg, j)
			}
			switch p[off+2] & 0x7f {
			case bKeyData:
				l := int(r.ord.Uint16(p[off:]))
				if off+3+l > r.pagesize {
					return r.errf("btree leaf %d: item %d of %d bytes beyond the page", pg, j, l)
				}
				items = append(items, p[off+3:off+3+l])
			case bOverflow:
				if off+12 > r.pagesize {
					return r.errf("btree leaf %d: overflow item %d truncated", pg, j)
				}
				d, err := r.overflowData(r.ord.Uint32(p[off+4:]), r.ord.Uint32(p[off+8:]))
				if err != nil {
					return err
				}
				items = append(items, d)
			default:
				return r.errf("btree leaf %d: item %d has type %d", pg, j, p[off+2])
			}
		}
		for j := 0; j < n; j += 2 {
			if p[int(r.ord.Uint16(p[pageHdrSize+2*j:]))+2]&0x80 != 0 {
				continue // deleted
			}
			out = append(out, kv{items[j], items[j+1]})
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadBDB reads the headers of a Berkeley DB "Packages" file (name is used
// in errors), in header-number order.
func ReadBDB(name string, data []byte) ([]Installed, error) {
	r, err := openBDB(name, data)
	if err != nil {
		return nil, err
	}
	if r.btree {
		return nil, r.errf("a btree, not the hash database Packages is")
	}
	recs, err := r.all()
	if err != nil {
		return nil, err
	}
	var out []Installed
	seen := map[uint32]bool{}
	for _, rec := range recs {
		if len(rec.k) != 4 {
			return nil, r.errf("key of %d bytes, want a 4-byte header number", len(rec.k))
		}
		num := r.ord.Uint32(rec.k)
		if num == 0 {
			continue // the largest header number
		}
		if seen[num] {
			return nil, r.errf("header %d stored twice", num)
		}
		seen[num] = true
		in, err := installed(name, num, rec.v)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out, nil
}

// ReadDir reads the database in fsys (a /var/lib/rpm), whichever format
// it holds: rpmdb.sqlite when present, else Packages; None and no headers
// when it holds neither.
func ReadDir(fsys fs.FS) (Format, []Installed, error) {
	for _, f := range []Format{SQLite, BDB} {
		if _, err := fs.Stat(fsys, f.File()); err == nil {
			ins, err := Read(fsys, f)
			return f, ins, err
		}
	}
	return None, nil, nil
}

// Read reads the installed headers of the database in fsys (a
// /var/lib/rpm), in the given format.
func Read(fsys fs.FS, f Format) ([]Installed, error) {
	if f != BDB && f != SQLite {
		return nil, fmt.Errorf("rpmdb: cannot read format %v", f)
	}
	data, err := fs.ReadFile(fsys, f.File())
	if err != nil {
		return nil, fmt.Errorf("rpmdb: %w", err)
	}
	if f == BDB {
		return ReadBDB(f.File(), data)
	}
	return ReadSQLite(f.File(), data)
}
