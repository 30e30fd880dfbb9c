package repos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// node is one JSON value with the byte offset it starts at. repo-spec.json is
// read into this tree instead of straight into structs because
// encoding/json's own errors name neither the field path nor the line, and
// because a map would silently swallow a duplicated key.
type node struct {
	kind    nodeKind
	str     string // kindString, kindNumber (literal text), kindBool ("true"/"false")
	members []member
	elems   []*node
	off     int64 // byte offset of the value's first byte
}

type member struct {
	key  string
	val  *node
	koff int64
}

type nodeKind int

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k nodeKind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "an array"
	case kindObject:
		return "an object"
	}
	return "?"
}

// maxDepth bounds nesting so that a hostile file cannot blow the stack;
// repo-spec.json never needs more than four levels.
const maxDepth = 32

// parseJSON reads exactly one JSON value from data. It fails on trailing
// data, duplicate object keys and nesting deeper than maxDepth.
func parseJSON(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("unexpected data after the top-level value")
		}
		return nil, err
	}
	return n, nil
}

func readNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	off := dec.InputOffset()
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("unexpected end of input")
	}
	if err != nil {
		return nil, err
	}
	// InputOffset before Token points at the end of the previous token;
	// skip the separators so that positions name the value itself.
	n := &node{off: off}
	switch t := tok.(type) {
	case nil:
		n.kind = kindNull
	case bool:
		n.kind, n.str = kindBool, fmt.Sprint(t)
	case json.Number:
		n.kind, n.str = kindNumber, t.String()
	case string:
		n.kind, n.str = kindString, t
	case json.Delim:
		switch t {
		case '[':
			n.kind = kindArray
			for dec.More() {
				e, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
		case '{':
			n.kind = kindObject
			seen := map[string]bool{}
			for dec.More() {
				koff := dec.InputOffset()
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %v, not a string", kt)
				}
				if seen[k] {
					return nil, &posError{off: koff, err: fmt.Errorf("duplicate key %q", k)}
				}
				seen[k] = true
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: k, val: v, koff: koff})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected %q", t)
		}
	}
	return n, nil
}

// posError carries a byte offset so the caller can turn it into line:col.
type posError struct {
	off int64
	err error
}

func (e *posError) Error() string { return e.err.Error() }
func (e *posError) Unwrap() error { return e.err }

// lineCol turns a byte offset into a 1-based line and column, skipping the
// whitespace and separators that precede the value at off.
func lineCol(data []byte, off int64) (int, int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	return position(data, off)
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
