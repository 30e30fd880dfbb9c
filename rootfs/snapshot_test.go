package rootfs_test

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

// entry is what the acceptance comparison looks at for one path.
type entry struct {
	Type   string
	Mode   fs.FileMode // permission bits with setuid/setgid/sticky
	UID    uint32
	GID    uint32
	Target string
	SHA256 string
	Dev    string
	Caps   string
}

func (e entry) String() string {
	return fmt.Sprintf("%s %v %d:%d ->%q sha=%.12s dev=%s caps=%s", e.Type, e.Mode, e.UID, e.GID, e.Target, e.SHA256, e.Dev, e.Caps)
}

func typeOf(m fs.FileMode) string {
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

// diskSnapshot reads a real directory tree (the oracle's result).
func diskSnapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
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
		e := entry{Type: typeOf(fi.Mode()), Mode: fi.Mode() & permMask, UID: st.Uid, GID: st.Gid}
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

// treeSnapshot reads the same facts from a tree through io/fs only.
func treeSnapshot(t *testing.T, tr *root) map[string]entry {
	t.Helper()
	out := map[string]entry{}
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
		e := entry{Type: typeOf(fi.Mode()), Mode: fi.Mode() & permMask, UID: m.UID, GID: m.GID}
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

// diffSnapshots returns a sorted description of every difference, leaving
// out paths for which skip returns a reason.
func diffSnapshots(want, got map[string]entry, skip func(string) string) []string {
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

func reportDiffs(t *testing.T, diffs []string) {
	t.Helper()
	if len(diffs) == 0 {
		return
	}
	if len(diffs) > 60 {
		diffs = append(diffs[:60], fmt.Sprintf("... and %d more", len(diffs)-60))
	}
	t.Errorf("tree differs from the oracle:\n%s", strings.Join(diffs, "\n"))
}
