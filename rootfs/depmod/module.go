package depmod

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
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
func ParseModule(name string, data []byte) (m *Module, err error) {
	// debug/elf validates headers, but a hostile file must never crash
	// the build: turn any panic into an error naming the file.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("depmod: module %s: malformed ELF: %v", name, r)
		}
	}()
	if len(data) < 4 || !bytes.Equal(data[:4], []byte(elf.ELFMAG)) {
		return nil, fmt.Errorf("depmod: module %s: %w", name, ErrNotELF)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("depmod: module %s: %w", name, err)
	}
	m = &Module{}
	if data, ok, err := sectionData(f, ".modinfo"); err != nil {
		return nil, fmt.Errorf("depmod: module %s: %w", name, err)
	} else if ok {
		for _, s := range splitStrings(data) {
			k, v, _ := strings.Cut(s, "=")
			m.Info = append(m.Info, ModInfo{Key: k, Value: v})
		}
	}
	syms, err := f.Symbols()
	hasSymtab := err == nil
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("depmod: module %s: .symtab: %w", name, err)
	}
	for _, s := range syms {
		if e, ok := strings.CutPrefix(s.Name, "__crc_"); ok {
			m.Exports = append(m.Exports, e)
		}
	}
	if len(m.Exports) == 0 {
		// Kernels without CONFIG_MODVERSIONS have no __crc_ symbols.
		data, ok, err := sectionData(f, "__ksymtab_strings")
		if err != nil {
			return nil, fmt.Errorf("depmod: module %s: %w", name, err)
		}
		if ok {
			m.Exports = splitStrings(data)
		}
	}
	if !hasSymtab {
		// libkmod lists no dependency symbols at all without a .symtab.
		return m, nil
	}
	if m.Needs, err = needs(f, syms); err != nil {
		return nil, fmt.Errorf("depmod: module %s: %w", name, err)
	}
	return m, nil
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
	for _, s := range bytes.Split(data, []byte{0}) {
		if len(s) > 0 {
			out = append(out, string(s))
		}
	}
	return out
}

// needs lists the undefined symbols, then the unreferenced __versions
// entries, as kmod_elf_get_dependency_symbols does.
func needs(f *elf.File, syms []elf.Symbol) ([]DepSymbol, error) {
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
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF {
			continue
		}
		if sparc && elf.ST_TYPE(s.Info) == 13 { // STT_REGISTER
			continue
		}
		if s.Name == "" {
			continue
		}
		if i, ok := firstVersion[s.Name]; ok {
			visited[i] = true
		}
		out = append(out, DepSymbol{Name: s.Name, Weak: elf.ST_BIND(s.Info) == elf.STB_WEAK})
	}
	for i, v := range versions {
		if !visited[i] {
			out = append(out, DepSymbol{Name: v})
		}
	}
	return out, nil
}
