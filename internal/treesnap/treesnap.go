//go:build linux

// Package treesnap is a test helper: it reads what an oracle left in a
// directory on disk and what vicroot left in a tree (any fs.ReadLinkFS
// whose FileInfo carries fsmeta) as the same facts per path (type,
// permissions, owner, symlink target, content digest, device numbers,
// capabilities), and lists their differences.
package treesnap

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// Entry is what the comparison looks at for one path.
type Entry struct {
	Type   string
	Mode   fs.FileMode // permission bits with setuid/setgid/sticky
	UID    uint32
	GID    uint32
	Target string
	SHA256 string
	Dev    string
	Caps   string
}

func (e Entry) String() string {
	return fmt.Sprintf("%s %v %d:%d ->%q sha=%.12s dev=%s caps=%s", e.Type, e.Mode, e.UID, e.GID, e.Target, e.SHA256, e.Dev, e.Caps)
}

// TypeOf names a file type as Entry.Type does.
func TypeOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m.IsRegular():
		return "file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeCharDevice != 0:
		return "chardev"
	case m&fs.ModeDevice != 0:
		return "blockdev"
	}
	return "other"
}

const permMask = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// Disk reads a real directory tree (the oracle's result).
func Disk(t testing.TB, root string) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := Entry{Type: TypeOf(fi.Mode()), Mode: fi.Mode() & permMask, UID: st.Uid, GID: st.Gid}
		switch e.Type {
		case "symlink":
			e.Target, _ = os.Readlink(p)
			e.Mode = 0
		case "file":
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(s[:])
			buf := make([]byte, 64)
			if n, err := syscall.Getxattr(p, "security.capability", buf); err == nil {
				e.Caps = hex.EncodeToString(buf[:n])
			}
		case "chardev", "blockdev":
			e.Dev = fmt.Sprintf("%d,%d", (st.Rdev>>8)&0xfff, (st.Rdev&0xff)|((st.Rdev>>12)&0xfff00))
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FS reads the same facts from a tree through io/fs only.
func FS(t testing.TB, tr fs.ReadLinkFS) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	err := fs.WalkDir(tr, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := tr.Lstat(p)
		if err != nil {
			return err
		}
		m := fsmeta.Of(fi)
		if m == nil {
			return fmt.Errorf("%s: no fsmeta", p)
		}
		e := Entry{Type: TypeOf(fi.Mode()), Mode: fi.Mode() & permMask, UID: m.UID, GID: m.GID}
		switch e.Type {
		case "symlink":
			e.Target, _ = tr.ReadLink(p)
			e.Mode = 0
		case "file":
			data, err := fs.ReadFile(tr, p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(s[:])
			e.Caps = hex.EncodeToString(m.Caps)
		case "chardev", "blockdev":
			e.Dev = fmt.Sprintf("%d,%d", m.Major, m.Minor)
		}
		out[p] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Diff returns a sorted description of every difference, leaving
// out paths for which skip returns a reason.
func Diff(want, got map[string]Entry, skip func(string) string) []string {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if skip != nil && skip(k) != "" {
			continue
		}
		w, wok := want[k]
		g, gok := got[k]
		switch {
		case !gok:
			diffs = append(diffs, "missing in tree: "+k+" "+w.String())
		case !wok:
			diffs = append(diffs, "extra in tree:   "+k+" "+g.String())
		case w != g:
			diffs = append(diffs, fmt.Sprintf("differs: %s\n  oracle %s\n  tree   %s", k, w, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// Report fails t with the differences, the first 60 of them.
func Report(t testing.TB, diffs []string) {
	t.Helper()
	if len(diffs) == 0 {
		return
	}
	if len(diffs) > 60 {
		diffs = append(diffs[:60], fmt.Sprintf("... and %d more", len(diffs)-60))
	}
	t.Errorf("tree differs from the oracle:\n%s", strings.Join(diffs, "\n"))
}
