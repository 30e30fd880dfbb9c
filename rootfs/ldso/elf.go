package ldso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNotELF is returned (wrapped) for a file without the ELF magic.
var ErrNotELF = errors.New("not an ELF file")

// elfFile is what this package needs from an ELF object, read from its
// program headers only (as ld.so and ldconfig do: section headers may be
// stripped).
type elfFile struct {
	name    string
	r       io.ReaderAt
	size    int64
	class   elf.Class
	order   binary.ByteOrder
	osabi   elf.OSABI
	version byte
	typ     elf.Type
	machine elf.Machine
	phdrs   []phdr
	dyn     []dynEntry // up to, not including, DT_NULL
	strtab  int64      // file offset of the dynamic string table, -1 if none
}

type phdr struct {
	typ                elf.ProgType
	off, vaddr, filesz uint64
	align              uint64
}

type dynEntry struct {
	tag elf.DynTag
	val uint64
}

// readELF parses the ELF header, program headers and dynamic section of r.
// Every offset is checked against size; malformed input is an error naming
// name and the field.
func readELF(name string, r io.ReaderAt, size int64) (*elfFile, error) {
	var ident [16]byte
	if size < 16 {
		return nil, fmt.Errorf("%s: %w (%d bytes)", name, ErrNotELF, size)
	}
	if _, err := r.ReadAt(ident[:], 0); err != nil {
		return nil, fmt.Errorf("%s: reading e_ident: %w", name, err)
	}
	if !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotELF)
	}
	f := &elfFile{name: name, r: r, size: size, strtab: -1}
	f.class = elf.Class(ident[elf.EI_CLASS])
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		f.order = binary.LittleEndian
	case elf.ELFDATA2MSB:
		f.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: e_ident[EI_DATA]: unknown data encoding %d", name, ident[elf.EI_DATA])
	}
	f.version = ident[elf.EI_VERSION]
	f.osabi = elf.OSABI(ident[elf.EI_OSABI])
	var phoff uint64
	var phnum int
	var phentsize int
	switch f.class {
	case elf.ELFCLASS64:
		var h [64]byte
		if err := f.read(h[:], 0, "ELF header"); err != nil {
			return nil, err
		}
		f.typ = elf.Type(f.order.Uint16(h[16:]))
		f.machine = elf.Machine(f.order.Uint16(h[18:]))
		phoff = f.order.Uint64(h[32:])
		phnum = int(f.order.Uint16(h[56:]))
		phentsize = 56
	case elf.ELFCLASS32:
		var h [52]byte
		if err := f.read(h[:], 0, "ELF header"); err != nil {
			return nil, err
		}
		f.typ = elf.Type(f.order.Uint16(h[16:]))
		f.machine = elf.Machine(f.order.Uint16(h[18:]))
		phoff = uint64(f.order.Uint32(h[28:]))
		phnum = int(f.order.Uint16(h[44:]))
		phentsize = 32
	default:
		return nil, fmt.Errorf("%s: e_ident[EI_CLASS]: unknown class %d", name, ident[elf.EI_CLASS])
	}
	if phnum > 0 {
		if phoff > uint64(size) || uint64(phnum)*uint64(phentsize) > uint64(size)-phoff {
			return nil, fmt.Errorf("%s: e_phoff %#x with %d program headers is beyond the file (%d bytes)", name, phoff, phnum, size)
		}
		buf := make([]byte, phnum*phentsize)
		if err := f.read(buf, phoff, "program headers"); err != nil {
			return nil, err
		}
		for i := 0; i < phnum; i++ {
			b := buf[i*phentsize:]
			var p phdr
			p.typ = elf.ProgType(f.order.Uint32(b))
			if f.class == elf.ELFCLASS64 {
				p.off = f.order.Uint64(b[8:])
				p.vaddr = f.order.Uint64(b[16:])
				p.filesz = f.order.Uint64(b[32:])
				p.align = f.order.Uint64(b[48:])
			} else {
				p.off = uint64(f.order.Uint32(b[4:]))
				p.vaddr = uint64(f.order.Uint32(b[8:]))
				p.filesz = uint64(f.order.Uint32(b[16:]))
				p.align = uint64(f.order.Uint32(b[28:]))
			}
			f.phdrs = append(f.phdrs, p)
		}
	}
	if err := f.readDynamic(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *elfFile) read(b []byte, off uint64, what string) error {
	if off > uint64(f.size) || uint64(len(b)) > uint64(f.size)-off {
		return fmt.Errorf("%s: %s at %#x (+%d) is beyond the file (%d bytes)", f.name, what, off, len(b), f.size)
	}
	if _, err := f.r.ReadAt(b, int64(off)); err != nil && !(err == io.EOF && off+uint64(len(b)) == uint64(f.size)) {
		return fmt.Errorf("%s: reading %s at %#x: %w", f.name, what, off, err)
	}
	return nil
}

func (f *elfFile) dynSize() int {
	if f.class == elf.ELFCLASS64 {
		return 16
	}
	return 8
}

// readDynamic reads the entries of the first PT_DYNAMIC segment up to DT_NULL
// (ldconfig reads until DT_NULL, not p_filesz, so this does too, bounded by
// the file) and locates DT_STRTAB through the PT_LOAD segment containing it.
func (f *elfFile) readDynamic() error {
	var dynOff uint64
	found := false
	for _, p := range f.phdrs {
		if p.typ == elf.PT_DYNAMIC && p.filesz != 0 {
			dynOff, found = p.off, true
			break
		}
	}
	if !found {
		return nil
	}
	es := uint64(f.dynSize())
	if dynOff > uint64(f.size) {
		return fmt.Errorf("%s: PT_DYNAMIC offset %#x is beyond the file (%d bytes)", f.name, dynOff, f.size)
	}
	n := (uint64(f.size) - dynOff) / es
	const chunk = 64
	buf := make([]byte, chunk*es)
	for i := uint64(0); i < n; i += chunk {
		k := min(chunk, n-i)
		b := buf[:k*es]
		if err := f.read(b, dynOff+i*es, "dynamic section"); err != nil {
			return err
		}
		for j := uint64(0); j < k; j++ {
			e := b[j*es:]
			var d dynEntry
			if es == 16 {
				d.tag = elf.DynTag(int64(f.order.Uint64(e)))
				d.val = f.order.Uint64(e[8:])
			} else {
				d.tag = elf.DynTag(int32(f.order.Uint32(e)))
				d.val = uint64(f.order.Uint32(e[4:]))
			}
			if d.tag == elf.DT_NULL {
				return f.findStrtab()
			}
			f.dyn = append(f.dyn, d)
		}
	}
	return fmt.Errorf("%s: dynamic section has no DT_NULL before the end of the file", f.name)
}

func (f *elfFile) findStrtab() error {
	for _, d := range f.dyn {
		if d.tag != elf.DT_STRTAB {
			continue
		}
		loadoff := uint64(0)
		for _, p := range f.phdrs {
			if p.typ == elf.PT_LOAD && d.val >= p.vaddr && d.val-p.vaddr < p.filesz {
				loadoff = p.vaddr - p.off
				break
			}
		}
		off := d.val - loadoff
		if off >= uint64(f.size) {
			return fmt.Errorf("%s: DT_STRTAB %#x maps to file offset %#x, beyond the file (%d bytes)", f.name, d.val, off, f.size)
		}
		f.strtab = int64(off)
		return nil
	}
	return nil
}

// hasDynamic reports whether the object has a PT_DYNAMIC segment.
func (f *elfFile) hasDynamic() bool {
	for _, p := range f.phdrs {
		if p.typ == elf.PT_DYNAMIC && p.filesz != 0 {
			return true
		}
	}
	return false
}

// cstring reads a NUL-terminated string at file offset off (ending at the
// end of the file at the latest).
func (f *elfFile) cstring(off uint64, what string) (string, error) {
	if off >= uint64(f.size) {
		return "", fmt.Errorf("%s: %s at %#x is beyond the file (%d bytes)", f.name, what, off, f.size)
	}
	var out []byte
	buf := make([]byte, 256)
	for off < uint64(f.size) {
		n := min(uint64(len(buf)), uint64(f.size)-off)
		if err := f.read(buf[:n], off, what); err != nil {
			return "", err
		}
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:n]...)
		off += n
		if len(out) > 1<<20 {
			return "", fmt.Errorf("%s: %s at %#x is longer than 1 MiB", f.name, what, off)
		}
	}
	return string(out), nil
}

// dynString reads a string of the dynamic string table.
func (f *elfFile) dynString(d dynEntry) (string, error) {
	if f.strtab < 0 {
		return "", fmt.Errorf("%s: %v without DT_STRTAB", f.name, d.tag)
	}
	return f.cstring(uint64(f.strtab)+d.val, d.tag.String())
}

// interp returns PT_INTERP's string, or "" when there is none.
func (f *elfFile) interp() (string, error) {
	for _, p := range f.phdrs {
		if p.typ == elf.PT_INTERP {
			return f.cstring(p.off, "PT_INTERP")
		}
	}
	return "", nil
}

// dynInfo is the dynamic-section data the loader uses.
type dynInfo struct {
	soname         string
	needed         []string
	rpath, runpath string
	hasRPath       bool
	hasRunPath     bool
	flags1         elf.DynFlag1
}

func (f *elfFile) dynamicInfo() (dynInfo, error) {
	var di dynInfo
	for _, d := range f.dyn {
		switch d.tag {
		case elf.DT_NEEDED, elf.DT_SONAME, elf.DT_RPATH, elf.DT_RUNPATH:
			s, err := f.dynString(d)
			if err != nil {
				return di, err
			}
			switch d.tag {
			case elf.DT_NEEDED:
				di.needed = append(di.needed, s)
			case elf.DT_SONAME:
				if di.soname == "" {
					di.soname = s
				}
			case elf.DT_RPATH:
				if !di.hasRPath {
					di.rpath, di.hasRPath = s, true
				}
			case elf.DT_RUNPATH:
				if !di.hasRunPath {
					di.runpath, di.hasRunPath = s, true
				}
			}
		case elf.DT_FLAGS_1:
			di.flags1 = elf.DynFlag1(d.val)
		}
	}
	return di, nil
}

// note is one ELF note.
type note struct {
	name string
	typ  uint32
	desc []byte
}

// notes returns the notes of every segment of type pt (PT_NOTE or
// PT_GNU_PROPERTY), stepping with the segment's alignment as glibc does
// (4, or 8 for 8-aligned segments).
func (f *elfFile) notes(pt elf.ProgType) ([]note, error) {
	var out []note
	for _, p := range f.phdrs {
		if p.typ != pt || p.filesz == 0 {
			continue
		}
		if p.filesz > 1<<20 {
			return nil, fmt.Errorf("%s: %v segment of %d bytes is too large", f.name, pt, p.filesz)
		}
		buf := make([]byte, p.filesz)
		if err := f.read(buf, p.off, pt.String()); err != nil {
			return nil, err
		}
		align := uint64(4)
		if p.align == 8 {
			align = 8
		}
		for len(buf) >= 12 {
			namesz := uint64(f.order.Uint32(buf))
			descsz := uint64(f.order.Uint32(buf[4:]))
			typ := f.order.Uint32(buf[8:])
			nameEnd := 12 + namesz
			descOff := alignUp(nameEnd, align)
			descEnd := descOff + descsz
			if namesz > uint64(len(buf)) || descsz > uint64(len(buf)) || descEnd > uint64(len(buf)) {
				return nil, fmt.Errorf("%s: %v note (namesz %d, descsz %d) overruns its segment", f.name, pt, namesz, descsz)
			}
			out = append(out, note{name: string(bytes.TrimRight(buf[12:nameEnd], "\x00")), typ: typ, desc: buf[descOff:descEnd]})
			next := alignUp(descEnd, align)
			if next >= uint64(len(buf)) {
				break
			}
			buf = buf[next:]
		}
	}
	return out, nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
