package rpmdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/vicroot/vicroot/internal/rpmhdr"
)

// SQLite file-format constants (https://sqlite.org/fileformat2.html).
const (
	sqPageSize = 4096
	sqUsable   = sqPageSize // no reserved bytes

	sqIndexInterior = 0x02
	sqTableInterior = 0x05
	sqIndexLeaf     = 0x0a
	sqTableLeaf     = 0x0d

	// sqVersion is the SQLITE_VERSION_NUMBER recorded in the header
	// (3.40.1, Debian 12's).
	sqVersion = 3040001
)

// sqlite value of a record column: nil, int64, string (TEXT) or []byte
// (BLOB).
type sqValue any

func putVarint(b []byte, v uint64) []byte {
	if v > 0x00ffffffffffffff {
		var t [9]byte
		t[8] = byte(v)
		v >>= 8
		for i := 7; i >= 0; i-- {
			t[i] = byte(v&0x7f) | 0x80
			v >>= 7
		}
		return append(b, t[:]...)
	}
	var t [9]byte
	n := 0
	for {
		t[n] = byte(v & 0x7f)
		n++
		v >>= 7
		if v == 0 {
			break
		}
	}
	for i := n - 1; i >= 0; i-- {
		c := t[i]
		if i > 0 {
			c |= 0x80
		}
		b = append(b, c)
	}
	return b
}

func varintLen(v uint64) int { return len(putVarint(nil, v)) }

// record encodes a row in the record format (schema format 4).
func record(vals ...sqValue) []byte {
	var hdr, body []byte
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			hdr = putVarint(hdr, 0)
		case int64:
			switch {
			case x == 0:
				hdr = putVarint(hdr, 8)
			case x == 1:
				hdr = putVarint(hdr, 9)
			case x >= -128 && x <= 127:
				hdr = putVarint(hdr, 1)
				body = append(body, byte(x))
			case x >= -32768 && x <= 32767:
				hdr = putVarint(hdr, 2)
				body = binary.BigEndian.AppendUint16(body, uint16(x))
			case x >= -8388608 && x <= 8388607:
				hdr = putVarint(hdr, 3)
				body = append(body, byte(x>>16), byte(x>>8), byte(x))
			case x >= -2147483648 && x <= 2147483647:
				hdr = putVarint(hdr, 4)
				body = binary.BigEndian.AppendUint32(body, uint32(x))
			default:
				hdr = putVarint(hdr, 6)
				body = binary.BigEndian.AppendUint64(body, uint64(x))
			}
		case string:
			hdr = putVarint(hdr, uint64(13+2*len(x)))
			body = append(body, x...)
		case []byte:
			hdr = putVarint(hdr, uint64(12+2*len(x)))
			body = append(body, x...)
		default:
			panic(fmt.Sprintf("rpmdb: record value %T", v))
		}
	}
	// The header size varint counts itself.
	n := len(hdr) + 1
	if varintLen(uint64(n)) > 1 {
		n = len(hdr) + varintLen(uint64(len(hdr)+2))
	}
	out := putVarint(nil, uint64(n))
	out = append(out, hdr...)
	return append(out, body...)
}

// sqFile builds a database page by page (pages[0] is page 1).
type sqFile struct {
	pages [][]byte
}

func (f *sqFile) alloc() uint32 {
	f.pages = append(f.pages, make([]byte, sqPageSize))
	return uint32(len(f.pages))
}

func (f *sqFile) page(pg uint32) []byte { return f.pages[pg-1] }

// localSize is how much of a payload of p bytes stays on the b-tree page
// (the rest goes to overflow pages).
func localSize(p int, tableLeaf bool) int {
	x := sqUsable - 35
	if !tableLeaf {
		x = (sqUsable-12)*64/255 - 23
	}
	if p <= x {
		return p
	}
	m := (sqUsable-12)*32/255 - 23
	k := m + (p-m)%(sqUsable-4)
	if k <= x {
		return k
	}
	return m
}

// payloadCell returns prefix + the local part of payload, followed by the
// first overflow page when the payload does not fit.
func (f *sqFile) payloadCell(prefix, payload []byte, tableLeaf bool) []byte {
	l := localSize(len(payload), tableLeaf)
	cell := append(prefix, payload[:l]...)
	if l == len(payload) {
		return cell
	}
	rest := payload[l:]
	first := f.alloc()
	pg := first
	for {
		p := f.page(pg)
		n := copy(p[4:], rest)
		rest = rest[n:]
		if len(rest) == 0 {
			break
		}
		next := f.alloc()
		binary.BigEndian.PutUint32(p, next)
		pg = next
	}
	return binary.BigEndian.AppendUint32(cell, first)
}

// cellSize is a cell's on-page size (without its pointer), from the
// payload size alone.
func cellSize(prefixLen, payload int, tableLeaf bool) int {
	l := localSize(payload, tableLeaf)
	n := prefixLen + l
	if l < payload {
		n += 4
	}
	return max(n, 4)
}

// writePage lays out a b-tree page.
func (f *sqFile) writePage(pg uint32, typ byte, cells [][]byte, right uint32) error {
	p := f.page(pg)
	off := 0
	if pg == 1 {
		off = 100
	}
	hs := 8
	if typ == sqIndexInterior || typ == sqTableInterior {
		hs = 12
	}
	end := sqUsable
	ptr := off + hs
	for _, c := range cells {
		sz := max(len(c), 4)
		end -= sz
		if end < ptr+2 {
			return fmt.Errorf("rpmdb: sqlite page %d overfilled", pg)
		}
		copy(p[end:], c)
		binary.BigEndian.PutUint16(p[ptr:], uint16(end))
		ptr += 2
	}
	p[off] = typ
	binary.BigEndian.PutUint16(p[off+3:], uint16(len(cells)))
	if end == 65536 {
		end = 0
	}
	binary.BigEndian.PutUint16(p[off+5:], uint16(end))
	if hs == 12 {
		binary.BigEndian.PutUint32(p[off+8:], right)
	}
	return nil
}

// pageRoom is the cell space of a page: what is left after the headers.
func pageRoom(first bool, interior bool) int {
	n := sqUsable - 8
	if interior {
		n -= 4
	}
	if first {
		n -= 100
	}
	return n
}

type sqRow struct {
	rowid   int64
	payload []byte
}

// buildTable writes a table b-tree of rows (rowids ascending) and returns
// its root page; root, when not 0, is the page the root must occupy (page
// 1 for sqlite_schema), already allocated.
func (f *sqFile) buildTable(rows []sqRow, root uint32) (uint32, error) {
	type node struct {
		cells  [][]byte
		maxRow int64
		pgno   uint32
	}
	// Leaves: group rows by size.
	var groups [][]sqRow
	var cur []sqRow
	used := 0
	room := pageRoom(root == 1, false)
	for _, r := range rows {
		sz := cellSize(varintLen(uint64(len(r.payload)))+varintLen(uint64(r.rowid)), len(r.payload), true) + 2
		if used+sz > room && len(cur) > 0 {
			groups = append(groups, cur)
			cur, used = nil, 0
			room = pageRoom(false, false)
		}
		cur = append(cur, r)
		used += sz
	}
	groups = append(groups, cur)
	if len(groups) > 1 && root == 1 {
		// Page 1 then holds the interior root; recompute leaves with the
		// full room.
		groups, cur, used = nil, nil, 0
		for _, r := range rows {
			sz := cellSize(varintLen(uint64(len(r.payload)))+varintLen(uint64(r.rowid)), len(r.payload), true) + 2
			if used+sz > pageRoom(false, false) && len(cur) > 0 {
				groups = append(groups, cur)
				cur, used = nil, 0
			}
			cur = append(cur, r)
			used += sz
		}
		groups = append(groups, cur)
	}
	var level []node
	for _, g := range groups {
		var pg uint32
		if len(groups) == 1 && root != 0 {
			pg = root
		} else {
			pg = f.alloc()
		}
		var cells [][]byte
		for _, r := range g {
			pre := putVarint(nil, uint64(len(r.payload)))
			pre = putVarint(pre, uint64(r.rowid))
			cells = append(cells, f.payloadCell(pre, r.payload, true))
		}
		if err := f.writePage(pg, sqTableLeaf, cells, 0); err != nil {
			return 0, err
		}
		var mx int64
		if len(g) > 0 {
			mx = g[len(g)-1].rowid
		}
		level = append(level, node{maxRow: mx, pgno: pg})
	}
	for len(level) > 1 {
		var up []node
		var cells [][]byte
		used := 0
		room := pageRoom(false, true)
		flush := func(right node, last bool) error {
			var pg uint32
			if last && len(up) == 0 && root != 0 {
				pg = root
			} else {
				pg = f.alloc()
			}
			if err := f.writePage(pg, sqTableInterior, cells, right.pgno); err != nil {
				return err
			}
			up = append(up, node{maxRow: right.maxRow, pgno: pg})
			cells, used = nil, 0
			return nil
		}
		// Does the whole level fit on one page (the root)?
		total := 0
		for _, n := range level[:len(level)-1] {
			total += 4 + varintLen(uint64(n.maxRow)) + 2
		}
		single := total <= pageRoom(root == 1, true)
		if single {
			room = pageRoom(root == 1, true)
		}
		for i, n := range level {
			if i == len(level)-1 {
				if err := flush(n, single); err != nil {
					return 0, err
				}
				break
			}
			sz := 4 + varintLen(uint64(n.maxRow)) + 2
			// Keep 16 bytes spare so that the child before the last can
			// always join a page: no page is left with no cell.
			if used+sz > room-16 && len(cells) > 0 && i+2 < len(level) {
				// n becomes this page's right-most child.
				if err := flush(n, false); err != nil {
					return 0, err
				}
				continue
			}
			cell := binary.BigEndian.AppendUint32(nil, n.pgno)
			cells = append(cells, putVarint(cell, uint64(n.maxRow)))
			used += sz
		}
		level = up
	}
	return level[0].pgno, nil
}

// buildIndex writes an index b-tree of records (sorted) and returns its
// root page. In an index b-tree every entry appears once: interior cells
// hold entries themselves.
func (f *sqFile) buildIndex(recs [][]byte) (uint32, error) {
	type node struct{ pgno uint32 }
	sz := func(r []byte, interior bool) int {
		n := cellSize(varintLen(uint64(len(r))), len(r), false) + 2
		if interior {
			n += 4
		}
		return n
	}
	// The largest cell: child pointer, size varint, the most a payload
	// keeps on an index page, overflow pointer, cell pointer.
	maxCell := 4 + 9 + (sqUsable-12)*64/255 - 23 + 4 + 2
	// A divider is never the last record, so no leaf is empty.
	var leaves [][][]byte
	var dividers [][]byte
	var cur [][]byte
	used := 0
	budget := pageRoom(false, false)
	for i := 0; i < len(recs); i++ {
		r := recs[i]
		if used+sz(r, false) > budget && len(cur) > 0 && i+1 < len(recs) {
			leaves = append(leaves, cur)
			dividers = append(dividers, r)
			cur, used = nil, 0
			continue
		}
		if used+sz(r, false) > budget && len(cur) > 1 {
			// The last record does not fit: the one before it becomes
			// the divider and r starts the last leaf (a page holds at
			// least four of the largest cells, so cur keeps one).
			leaves = append(leaves, cur[:len(cur)-1])
			dividers = append(dividers, cur[len(cur)-1])
			cur, used = nil, 0
		}
		cur = append(cur, r)
		used += sz(r, false)
	}
	leaves = append(leaves, cur)
	var children []node
	for _, l := range leaves {
		pg := f.alloc()
		var cells [][]byte
		for _, r := range l {
			cells = append(cells, f.payloadCell(putVarint(nil, uint64(len(r))), r, false))
		}
		if err := f.writePage(pg, sqIndexLeaf, cells, 0); err != nil {
			return 0, err
		}
		children = append(children, node{pg})
	}
	for len(children) > 1 {
		// children[i] and dividers[i] alternate; the last child has none.
		var upChildren []node
		var upDividers [][]byte
		var cells [][]byte
		used := 0
		// Spare room for one more cell: the child before the last always
		// joins the page (so no page is left with no cell).
		budget := pageRoom(false, true) - maxCell
		for i := 0; i < len(children); i++ {
			if i == len(children)-1 {
				pg := f.alloc()
				if err := f.writePage(pg, sqIndexInterior, cells, children[i].pgno); err != nil {
					return 0, err
				}
				upChildren = append(upChildren, node{pg})
				break
			}
			d := dividers[i]
			if used+sz(d, true) > budget && len(cells) > 0 && i+2 < len(children) {
				pg := f.alloc()
				if err := f.writePage(pg, sqIndexInterior, cells, children[i].pgno); err != nil {
					return 0, err
				}
				upChildren = append(upChildren, node{pg})
				upDividers = append(upDividers, d)
				cells, used = nil, 0
				continue
			}
			cell := binary.BigEndian.AppendUint32(nil, children[i].pgno)
			cell = putVarint(cell, uint64(len(d)))
			cells = append(cells, f.payloadCell(cell, d, false))
			used += sz(d, true)
		}
		children, dividers = upChildren, upDividers
	}
	return children[0].pgno, nil
}

// sqIndexTable is one rpm index table: name, key type, and which b-tree
// indexes rpm creates on it (its SQLite backend's init_index: key for string tags,
// hnum for array tags).
type sqIndexTable struct {
	name        string
	text        bool
	keyIdx      bool
	hnumIdx     bool
	tag         uint32
	scalarIndex bool
}

func sqIndexTables() []sqIndexTable {
	var out []sqIndexTable
	for _, ix := range indexes {
		t := sqIndexTable{name: ix.name, tag: ix.tag, text: true, keyIdx: true, hnumIdx: true}
		switch ix.name {
		case "Name", "Group", "Sha1header":
			t.hnumIdx = false
		case "Installtid", "Sigmd5":
			t.text, t.keyIdx, t.hnumIdx = false, false, false
		}
		out = append(out, t)
	}
	return out
}

// writeSQLite writes rpmdb.sqlite.
func writeSQLite(blobs [][]byte) ([]File, error) {
	hs, err := parseAll(blobs)
	if err != nil {
		return nil, err
	}
	data, err := sqliteBytes(blobs, hs)
	if err != nil {
		return nil, err
	}
	return []File{{Name: "rpmdb.sqlite", Data: data}}, nil
}

func sqliteBytes(blobs [][]byte, hs []*rpmhdr.Header) ([]byte, error) {
	f := &sqFile{}
	f.alloc() // page 1: header and sqlite_schema root
	var schema []sqRow
	add := func(typ, name, tbl string, root uint32, sql string) {
		schema = append(schema, sqRow{int64(len(schema) + 1), record(typ, name, tbl, int64(root), sql)})
	}
	var rows []sqRow
	for i, b := range blobs {
		rows = append(rows, sqRow{int64(i + 1), record(nil, b)})
	}
	root, err := f.buildTable(rows, 0)
	if err != nil {
		return nil, err
	}
	add("table", "Packages", "Packages", root, "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)")
	var seq []sqRow
	if len(blobs) > 0 {
		seq = []sqRow{{1, record("Packages", int64(len(blobs)))}}
	}
	if root, err = f.buildTable(seq, 0); err != nil {
		return nil, err
	}
	add("table", "sqlite_sequence", "sqlite_sequence", root, "CREATE TABLE sqlite_sequence(name,seq)")
	for _, t := range sqIndexTables() {
		type row struct {
			key       []byte
			hnum, idx int64
		}
		var trows []row
		for i, h := range hs {
			keys, idx, err := indexEntries(h, t.tag)
			if err != nil {
				return nil, fmt.Errorf("rpmdb: header %d: index %s: %v", i+1, t.name, err)
			}
			for j, k := range keys {
				trows = append(trows, row{[]byte(k), int64(i + 1), int64(idx[j])})
			}
		}
		keyv := func(k []byte) sqValue {
			if t.text {
				return string(k)
			}
			return k
		}
		var tr []sqRow
		for i, r := range trows {
			tr = append(tr, sqRow{int64(i + 1), record(keyv(r.key), r.hnum, r.idx)})
		}
		if root, err = f.buildTable(tr, 0); err != nil {
			return nil, err
		}
		kt := "TEXT"
		if !t.text {
			kt = "BLOB"
		}
		add("table", t.name, t.name, root, fmt.Sprintf("CREATE TABLE '%s' (key '%s' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))", t.name, kt))
		if t.keyIdx {
			ord := make([]int, len(trows))
			for i := range ord {
				ord[i] = i
			}
			sort.SliceStable(ord, func(a, b int) bool { return bytes.Compare(trows[ord[a]].key, trows[ord[b]].key) < 0 })
			var recs [][]byte
			for _, i := range ord {
				recs = append(recs, record(keyv(trows[i].key), int64(i+1)))
			}
			if root, err = f.buildIndex(recs); err != nil {
				return nil, err
			}
			add("index", t.name+"_key_idx", t.name, root, fmt.Sprintf("CREATE INDEX '%s_key_idx' ON '%s'(key ASC)", t.name, t.name))
		}
		if t.hnumIdx {
			var recs [][]byte
			for i, r := range trows { // already in (hnum, rowid) order
				recs = append(recs, record(r.hnum, int64(i+1)))
			}
			if root, err = f.buildIndex(recs); err != nil {
				return nil, err
			}
			add("index", t.name+"_hnum_idx", t.name, root, fmt.Sprintf("CREATE INDEX '%s_hnum_idx' ON '%s'(hnum ASC)", t.name, t.name))
		}
	}
	if _, err := f.buildTable(schema, 1); err != nil {
		return nil, err
	}
	h := f.page(1)
	copy(h, "SQLite format 3\x00")
	binary.BigEndian.PutUint16(h[16:], sqPageSize)
	h[18], h[19] = 1, 1 // legacy (rollback journal): readable without -shm
	h[20] = 0
	h[21], h[22], h[23] = 64, 32, 32
	be := binary.BigEndian
	be.PutUint32(h[24:], 1) // change counter
	be.PutUint32(h[28:], uint32(len(f.pages)))
	be.PutUint32(h[40:], 1) // schema cookie
	be.PutUint32(h[44:], 4) // schema format
	be.PutUint32(h[56:], 1) // UTF-8
	be.PutUint32(h[92:], 1) // version-valid-for
	be.PutUint32(h[96:], sqVersion)
	return bytes.Join(f.pages, nil), nil
}
