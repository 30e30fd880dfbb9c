package depmod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ModInfo is one key=value string of a module's .modinfo section, in
// section order (alias, depends, softdep, name, vermagic, ...).
type ModInfo struct {
	Key, Value string
}

// DepSymbol is a symbol a module needs from the kernel or another module.
type DepSymbol struct {
	Name string
	Weak bool // STB_WEAK: an unresolved weak symbol is not an error at load time
}

// Module is what depmod reads from one kernel module file.
type Module struct {
	// Info holds the .modinfo strings in order.
	Info []ModInfo
	// Exports are the symbols the module exports, in symbol-table order:
	// the names of its __crc_<name> symbols or, without modversions, the
	// strings of __ksymtab_strings (libkmod's kmod_elf_get_symbols).
	Exports []string
	// Needs are its undefined symbols in symbol-table order, then the
	// __versions entries no undefined symbol named (module_layout), as
	// libkmod's kmod_elf_get_dependency_symbols lists them.
	Needs []DepSymbol
}

// ErrNotELF is returned (wrapped) for module files that are not ELF objects.
var ErrNotELF = errors.New("not an ELF object")

// ParseModule reads a kernel module from its uncompressed bytes. name is the
// file's path, used in errors only. Sections that are missing are empty
// results, as for libkmod; a file that is not a well-formed ELF object is an
// error naming the file and what is wrong.
func ParseModule(name string, data []byte) (*Module, error) {
	return parseModule(name, bytes.NewReader(data))
}

// parseModule reads only the headers and the sections depmod needs, so a
// module in a tree that offers io.ReaderAt is not read whole.
func parseModule(name string, r io.ReaderAt) (m *Module, err error) {
	// debug/elf validates headers, but a hostile file must never crash
	// the build: turn any panic into an error naming the file.
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("depmod: module %s: malformed ELF: %v", name, p)
		}
	}()
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, fmt.Errorf("depmod: module %s: %w", name, ErrNotELF)
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("depmod: module %s: %w", name, err)
	}
	m = &Module{}
	if err := m.read(f); err != nil {
		return nil, fmt.Errorf("depmod: module %s: %w", name, err)
	}
	return m, nil
}

func (m *Module) read(f *elf.File) error {
	if data, ok, err := sectionData(f, ".modinfo"); err != nil {
		return err
	} else if ok {
		for _, s := range splitStrings(data) {
			k, v, _ := strings.Cut(s, "=")
			m.Info = append(m.Info, ModInfo{Key: k, Value: v})
		}
	}
	syms, err := readSymtab(f)
	if err != nil {
		return err
	}
	if syms != nil {
		for i := range syms.n {
			if b := syms.nameBytes(i); bytes.HasPrefix(b, []byte("__crc_")) {
				m.Exports = append(m.Exports, string(b[len("__crc_"):]))
			}
		}
	}
	if len(m.Exports) == 0 {
		// Kernels without CONFIG_MODVERSIONS have no __crc_ symbols.
		data, ok, err := sectionData(f, "__ksymtab_strings")
		if err != nil {
			return err
		}
		if ok {
			m.Exports = splitStrings(data)
		}
	}
	if syms == nil {
		// libkmod lists no dependency symbols at all without a .symtab.
		return nil
	}
	m.Needs, err = needs(f, syms)
	return err
}

// sectionData returns the first section called name, as libkmod's
// kmod_elf_get_section finds it.
func sectionData(f *elf.File, name string) ([]byte, bool, error) {
	for _, s := range f.Sections[min(1, len(f.Sections)):] {
		if s.Name != name {
			continue
		}
		if s.Type == elf.SHT_NOBITS {
			return nil, true, nil
		}
		d, err := s.Data()
		if err != nil {
			return nil, false, fmt.Errorf("section %s: %w", name, err)
		}
		return d, true, nil
	}
	return nil, false, nil
}

// splitStrings splits a section of NUL-terminated strings, skipping the
// empty ones (padding), and keeps a last unterminated string, as libkmod's
// kmod_elf_get_strings does.
func splitStrings(data []byte) []string {
	var out []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, 0)
		if i < 0 {
			i = len(data)
		}
		if i > 0 {
			out = append(out, string(data[:i]))
		}
		data = data[min(i+1, len(data)):]
	}
	return out
}

// symtab is the .symtab section read the way libkmod reads it: sections
// found by the names ".symtab" and ".strtab", entry 0 skipped.
type symtab struct {
	data, strtab []byte
	order        binary.ByteOrder
	elf64        bool
	n            int // entries, the null one excluded
}

const (
	sym32Size = 16
	sym64Size = 24
)

// readSymtab returns nil (and no error) when the module has no symbol table.
func readSymtab(f *elf.File) (*symtab, error) {
	data, ok, err := sectionData(f, ".symtab")
	if err != nil || !ok {
		return nil, err
	}
	strtab, ok, err := sectionData(f, ".strtab")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf(".symtab without .strtab")
	}
	s := &symtab{data: data, strtab: strtab, order: f.ByteOrder, elf64: f.Class == elf.ELFCLASS64}
	size := sym32Size
	if s.elf64 {
		size = sym64Size
	}
	if len(data)%size != 0 {
		return nil, fmt.Errorf(".symtab: %d bytes is not a multiple of the %d-byte entry", len(data), size)
	}
	if len(data) > 0 {
		s.n = len(data)/size - 1
	}
	for i := range s.n {
		if off := s.nameOff(i); off >= uint32(len(strtab)) {
			return nil, fmt.Errorf(".symtab entry %d: name offset %d outside .strtab (%d bytes)", i+1, off, len(strtab))
		}
	}
	return s, nil
}

// entry returns the bytes of symbol i+1 (the null symbol is skipped).
func (s *symtab) entry(i int) []byte {
	if s.elf64 {
		return s.data[(i+1)*sym64Size : (i+2)*sym64Size]
	}
	return s.data[(i+1)*sym32Size : (i+2)*sym32Size]
}

func (s *symtab) nameOff(i int) uint32 { return s.order.Uint32(s.entry(i)) }

func (s *symtab) nameBytes(i int) []byte {
	b := s.strtab[s.nameOff(i):]
	if j := bytes.IndexByte(b, 0); j >= 0 {
		b = b[:j]
	}
	return b
}

func (s *symtab) name(i int) string { return string(s.nameBytes(i)) }

// info and shndx: Elf32_Sym is name, value, size, info, other, shndx;
// Elf64_Sym is name, info, other, shndx, value, size.
func (s *symtab) info(i int) byte {
	if s.elf64 {
		return s.entry(i)[4]
	}
	return s.entry(i)[12]
}

func (s *symtab) shndx(i int) elf.SectionIndex {
	if s.elf64 {
		return elf.SectionIndex(s.order.Uint16(s.entry(i)[6:]))
	}
	return elf.SectionIndex(s.order.Uint16(s.entry(i)[14:]))
}

// needs lists the undefined symbols, then the unreferenced __versions
// entries, as kmod_elf_get_dependency_symbols does.
func needs(f *elf.File, syms *symtab) ([]DepSymbol, error) {
	var out []DepSymbol
	var versions []string
	if data, ok, err := sectionData(f, "__versions"); err != nil {
		return nil, err
	} else if ok {
		// struct modversion_info: a CRC (4 bytes in ELF32, 8 in ELF64)
		// and a NUL-padded name, 64 bytes in all.
		crcLen := 8
		if f.Class == elf.ELFCLASS32 {
			crcLen = 4
		}
		if len(data)%64 == 0 {
			for off := 0; off < len(data); off += 64 {
				n := data[off+crcLen : off+64]
				if i := bytes.IndexByte(n, 0); i >= 0 {
					n = n[:i]
				}
				versions = append(versions, string(n))
			}
		}
	}
	visited := make([]bool, len(versions))
	firstVersion := make(map[string]int, len(versions))
	for i := len(versions) - 1; i >= 0; i-- {
		firstVersion[versions[i]] = i
	}
	sparc := f.Machine == elf.EM_SPARC || f.Machine == elf.EM_SPARCV9
	for i := range syms.n {
		if syms.shndx(i) != elf.SHN_UNDEF {
			continue
		}
		info := syms.info(i)
		if sparc && elf.ST_TYPE(info) == 13 { // STT_REGISTER
			continue
		}
		name := syms.name(i)
		if name == "" {
			continue
		}
		if j, ok := firstVersion[name]; ok {
			visited[j] = true
		}
		out = append(out, DepSymbol{Name: name, Weak: elf.ST_BIND(info) == elf.STB_WEAK})
	}
	for i, v := range versions {
		if !visited[i] {
			out = append(out, DepSymbol{Name: v})
		}
	}
	return out, nil
}
