package depmod

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readIndex decodes a modules.*.bin file into key -> values, following
// libkmod-index.c's reader, independently of the writer.
func readIndex(data []byte) (map[string][]indexValue, error) {
	u32 := func(off int) (uint32, error) {
		if off < 0 || off+4 > len(data) {
			return 0, fmt.Errorf("offset %d out of %d bytes", off, len(data))
		}
		return binary.BigEndian.Uint32(data[off:]), nil
	}
	cstr := func(off int) (string, int, error) {
		if off < 0 || off >= len(data) {
			return "", 0, fmt.Errorf("string at %d out of %d bytes", off, len(data))
		}
		i := bytes.IndexByte(data[off:], 0)
		if i < 0 {
			return "", 0, fmt.Errorf("unterminated string at %d", off)
		}
		return string(data[off : off+i]), off + i + 1, nil
	}
	if m, err := u32(0); err != nil || m != indexMagic {
		return nil, fmt.Errorf("bad magic")
	}
	if v, err := u32(4); err != nil || v != indexVersion {
		return nil, fmt.Errorf("bad version")
	}
	root, err := u32(8)
	if err != nil {
		return nil, err
	}
	out := map[string][]indexValue{}
	var walk func(off uint32, key string, depth int) error
	walk = func(off uint32, key string, depth int) error {
		if depth > 10000 {
			return fmt.Errorf("too deep")
		}
		pos := int(off & 0x0FFFFFFF)
		if off&nodePrefix != 0 {
			p, next, err := cstr(pos)
			if err != nil {
				return err
			}
			key += p
			pos = next
		}
		if off&nodeChilds != 0 {
			if pos+2 > len(data) {
				return fmt.Errorf("child table at %d", pos)
			}
			first, last := int(data[pos]), int(data[pos+1])
			pos += 2
			for c := first; c <= last; c++ {
				o, err := u32(pos)
				if err != nil {
					return err
				}
				pos += 4
				if o != 0 {
					if err := walk(o, key+string(rune(c)), depth+1); err != nil {
						return err
					}
				}
			}
		}
		if off&nodeValues != 0 {
			n, err := u32(pos)
			if err != nil {
				return err
			}
			pos += 4
			for range n {
				prio, err := u32(pos)
				if err != nil {
					return err
				}
				v, next, err := cstr(pos + 4)
				if err != nil {
					return err
				}
				pos = next
				out[key] = append(out[key], indexValue{priority: prio, value: v})
			}
		}
		return nil
	}
	return out, walk(root, "", 0)
}

// TestReadIndexHost checks the test's reader on the host's real
// modules.alias.bin against modules.alias (aliases normalised, values in
// module-order priority), so that it can serve as an oracle below.
func TestReadIndexHost(t *testing.T) {
	dirs, _ := filepath.Glob("/lib/modules/*/modules.alias.bin")
	if len(dirs) == 0 {
		t.Skip("no host modules.alias.bin")
	}
	dir := filepath.Dir(dirs[0])
	bin, err := os.ReadFile(filepath.Join(dir, "modules.alias.bin"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := readIndex(bin)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "modules.alias"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 || fs[0] != "alias" {
			continue
		}
		a, ok := aliasNormalize(fs[1])
		if ok {
			want[a] = append(want[a], fs[2])
		}
	}
	if len(idx) != len(want) {
		t.Fatalf("%d keys in modules.alias.bin, %d aliases in modules.alias", len(idx), len(want))
	}
	for k, mods := range want {
		var got []string
		for _, v := range idx[k] {
			got = append(got, v.value)
		}
		// modules.alias lists in module order, which is the priority order.
		if !slices.Equal(got, mods) {
			t.Errorf("alias %s: index %v, text %v", k, got, mods)
		}
	}
}

// FuzzIndex inserts arbitrary keys and checks that what the writer
// produces decodes to exactly the inserted keys and values, in depmod's
// value order (ascending priority, newest first among equals).
func FuzzIndex(f *testing.F) {
	f.Add("pci:v00008086d*\npci:v00008086d00001234*\npci\n\npci:v00008086d*\nusb:v*")
	f.Add("symbol:foo\nsymbol:foobar\nsymbol:fo\nsymbol:g")
	f.Add("a\nab\nabc\nabd\nb\n\x7f")
	f.Fuzz(func(t *testing.T, keys string) {
		x := newIndex()
		want := map[string][]indexValue{}
		for i, k := range strings.Split(keys, "\n") {
			v := indexValue{priority: uint32(i % 3), value: fmt.Sprint("v", i)}
			if err := x.insert(k, v.value, v.priority); err != nil {
				if checkASCII("", k) == nil {
					t.Fatalf("insert %q: %v", k, err)
				}
				continue
			}
			vs := want[k]
			j := 0
			for j < len(vs) && vs[j].priority < v.priority {
				j++
			}
			want[k] = slices.Insert(vs, j, v)
		}
		got, err := readIndex(x.bytes())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d keys decoded, %d inserted", len(got), len(want))
		}
		for k, vs := range want {
			if !slices.Equal(got[k], vs) {
				t.Fatalf("key %q: decoded %v, want %v", k, got[k], vs)
			}
		}
	})
}
