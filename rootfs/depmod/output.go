package depmod

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// The writers below are depmod.c's output_* functions, one each.

func outputDeps(mods []*mod) []byte {
	var b bytes.Buffer
	for _, m := range mods {
		b.WriteString(depLine(m))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func outputDepsBin(mods []*mod) ([]byte, error) {
	x := newIndex()
	for _, m := range mods {
		if err := x.insert(m.name, depLine(m), uint32(m.idx)); err != nil {
			return nil, fmt.Errorf("depmod: modules.dep.bin: module %s: %w", m.path, err)
		}
	}
	return x.bytes(), nil
}

func outputAliases(mods []*mod) []byte {
	var b bytes.Buffer
	b.WriteString("# Aliases extracted from modules themselves.\n")
	for _, m := range mods {
		for _, i := range m.Info {
			if i.Key == "alias" {
				fmt.Fprintf(&b, "alias %s %s\n", i.Value, m.name)
			}
		}
	}
	return b.Bytes()
}

func outputAliasesBin(mods []*mod) ([]byte, error) {
	x := newIndex()
	for _, m := range mods {
		for _, i := range m.Info {
			if i.Key != "alias" {
				continue
			}
			alias, ok := aliasNormalize(i.Value)
			if !ok {
				continue // depmod: "Unmatched bracket", skipped
			}
			if err := x.insert(alias, m.name, uint32(m.idx)); err != nil {
				return nil, fmt.Errorf("depmod: modules.alias.bin: module %s: %w", m.path, err)
			}
		}
	}
	return x.bytes(), nil
}

func outputSoftdeps(mods []*mod) []byte {
	var b bytes.Buffer
	b.WriteString("# Soft dependencies extracted from modules themselves.\n")
	for _, m := range mods {
		for _, i := range m.Info {
			if i.Key == "softdep" {
				fmt.Fprintf(&b, "softdep %s %s\n", m.name, i.Value)
			}
		}
	}
	return b.Bytes()
}

func outputSymbols(syms []*symbol) []byte {
	var b bytes.Buffer
	b.WriteString("# Aliases for symbols, used by symbol_request().\n")
	for _, s := range syms {
		fmt.Fprintf(&b, "alias symbol:%s %s\n", s.name, s.owner.name)
	}
	return b.Bytes()
}

func outputSymbolsBin(syms []*symbol) ([]byte, error) {
	x := newIndex()
	for _, s := range syms {
		if err := x.insert("symbol:"+s.name, s.owner.name, uint32(s.owner.idx)); err != nil {
			return nil, fmt.Errorf("depmod: modules.symbols.bin: module %s: %w", s.owner.path, err)
		}
	}
	return x.bytes(), nil
}

// outputBuiltinBin indexes modules.builtin: one "kernel/.../name.ko" per
// line, lines not starting with a letter skipped (depmod logs them).
func outputBuiltinBin(data []byte) ([]byte, error) {
	x := newIndex()
	for _, l := range fgetsLines(data) {
		if l == "" || !isAlpha(l[0]) {
			continue
		}
		name := modname(l)
		if name == "" {
			continue
		}
		if err := x.insert(name, "", 0); err != nil {
			return nil, err
		}
	}
	return x.bytes(), nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// streamReader reads bytes the way depmod's flush_stream* use fgetc.
type streamReader struct {
	data []byte
	pos  int
	eof  bool
}

func (r *streamReader) getc() int {
	if r.pos >= len(r.data) {
		r.eof = true
		return -1
	}
	c := r.data[r.pos]
	r.pos++
	return int(c)
}

// to is flush_stream_to: read up to end, a NUL or EOF; the text read, and
// whether end stopped it. Like depmod it keeps at most PATH_MAX-1 bytes
// (the last byte read when the buffer is full is dropped).
func (r *streamReader) to(end byte) (string, bool) {
	const dstSize = 4096
	var buf []byte
	c := r.getc()
	for c != -1 && c != int(end) && c != 0 && len(buf) < dstSize {
		buf = append(buf, byte(c))
		c = r.getc()
	}
	if len(buf) == dstSize {
		buf = buf[:dstSize-1]
	}
	return string(buf), c == int(end)
}

// outputBuiltinAliasBin indexes the alias= entries of
// modules.builtin.modinfo ("modname.key=value\0" records), reproducing
// depmod's parser, quirks included: a record without '=' makes it skip
// the record after it too.
func outputBuiltinAliasBin(data []byte) ([]byte, error) {
	x := newIndex()
	r := &streamReader{data: data}
	for !r.eof {
		name, ok := r.to('.')
		if !ok || name == "" {
			continue
		}
		key, ok := r.to('=')
		if !ok || key != "alias" {
			r.to(0) // flush_stream(in, '\0')
			continue
		}
		value, ok := r.to(0)
		if !ok || value == "" {
			continue
		}
		alias, ok := aliasNormalize(value)
		if !ok {
			continue
		}
		if err := x.insert(alias, name, 0); err != nil {
			return nil, fmt.Errorf("alias %q of %s: %w", value, name, err)
		}
	}
	return x.bytes(), nil
}

// aliasNormalize is libkmod's alias_normalize: '-' becomes '_' outside
// [...] groups; an unmatched bracket makes the alias invalid.
func aliasNormalize(alias string) (string, bool) {
	const max = 4096 - 1
	buf := make([]byte, 0, len(alias))
	for i := 0; i < max; i++ {
		if i >= len(alias) {
			return string(buf), true
		}
		switch c := alias[i]; c {
		case '-':
			buf = append(buf, '_')
		case ']':
			return "", false
		case '[':
			for i < len(alias) && alias[i] != ']' {
				buf = append(buf, alias[i])
				i++
			}
			if i >= len(alias) {
				return "", false
			}
			buf = append(buf, ']')
		default:
			buf = append(buf, c)
		}
	}
	return string(buf), true
}

// outputDevname is output_devname: modules with a devname: alias and a
// char-major-M-m or block-major-M-m alias.
func outputDevname(mods []*mod) []byte {
	var b bytes.Buffer
	for _, m := range mods {
		devname, typ := "", byte(0)
		hasDevname := false
		var major, minor uint32
		for _, i := range m.Info {
			if i.Key != "alias" {
				continue
			}
			v := i.Value
			if d, ok := strings.CutPrefix(v, "devname:"); ok {
				devname, hasDevname = d, true
			} else if ma, mi, ok := scanMajorMinor(v, "char-major-"); ok {
				typ, major, minor = 'c', ma, mi
			} else if ma, mi, ok := scanMajorMinor(v, "block-major-"); ok {
				typ, major, minor = 'b', ma, mi
			}
			if typ != 0 && hasDevname {
				break
			}
		}
		if hasDevname && typ != 0 {
			if b.Len() == 0 {
				b.WriteString("# Device nodes to trigger on-demand module loading.\n")
			}
			fmt.Fprintf(&b, "%s %s %c%d:%d\n", m.name, devname, typ, major, minor)
		}
	}
	return b.Bytes()
}

// scanMajorMinor is sscanf(v, prefix "%u-%u", ...) == 2.
func scanMajorMinor(v, prefix string) (uint32, uint32, bool) {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return 0, 0, false
	}
	major, rest, ok := scanUint(rest)
	if !ok || !strings.HasPrefix(rest, "-") {
		return 0, 0, false
	}
	minor, _, ok := scanUint(rest[1:])
	return major, minor, ok
}

// scanUint is scanf's %u: optional white space and sign, then decimal
// digits, converted as strtoul does (a minus negates, modulo 2^32 once
// stored in an unsigned int; overflow saturates before that).
func scanUint(s string) (uint32, string, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, s, false
	}
	v, err := strconv.ParseUint(s[:n], 10, 64)
	if err != nil {
		v = ^uint64(0)
	}
	if neg && err == nil {
		v = -v
	}
	return uint32(v), s[n:], true
}
