package rpmdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
)

// sqReader reads a whole SQLite database file from memory: enough of the
// format to walk table b-trees and decode records.
type sqReader struct {
	name     string
	data     []byte
	pagesize int
	usable   int
	npages   uint32
}

func (r *sqReader) errf(format string, a ...any) error {
	return fmt.Errorf("%s: %w: %s", r.name, ErrMalformed, fmt.Sprintf(format, a...))
}

func openSQLite(name string, data []byte) (*sqReader, error) {
	r := &sqReader{name: name, data: data}
	if len(data) < 100 || !bytes.Equal(data[:16], []byte("SQLite format 3\x00")) {
		return nil, r.errf("not an SQLite 3 database")
	}
	ps := int(binary.BigEndian.Uint16(data[16:]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps&(ps-1) != 0 {
		return nil, r.errf("page size %d", ps)
	}
	r.pagesize = ps
	r.usable = ps - int(data[20])
	if r.usable < 480 {
		return nil, r.errf("usable page size %d", r.usable)
	}
	if len(data)%ps != 0 {
		return nil, r.errf("%d bytes, not a whole number of %d-byte pages", len(data), ps)
	}
	r.npages = uint32(len(data) / ps)
	if enc := binary.BigEndian.Uint32(data[56:]); enc != 1 && enc != 0 {
		return nil, r.errf("text encoding %d, want UTF-8", enc)
	}
	return r, nil
}

func (r *sqReader) page(pg uint32) ([]byte, error) {
	if pg == 0 || pg > r.npages {
		return nil, r.errf("page %d out of range (%d pages)", pg, r.npages)
	}
	return r.data[int(pg-1)*r.pagesize : int(pg)*r.pagesize], nil
}

func getVarint(b []byte) (uint64, int, bool) {
	var v uint64
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0, false
		}
		if i == 8 {
			return v<<8 | uint64(b[i]), 9, true
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// payload returns a cell's full payload: the local part at cell[0:] and,
// when it does not fit, the overflow chain.
func (r *sqReader) payload(cell []byte, p uint64, tableLeaf bool, pg uint32) ([]byte, error) {
	u := r.usable
	x := u - 35
	if !tableLeaf {
		x = (u-12)*64/255 - 23
	}
	local := int(p)
	if p > uint64(x) {
		m := (u-12)*32/255 - 23
		k := m + int((p-uint64(m))%uint64(u-4))
		if k <= x {
			local = k
		} else {
			local = m
		}
	}
	if p > uint64(len(r.data)) {
		return nil, r.errf("page %d: payload of %d bytes", pg, p)
	}
	if local > len(cell) || (uint64(local) < p && local+4 > len(cell)) {
		return nil, r.errf("page %d: cell runs off the page", pg)
	}
	out := make([]byte, 0, p)
	out = append(out, cell[:local]...)
	if uint64(local) == p {
		return out, nil
	}
	next := binary.BigEndian.Uint32(cell[local:])
	seen := map[uint32]bool{}
	for uint64(len(out)) < p {
		if seen[next] {
			return nil, r.errf("overflow chain loops at page %d", next)
		}
		seen[next] = true
		op, err := r.page(next)
		if err != nil {
			return nil, err
		}
		n := min(uint64(u-4), p-uint64(len(out)))
		out = append(out, op[4:4+n]...)
		next = binary.BigEndian.Uint32(op)
		if uint64(len(out)) < p && next == 0 {
			return nil, r.errf("overflow chain ends after %d of %d bytes", len(out), p)
		}
	}
	return out, nil
}

// tableRows walks a table b-tree and returns its (rowid, payload) rows.
func (r *sqReader) tableRows(root uint32) ([]sqRow, error) {
	var out []sqRow
	seen := map[uint32]bool{}
	var walk func(pg uint32, depth int) error
	walk = func(pg uint32, depth int) error {
		if depth > 40 {
			return r.errf("b-tree deeper than 40 levels")
		}
		if seen[pg] {
			return r.errf("page %d reached twice", pg)
		}
		seen[pg] = true
		p, err := r.page(pg)
		if err != nil {
			return err
		}
		off := 0
		if pg == 1 {
			off = 100
		}
		typ := p[off]
		hs := 8
		if typ == sqTableInterior {
			hs = 12
		} else if typ != sqTableLeaf {
			return r.errf("page %d: type %#x, want a table b-tree page", pg, typ)
		}
		n := int(binary.BigEndian.Uint16(p[off+3:]))
		if off+hs+2*n > r.usable {
			return r.errf("page %d: %d cells do not fit", pg, n)
		}
		for i := 0; i < n; i++ {
			c := int(binary.BigEndian.Uint16(p[off+hs+2*i:]))
			if c < off+hs+2*n || c >= r.usable {
				return r.errf("page %d: cell %d at offset %d", pg, i, c)
			}
			cell := p[c:r.usable]
			if typ == sqTableInterior {
				if len(cell) < 4 {
					return r.errf("page %d: cell %d truncated", pg, i)
				}
				if err := walk(binary.BigEndian.Uint32(cell), depth+1); err != nil {
					return err
				}
				continue
			}
			size, n1, ok := getVarint(cell)
			if !ok {
				return r.errf("page %d: cell %d: bad payload size", pg, i)
			}
			rowid, n2, ok := getVarint(cell[n1:])
			if !ok {
				return r.errf("page %d: cell %d: bad rowid", pg, i)
			}
			pl, err := r.payload(cell[n1+n2:], size, true, pg)
			if err != nil {
				return err
			}
			out = append(out, sqRow{int64(rowid), pl})
		}
		if typ == sqTableInterior {
			return walk(binary.BigEndian.Uint32(p[off+8:]), depth+1)
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeRecord decodes a record into nil, int64, string and []byte values.
func decodeRecord(rec []byte) ([]sqValue, bool) {
	hsz, n, ok := getVarint(rec)
	if !ok || hsz > uint64(len(rec)) || hsz < uint64(n) {
		return nil, false
	}
	hdr, body := rec[n:hsz], rec[hsz:]
	var out []sqValue
	for len(hdr) > 0 {
		st, m, ok := getVarint(hdr)
		if !ok {
			return nil, false
		}
		hdr = hdr[m:]
		var l int
		switch {
		case st == 0, st == 8, st == 9:
		case st >= 1 && st <= 4:
			l = int(st)
		case st == 5:
			l = 6
		case st == 6, st == 7:
			l = 8
		case st >= 12:
			if (st-12)/2 > uint64(len(body)) {
				return nil, false
			}
			l = int((st - 12) / 2)
		default:
			return nil, false
		}
		if l > len(body) {
			return nil, false
		}
		v := body[:l]
		body = body[l:]
		switch {
		case st == 0:
			out = append(out, nil)
		case st == 8:
			out = append(out, int64(0))
		case st == 9:
			out = append(out, int64(1))
		case st == 7:
			out = append(out, v) // a float, kept as bytes
		case st <= 6:
			x := int64(int8(v[0]))
			for _, c := range v[1:] {
				x = x<<8 | int64(c)
			}
			out = append(out, x)
		case st%2 == 0:
			out = append(out, v)
		default:
			out = append(out, string(v))
		}
	}
	return out, true
}

// ReadSQLite reads the headers of an rpmdb.sqlite file (name is used in
// errors), in header-number order.
func ReadSQLite(name string, data []byte) ([]Installed, error) {
	r, err := openSQLite(name, data)
	if err != nil {
		return nil, err
	}
	schema, err := r.tableRows(1)
	if err != nil {
		return nil, fmt.Errorf("sqlite_schema: %w", err)
	}
	var root uint32
	for _, s := range schema {
		v, ok := decodeRecord(s.payload)
		if !ok || len(v) != 5 {
			return nil, r.errf("sqlite_schema row %d is not a 5-column record", s.rowid)
		}
		if typ, _ := v[0].(string); typ == "table" {
			if n, _ := v[1].(string); n == "Packages" {
				pg, ok := v[3].(int64)
				if !ok || pg <= 0 || pg > int64(r.npages) {
					return nil, r.errf("table Packages has root page %v", v[3])
				}
				root = uint32(pg)
			}
		}
	}
	if root == 0 {
		return nil, r.errf("no table Packages")
	}
	rows, err := r.tableRows(root)
	if err != nil {
		return nil, err
	}
	var out []Installed
	seen := map[int64]bool{}
	for _, row := range rows {
		v, ok := decodeRecord(row.payload)
		if !ok || len(v) != 2 {
			return nil, r.errf("Packages row %d is not a (hnum, blob) record", row.rowid)
		}
		blob, ok := v[1].([]byte)
		if !ok {
			return nil, r.errf("Packages row %d: blob column holds %T", row.rowid, v[1])
		}
		if row.rowid <= 0 || row.rowid > 1<<32-1 || seen[row.rowid] {
			return nil, r.errf("Packages row %d: bad or repeated header number", row.rowid)
		}
		seen[row.rowid] = true
		in, err := installed(name, uint32(row.rowid), blob)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out, nil
}
