// Package mtree writes manifests in the BSD mtree format (one line per
// path, full-path form, as `mtree -C` prints and libarchive reads), with a
// non-standard package= keyword naming the package that installed a path.
package mtree

import (
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// Entry is one path of a manifest.
type Entry struct {
	Path         string // relative, slash-separated, no leading "./" ("" or "." is the root)
	Mode         fs.FileMode
	UID, GID     uint32
	Size         int64
	SHA256       string // hex, regular files only
	Link         string // symlink target
	Major, Minor uint32 // devices
	Package      string
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "link"
	case m&fs.ModeCharDevice != 0:
		return "char"
	case m&fs.ModeDevice != 0:
		return "block"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	default:
		return "file"
	}
}

// Escape encodes a path as mtree does (strvis VIS_WHITE|VIS_OCTAL|VIS_CSTYLE
// reduced to what matters: whitespace, backslash, '#', '=' and non-printing
// bytes as \ooo).
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '#' || c == '=' || c == '*' || c == '?' || c == '[' {
			fmt.Fprintf(&b, "\\%03o", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// perm is the permission bits with setuid, setgid and sticky.
func perm(m fs.FileMode) uint32 { return fsmeta.UnixMode(m) & 0o7777 }

// Write writes the manifest, sorted by path.
func Write(w io.Writer, entries []Entry) error {
	es := append([]Entry(nil), entries...)
	for i := range es {
		es[i].Path = strings.TrimPrefix(strings.TrimPrefix(es[i].Path, "./"), "/")
		if es[i].Path == "" {
			es[i].Path = "."
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
	var b strings.Builder
	b.WriteString("#mtree\n")
	for _, e := range es {
		p := "."
		if e.Path != "." {
			p = "./" + e.Path
		}
		fmt.Fprintf(&b, "%s type=%s mode=%04o uid=%d gid=%d", Escape(p), typeName(e.Mode), perm(e.Mode), e.UID, e.GID)
		switch typeName(e.Mode) {
		case "file":
			fmt.Fprintf(&b, " size=%d", e.Size)
			if e.SHA256 != "" {
				fmt.Fprintf(&b, " sha256digest=%s", e.SHA256)
			}
		case "link":
			fmt.Fprintf(&b, " link=%s", Escape(e.Link))
		case "char", "block":
			fmt.Fprintf(&b, " device=native,%d,%d", e.Major, e.Minor)
		}
		if e.Package != "" {
			fmt.Fprintf(&b, " package=%s", Escape(e.Package))
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Unescape reverses Escape: \ooo octal sequences become bytes.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && isOctal(s[i+1:min(i+4, len(s))]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return s[0] <= '3'
}
