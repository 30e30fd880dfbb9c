package depmod

import (
	"encoding/binary"
	"fmt"
)

// The libkmod index file format (libkmod-index.c, depmod.c index_write):
//
//	u32 magic, u32 version, u32 root offset, then the nodes, children
//	before parents (post-order). All integers are big-endian.
//
// A node offset carries flags in its high nibble saying what the node at
// that offset holds, in this order: a NUL-terminated prefix, a child table
// (first char, last char, one u32 offset per char in between, 0 for none),
// and values (u32 count, then per value u32 priority and a NUL-terminated
// string).
const (
	indexMagic    = 0xB007F457
	indexVersion  = 0x0002<<16 | 0x0001
	indexChildMax = 128

	nodePrefix = 0x80000000
	nodeValues = 0x40000000
	nodeChilds = 0x20000000
)

type indexValue struct {
	priority uint32
	value    string
}

// indexNode is one node of the trie as depmod builds it in memory. The
// structure (where prefixes are split) follows depmod's index_insert so the
// written bytes are the same.
type indexNode struct {
	prefix   string
	values   []indexValue // ascending priority; equal priorities newest first
	first    int          // range of children; first == indexChildMax: none
	last     int
	children [indexChildMax]*indexNode
}

func newIndexNode(prefix string) *indexNode {
	return &indexNode{prefix: prefix, first: indexChildMax}
}

// index is an in-memory modules.*.bin index.
type index struct{ root *indexNode }

func newIndex() *index { return &index{root: newIndexNode("")} }

// checkASCII rejects what the trie cannot index: depmod's children table
// is indexed by 7-bit characters (and for others its behaviour is
// undefined), and keys and values are C strings.
func checkASCII(what, s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] >= indexChildMax || s[i] == 0 {
			return fmt.Errorf("%s %q: byte 0x%02x at %d is not 7-bit ASCII without NUL, which the module index cannot hold", what, s, s[i], i)
		}
	}
	return nil
}

// addValue inserts v before the first value whose priority is >= its own,
// as depmod's index_add_value does.
func (n *indexNode) addValue(value string, priority uint32) {
	i := 0
	for i < len(n.values) && n.values[i].priority < priority {
		i++
	}
	n.values = append(n.values, indexValue{})
	copy(n.values[i+1:], n.values[i:])
	n.values[i] = indexValue{priority: priority, value: value}
}

// insert adds value under key.
func (x *index) insert(key, value string, priority uint32) error {
	if err := checkASCII("index key", key); err != nil {
		return err
	}
	if err := checkASCII("index value", value); err != nil {
		return err
	}
	node := x.root
	i := 0
	for {
		// Make node.prefix a prefix of key[i:], splitting node if not.
		j := 0
		for ; j < len(node.prefix); j++ {
			ch := node.prefix[j]
			if i+j >= len(key) || ch != key[i+j] {
				// The old node moves down, keeping prefix[j+1:]; the parent
				// keeps prefix[:j] and the old node at prefix[j].
				child := new(indexNode)
				*child = *node
				child.prefix = node.prefix[j+1:]
				*node = indexNode{prefix: node.prefix[:j], first: int(ch), last: int(ch)}
				node.children[ch] = child
				break
			}
		}
		i += j
		if i == len(key) {
			node.addValue(value, priority)
			return nil
		}
		ch := key[i]
		if node.children[ch] == nil {
			if int(ch) < node.first {
				node.first = int(ch)
			}
			if int(ch) > node.last {
				node.last = int(ch)
			}
			child := newIndexNode(key[i+1:])
			child.addValue(value, priority)
			node.children[ch] = child
			return nil
		}
		node = node.children[ch]
		i++
	}
}

// bytes serialises the index exactly as depmod's index_write does.
func (x *index) bytes() []byte {
	out := make([]byte, 12, 4096)
	binary.BigEndian.PutUint32(out[0:], indexMagic)
	binary.BigEndian.PutUint32(out[4:], indexVersion)
	var root uint32
	out, root = writeNode(out, x.root)
	binary.BigEndian.PutUint32(out[8:], root)
	return out
}

func writeNode(out []byte, n *indexNode) ([]byte, uint32) {
	if n == nil {
		return out, 0
	}
	var childOffs []uint32
	if n.first < indexChildMax {
		childOffs = make([]uint32, n.last-n.first+1)
		for i := range childOffs {
			out, childOffs[i] = writeNode(out, n.children[n.first+i])
		}
	}
	offset := uint32(len(out))
	if n.prefix != "" {
		out = append(out, n.prefix...)
		out = append(out, 0)
		offset |= nodePrefix
	}
	if len(childOffs) > 0 {
		out = append(out, byte(n.first), byte(n.last))
		for _, o := range childOffs {
			out = binary.BigEndian.AppendUint32(out, o)
		}
		offset |= nodeChilds
	}
	if len(n.values) > 0 {
		out = binary.BigEndian.AppendUint32(out, uint32(len(n.values)))
		for _, v := range n.values {
			out = binary.BigEndian.AppendUint32(out, v.priority)
			out = append(out, v.value...)
			out = append(out, 0)
		}
		offset |= nodeValues
	}
	return out, offset
}
