package rpminstall

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// newcRecord writes one cpio newc member (test helper: the production code
// only reads cpio).
func newcRecord(b *bytes.Buffer, name string, mode uint32, data []byte, sizeField int) {
	if sizeField < 0 {
		sizeField = len(data)
	}
	fmt.Fprintf(b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		1, mode, 0, 0, 1, 0, sizeField, 0, 0, 0, 0, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	for (b.Len())%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(data)
	for (b.Len())%4 != 0 {
		b.WriteByte(0)
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fuzzFiles is the header file list the payload fuzzing reads against:
// a directory, a file, a hardlink pair, an absolute and a dotted symlink.
func fuzzFiles() []hdrFile {
	return []hdrFile{
		{path: "/etc", mode: fsmeta.S_IFDIR | 0o755, user: "root", group: "root"},
		{path: "/etc/a", mode: fsmeta.S_IFREG | 0o644, size: 6, digest: md5hex([]byte("hello\n")), user: "root", group: "root"},
		{path: "/etc/h1", mode: fsmeta.S_IFREG | 0o644, size: 3, digest: md5hex([]byte("hl\n")), ino: 7, user: "root", group: "root"},
		{path: "/etc/h2", mode: fsmeta.S_IFREG | 0o644, size: 3, digest: md5hex([]byte("hl\n")), ino: 7, user: "root", group: "root"},
		{path: "/etc/abs", mode: fsmeta.S_IFLNK | 0o777, linkto: "/etc/a", user: "root", group: "root"},
		{path: "/etc/up", mode: fsmeta.S_IFLNK | 0o777, linkto: "../../../../etc", user: "root", group: "root"},
		{path: "/var/ghost", mode: fsmeta.S_IFREG | 0o644, flags: fileGhost, user: "root", group: "root"},
	}
}

func validPayload() []byte {
	var b bytes.Buffer
	newcRecord(&b, "./etc", fsmeta.S_IFDIR|0o755, nil, -1)
	newcRecord(&b, "./etc/a", fsmeta.S_IFREG|0o644, []byte("hello\n"), -1)
	newcRecord(&b, "./etc/h1", fsmeta.S_IFREG|0o644, nil, -1)
	newcRecord(&b, "./etc/h2", fsmeta.S_IFREG|0o644, []byte("hl\n"), -1)
	newcRecord(&b, "./etc/abs", fsmeta.S_IFLNK|0o777, []byte("/etc/a"), -1)
	newcRecord(&b, "./etc/up", fsmeta.S_IFLNK|0o777, []byte("../../../../etc"), -1)
	newcRecord(&b, cpioTrailer, 0, nil, -1)
	return b.Bytes()
}

func TestReadCpio(t *testing.T) {
	lying := func(name string, data []byte, size int) []byte {
		var b bytes.Buffer
		newcRecord(&b, "./etc", fsmeta.S_IFDIR|0o755, nil, -1)
		newcRecord(&b, name, fsmeta.S_IFREG|0o644, data, size)
		newcRecord(&b, cpioTrailer, 0, nil, -1)
		return b.Bytes()
	}
	cases := []struct {
		name    string
		payload []byte
		wantErr string
	}{
		{"valid", validPayload(), ""},
		{"truncated", validPayload()[:200], "unexpected EOF"},
		{"lying size", lying("./etc/a", []byte("hello\n"), 1<<30), "archive says 1073741824 bytes"},
		{"dot-dot name", lying("./../../etc/a", []byte("hello\n"), -1), "not in the header's file list"},
		{"wrong content", lying("./etc/a", []byte("HELLO\n"), -1), "digest mismatch"},
		{"missing files", lying("./etc/a", []byte("hello\n"), -1), "not in the archive"},
		{"bad magic", []byte("070707" + strings.Repeat("0", 200)), "bad magic"},
		{"zero name size", []byte("070701" + strings.Repeat("0", 104)), "name size 0"},
		{"stripped index out of range", []byte("07070X000000ff"), "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &decodedRPM{name: "p", nevra: "p-1-1.noarch", files: fuzzFiles()}
			err := d.readCpio(bytes.NewReader(c.payload), md5.New)
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// FuzzNewc feeds arbitrary payloads to the cpio reader and, when one is
// accepted, installs it: no panic, and every entry of the tree has a
// plain name (nothing can be named outside it).
func FuzzNewc(f *testing.F) {
	f.Add(validPayload())
	f.Add([]byte("07070X00000001"))
	f.Add(validPayload()[:120])
	f.Fuzz(func(t *testing.T, payload []byte) {
		d := &decodedRPM{name: "p", nevra: "p-1-1.noarch", files: fuzzFiles()}
		if err := d.readCpio(bytes.NewReader(payload), md5.New); err != nil {
			return
		}
		tr := rootfs.New()
		if _, err := New(tr, sysconf.New(tr)).apply(d, InstallOptions{}); err != nil {
			return
		}
		checkTree(t, tr)
	})
}

func checkTree(t *testing.T, tr *rootfs.Tree) {
	err := fs.WalkDir(tr, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && (de.Name() == "" || de.Name() == "." || de.Name() == ".." || strings.Contains(de.Name(), "/")) {
			return fmt.Errorf("bad entry name %q at %s", de.Name(), p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
