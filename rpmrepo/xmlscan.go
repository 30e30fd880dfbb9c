package rpmrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// xmlScanner is a small streaming XML tokenizer for repodata: just enough
// XML for primary.xml and filelists.xml (elements, attributes, text,
// entities, CDATA; comments, processing instructions and DOCTYPE are
// skipped). encoding/xml costs several times libsolv's time on a large
// primary.xml; this does not allocate per token. Names keep their prefix
// ("rpm:entry"); callers compare local names.
type xmlScanner struct {
	r    io.Reader
	buf  []byte
	pos  int // next unread byte in buf
	end  int // end of valid data in buf
	base int64
	eof  bool
	err  error

	// Current token.
	kind      tokKind
	name      []byte // element name (valid until the next call)
	attrs     []xmlAttr
	selfClose bool
	text      []byte // decoded character data
	tmp       []byte
}

type tokKind int

const (
	tokNone tokKind = iota
	tokStart
	tokEnd
	tokText
	tokEOF
)

type xmlAttr struct {
	name, value []byte
}

const maxXMLToken = 64 << 20 // no single tag or text run may exceed this

func newXMLScanner(r io.Reader) *xmlScanner {
	return &xmlScanner{r: r, buf: make([]byte, 64<<10)}
}

var errXMLSyntax = errors.New("XML syntax error")

func (s *xmlScanner) syntax(format string, a ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errXMLSyntax, s.base+int64(s.pos), fmt.Sprintf(format, a...))
}

// fill reads more input, keeping buf[pos:end]. It returns false at EOF.
func (s *xmlScanner) fill() bool {
	if s.eof {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.end, s.pos = n, 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= maxXMLToken {
			s.err = s.syntax("token longer than %d bytes", maxXMLToken)
			return false
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
			return n > 0
		}
		if err != nil {
			s.err = err
			s.eof = true
			return false
		}
		if n > 0 {
			return true
		}
	}
}

// indexFrom finds sep in the unread input, reading more as needed; it
// returns the index relative to pos, or -1 at EOF.
func (s *xmlScanner) indexFrom(from int, sep []byte) int {
	for {
		if i := bytes.Index(s.buf[s.pos+from:s.end], sep); i >= 0 {
			return from + i
		}
		if n := s.end - s.pos - len(sep) + 1; n > from {
			from = n
		}
		if !s.fill() {
			return -1
		}
	}
}

// next advances to the next token. Text tokens are only produced for
// non-empty runs; the caller asks for text with wantText.
func (s *xmlScanner) next() error {
	if s.err != nil {
		return s.err
	}
	for {
		if s.pos >= s.end && !s.fill() {
			if s.err != nil {
				return s.err
			}
			s.kind = tokEOF
			return nil
		}
		if s.buf[s.pos] != '<' {
			i := s.indexFrom(0, []byte{'<'})
			if i < 0 {
				i = s.end - s.pos
			}
			raw := s.buf[s.pos : s.pos+i]
			s.pos += i
			t, err := s.unescape(raw)
			if err != nil {
				return err
			}
			s.kind, s.text = tokText, t
			return nil
		}
		// A markup construct: make sure enough is buffered to classify it.
		for s.end-s.pos < 9 && s.fill() {
		}
		rest := s.buf[s.pos:s.end]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i := s.indexFrom(4, []byte("-->"))
			if i < 0 {
				return s.syntax("unterminated comment")
			}
			s.pos += i + 3
			continue
		case bytes.HasPrefix(rest, []byte("<?")):
			i := s.indexFrom(2, []byte("?>"))
			if i < 0 {
				return s.syntax("unterminated processing instruction")
			}
			s.pos += i + 2
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i := s.indexFrom(9, []byte("]]>"))
			if i < 0 {
				return s.syntax("unterminated CDATA section")
			}
			s.tmp = append(s.tmp[:0], s.buf[s.pos+9:s.pos+i]...)
			s.pos += i + 3
			s.kind, s.text = tokText, s.tmp
			return nil
		case bytes.HasPrefix(rest, []byte("<!")):
			// DOCTYPE: skip to the matching '>' (internal subsets with
			// nested brackets are not used by repodata).
			i := s.indexFrom(2, []byte(">"))
			if i < 0 {
				return s.syntax("unterminated <! declaration")
			}
			if bytes.IndexByte(s.buf[s.pos:s.pos+i], '[') >= 0 {
				return s.syntax("DOCTYPE internal subsets are not supported")
			}
			s.pos += i + 1
			continue
		}
		return s.tag()
	}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-' || c == '.' || c >= 0x80
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// tag parses a start or end tag at pos.
func (s *xmlScanner) tag() error {
	// Find the closing '>' outside quotes.
	i, q := 1, byte(0)
	for {
		for ; s.pos+i < s.end; i++ {
			c := s.buf[s.pos+i]
			if q != 0 {
				if c == q {
					q = 0
				}
			} else if c == '"' || c == '\'' {
				q = c
			} else if c == '>' {
				goto found
			} else if c == '<' {
				return s.syntax("'<' inside a tag")
			}
		}
		if !s.fill() {
			if s.err != nil {
				return s.err
			}
			return s.syntax("unterminated tag")
		}
	}
found:
	t := s.buf[s.pos+1 : s.pos+i]
	s.pos += i + 1
	s.attrs = s.attrs[:0]
	if len(t) > 0 && t[0] == '/' {
		n := bytes.TrimRight(t[1:], " \t\r\n")
		if len(n) == 0 {
			return s.syntax("empty end tag")
		}
		for _, c := range n {
			if !isNameByte(c) {
				return s.syntax("bad end tag name %q", n)
			}
		}
		s.kind, s.name = tokEnd, n
		return nil
	}
	s.selfClose = false
	if len(t) > 0 && t[len(t)-1] == '/' {
		s.selfClose = true
		t = t[:len(t)-1]
	}
	j := 0
	for j < len(t) && isNameByte(t[j]) {
		j++
	}
	if j == 0 {
		return s.syntax("bad tag %q", truncate(t))
	}
	s.kind, s.name = tokStart, t[:j]
	t = t[j:]
	for {
		k := 0
		for k < len(t) && isSpace(t[k]) {
			k++
		}
		if k == len(t) {
			return nil
		}
		if k == 0 {
			return s.syntax("attributes of <%s> not separated by white space", s.name)
		}
		t = t[k:]
		k = 0
		for k < len(t) && isNameByte(t[k]) {
			k++
		}
		if k == 0 {
			return s.syntax("bad attribute in <%s>", s.name)
		}
		an := t[:k]
		t = t[k:]
		for len(t) > 0 && isSpace(t[0]) {
			t = t[1:]
		}
		if len(t) == 0 || t[0] != '=' {
			return s.syntax("attribute %s of <%s> has no value", an, s.name)
		}
		t = t[1:]
		for len(t) > 0 && isSpace(t[0]) {
			t = t[1:]
		}
		if len(t) == 0 || t[0] != '"' && t[0] != '\'' {
			return s.syntax("attribute %s of <%s> not quoted", an, s.name)
		}
		e := bytes.IndexByte(t[1:], t[0])
		if e < 0 {
			return s.syntax("attribute %s of <%s> not closed", an, s.name)
		}
		v := t[1 : 1+e]
		t = t[2+e:]
		s.attrs = append(s.attrs, xmlAttr{an, v})
	}
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// unescape decodes entities in raw; the result is valid until the next
// call. raw itself is returned when it holds no '&'.
func (s *xmlScanner) unescape(raw []byte) ([]byte, error) {
	if bytes.IndexByte(raw, '\r') >= 0 {
		// XML end-of-line handling: \r\n and lone \r read as \n.
		raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
		raw = bytes.ReplaceAll(raw, []byte("\r"), []byte("\n"))
	}
	if bytes.IndexByte(raw, '&') < 0 {
		return raw, nil
	}
	out := s.tmp[:0]
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			out = append(out, raw...)
			break
		}
		out = append(out, raw[:i]...)
		raw = raw[i:]
		j := bytes.IndexByte(raw, ';')
		if j < 0 {
			return nil, s.syntax("unterminated entity %q", truncate(raw))
		}
		ent := raw[1:j]
		raw = raw[j+1:]
		switch string(ent) {
		case "amp":
			out = append(out, '&')
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			if len(ent) < 2 || ent[0] != '#' {
				return nil, s.syntax("unknown entity &%s;", truncate(ent))
			}
			var n uint64
			var err error
			if ent[1] == 'x' || ent[1] == 'X' {
				n, err = strconv.ParseUint(string(ent[2:]), 16, 32)
			} else {
				n, err = strconv.ParseUint(string(ent[1:]), 10, 32)
			}
			if err != nil || !xmlChar(rune(n)) || n > utf8.MaxRune {
				return nil, s.syntax("bad character reference &%s;", truncate(ent))
			}
			out = utf8.AppendRune(out, rune(n))
		}
	}
	s.tmp = out
	return out, nil
}

// attrValue decodes an attribute value (entities; white space kept).
func (s *xmlScanner) attrValue(v []byte) (string, error) {
	u, err := s.unescape(v)
	if err != nil {
		return "", err
	}
	return string(u), nil
}

// localName strips a namespace prefix.
func localName(n []byte) []byte {
	if i := bytes.LastIndexByte(n, ':'); i >= 0 {
		return n[i+1:]
	}
	return n
}

// xmlChar reports whether r is allowed in an XML document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
