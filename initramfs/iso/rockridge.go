package iso

import (
	"encoding/binary"
	"strings"
	"time"
)

// System Use Sharing Protocol (SUSP 1.10) and Rock Ridge (RRIP 1.10, the
// version xorriso writes by default and announces as "RRIP_1991A").

const (
	rrID     = "RRIP_1991A"
	rrDesc   = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	rrSource = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."
)

// RR flags (RRIP 1.09 "RR" entry): which entries the record carries.
const (
	rrPX = 1 << 0
	rrPN = 1 << 1
	rrSL = 1 << 2
	rrNM = 1 << 3
	rrTF = 1 << 7
)

const ceLen = 28

func suspEntry(sig string, data ...[]byte) []byte {
	n := 4
	for _, d := range data {
		n += len(d)
	}
	e := make([]byte, 4, n)
	copy(e, sig)
	e[2] = byte(n)
	e[3] = 1
	for _, d := range data {
		e = append(e, d...)
	}
	return e
}

func both32(v uint32) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
	return b
}

func both16(v uint16) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
	return b
}

func spEntry() []byte { return suspEntry("SP", []byte{0xbe, 0xef, 0}) }

func rrEntry(flags byte) []byte { return suspEntry("RR", []byte{flags}) }

func pxEntry(mode, nlink, uid, gid uint32) []byte {
	return suspEntry("PX", both32(mode), both32(nlink), both32(uid), both32(gid))
}

// pnEntry records a device number as the high and low 32 bits of the
// glibc dev_t, as libisofs does; Linux reads low as major<<8|minor when
// high is 0.
func pnEntry(major, minor uint32) []byte {
	dev := makedev(major, minor)
	return suspEntry("PN", both32(uint32(dev>>32)), both32(uint32(dev)))
}

func makedev(major, minor uint32) uint64 {
	ma, mi := uint64(major), uint64(minor)
	return mi&0xff | (ma&0xfff)<<8 | (mi&^0xff)<<12 | (ma&^0xfff)<<32
}

func splitdev(dev uint64) (major, minor uint32) {
	return uint32((dev>>8)&0xfff | (dev>>32)&^0xfff), uint32(dev&0xff | (dev>>12)&^0xff)
}

// tfEntry records modify, access and attribute-change times, all t.
func tfEntry(t time.Time) []byte {
	d := dirDate(t)
	return suspEntry("TF", []byte{0x0e}, d[:], d[:], d[:])
}

func erEntry() []byte {
	return suspEntry("ER", []byte{byte(len(rrID)), byte(len(rrDesc)), byte(len(rrSource)), 1},
		[]byte(rrID), []byte(rrDesc), []byte(rrSource))
}

// nmEntries splits a name into NM entries of at most 255 bytes.
func nmEntries(name string) [][]byte {
	var out [][]byte
	for {
		const max = 255 - 5
		if len(name) <= max {
			return append(out, suspEntry("NM", []byte{0}, []byte(name)))
		}
		out = append(out, suspEntry("NM", []byte{1}, []byte(name[:max])))
		name = name[max:]
	}
}

// slEntries encodes a symlink target as SL component records, split over
// as many SL entries as needed.
func slEntries(target string) [][]byte {
	type comp struct {
		flags byte
		data  string
	}
	var comps []comp
	if strings.HasPrefix(target, "/") {
		comps = append(comps, comp{flags: 0x08})
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "":
		case ".":
			comps = append(comps, comp{flags: 0x02})
		case "..":
			comps = append(comps, comp{flags: 0x04})
		default:
			for len(c) > 248 {
				comps = append(comps, comp{flags: 0x01, data: c[:248]})
				c = c[248:]
			}
			comps = append(comps, comp{data: c})
		}
	}
	var out [][]byte
	var cur []byte
	flush := func(more bool) {
		var f byte
		if more {
			f = 1
		}
		out = append(out, suspEntry("SL", []byte{f}, cur))
		cur = nil
	}
	for _, c := range comps {
		rec := append([]byte{c.flags, byte(len(c.data))}, c.data...)
		if 5+len(cur)+len(rec) > 255 {
			flush(true)
		}
		cur = append(cur, rec...)
	}
	flush(false)
	return out
}

// suArea is a piece of system use data: the part inside a directory
// record, or a continuation area. ce is the offset of its CE entry, whose
// location fields are filled in when the layout is known, or -1.
type suArea struct {
	data []byte
	ce   int
	next *ceArea
}

// ceArea is a continuation area placed in the CE region, which never
// crosses a sector boundary.
type ceArea struct {
	suArea
	sector uint32 // relative to the CE region
	offset uint32
}

// ceRegion allocates continuation areas one after another.
type ceRegion struct {
	areas   []*ceArea
	sectors uint32
	used    uint32 // bytes used in the last sector
}

func (r *ceRegion) place(a *ceArea) {
	n := uint32(len(a.data))
	if r.sectors == 0 || r.used+n > sectorSize {
		r.sectors++
		r.used = 0
	}
	a.sector, a.offset = r.sectors-1, r.used
	r.used += n
	r.areas = append(r.areas, a)
}

// pack fits entries into capacity bytes of a directory record, moving the
// rest into continuation areas.
func (r *ceRegion) pack(entries [][]byte, capacity int) suArea {
	total := 0
	for _, e := range entries {
		total += len(e)
	}
	if total <= capacity {
		return suArea{data: concat(entries), ce: -1}
	}
	var head suArea
	i := 0
	for ; i < len(entries) && len(head.data)+len(entries[i])+ceLen <= capacity; i++ {
		head.data = append(head.data, entries[i]...)
	}
	head.ce = len(head.data)
	head.data = append(head.data, make([]byte, ceLen)...)
	prev := &head
	for i < len(entries) {
		a := &ceArea{suArea: suArea{ce: -1}}
		for ; i < len(entries); i++ {
			last := i == len(entries)-1
			need := len(entries[i])
			if !last {
				need += ceLen
			}
			if len(a.data)+need > sectorSize {
				break
			}
			a.data = append(a.data, entries[i]...)
		}
		if i < len(entries) {
			a.ce = len(a.data)
			a.data = append(a.data, make([]byte, ceLen)...)
		}
		r.place(a)
		prev.next = a
		prev = &a.suArea
	}
	return head
}

// fill writes the CE entry of s pointing at its continuation area, now
// that the CE region starts at base.
func (s *suArea) fill(base uint32) {
	if s.ce < 0 || s.next == nil {
		return
	}
	e := suspEntry("CE", both32(base+s.next.sector), both32(s.next.offset), both32(uint32(len(s.next.data))))
	copy(s.data[s.ce:], e)
}

func concat(bs [][]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}
