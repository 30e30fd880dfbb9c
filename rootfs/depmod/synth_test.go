package depmod_test

import (
	"bytes"
	"encoding/binary"
)

// synthModule describes a small ELF64 relocatable object with just what
// depmod reads, so edge cases can be put in front of the real depmod.
type synthModule struct {
	modinfo        []string // "key=value"
	crcExports     []string // exported through __crc_<name> symbols
	ksymtabStrings []string // exported through __ksymtab_strings (no modversions)
	undef          []string // undefined global symbols
	weak           []string // undefined weak symbols
	versions       []string // __versions entries
	noSymtab       bool
}

func (m synthModule) bytes() []byte {
	type section struct {
		name      string
		typ       uint32
		data      []byte
		link      uint32
		info      uint32
		entsize   uint64
		addralign uint64
	}
	var secs []section
	strs := func(list []string) []byte {
		var b bytes.Buffer
		for _, s := range list {
			b.WriteString(s)
			b.WriteByte(0)
		}
		return b.Bytes()
	}
	if m.modinfo != nil {
		secs = append(secs, section{name: ".modinfo", typ: 1, data: strs(m.modinfo), addralign: 1})
	}
	if m.ksymtabStrings != nil {
		secs = append(secs, section{name: "__ksymtab_strings", typ: 1, data: strs(m.ksymtabStrings), addralign: 1})
	}
	if m.versions != nil {
		var b []byte
		for i, v := range m.versions {
			e := make([]byte, 64)
			binary.LittleEndian.PutUint64(e, uint64(0x1000+i))
			copy(e[8:63], v)
			b = append(b, e...)
		}
		secs = append(secs, section{name: "__versions", typ: 1, data: b, addralign: 32})
	}
	if !m.noSymtab {
		strtab := []byte{0}
		sym := make([]byte, 24) // the null symbol
		add := func(name string, bind byte, shndx uint16, value uint64) {
			off := uint32(len(strtab))
			strtab = append(strtab, name...)
			strtab = append(strtab, 0)
			e := make([]byte, 24)
			binary.LittleEndian.PutUint32(e[0:], off)
			e[4] = bind << 4 // STT_NOTYPE
			binary.LittleEndian.PutUint16(e[6:], shndx)
			binary.LittleEndian.PutUint64(e[8:], value)
			sym = append(sym, e...)
		}
		for i, e := range m.crcExports {
			add("__crc_"+e, 1, 0xfff1, uint64(0xabc0+i)) // SHN_ABS
		}
		for _, u := range m.undef {
			add(u, 1, 0, 0)
		}
		for _, w := range m.weak {
			add(w, 2, 0, 0)
		}
		n := uint32(len(secs)) + 1
		secs = append(secs,
			section{name: ".symtab", typ: 2, data: sym, link: n + 1, info: 1, entsize: 24, addralign: 8},
			section{name: ".strtab", typ: 3, data: strtab, addralign: 1})
	}
	shstr := []byte{0}
	names := make([]uint32, len(secs)+1)
	for i, s := range secs {
		names[i] = uint32(len(shstr))
		shstr = append(shstr, s.name...)
		shstr = append(shstr, 0)
	}
	names[len(secs)] = uint32(len(shstr))
	shstr = append(shstr, ".shstrtab"...)
	shstr = append(shstr, 0)
	secs = append(secs, section{name: ".shstrtab", typ: 3, data: shstr, addralign: 1})

	out := make([]byte, 64)
	offs := make([]uint64, len(secs))
	for i, s := range secs {
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		offs[i] = uint64(len(out))
		out = append(out, s.data...)
	}
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	shoff := uint64(len(out))
	out = append(out, make([]byte, 64)...) // null section header
	for i, s := range secs {
		h := make([]byte, 64)
		binary.LittleEndian.PutUint32(h[0:], names[i])
		binary.LittleEndian.PutUint32(h[4:], s.typ)
		binary.LittleEndian.PutUint64(h[24:], offs[i])
		binary.LittleEndian.PutUint64(h[32:], uint64(len(s.data)))
		binary.LittleEndian.PutUint32(h[40:], s.link)
		binary.LittleEndian.PutUint32(h[44:], s.info)
		binary.LittleEndian.PutUint64(h[48:], s.addralign)
		binary.LittleEndian.PutUint64(h[56:], s.entsize)
		out = append(out, h...)
	}
	copy(out, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	binary.LittleEndian.PutUint16(out[16:], 1)  // ET_REL
	binary.LittleEndian.PutUint16(out[18:], 62) // EM_X86_64
	binary.LittleEndian.PutUint32(out[20:], 1)
	binary.LittleEndian.PutUint64(out[40:], shoff)
	binary.LittleEndian.PutUint16(out[52:], 64)
	binary.LittleEndian.PutUint16(out[58:], 64)
	binary.LittleEndian.PutUint16(out[60:], uint16(len(secs)+1))
	binary.LittleEndian.PutUint16(out[62:], uint16(len(secs))) // .shstrtab is last
	return out
}
