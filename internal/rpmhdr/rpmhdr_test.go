package rpmhdr_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/rpmpack"
	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/internal/testrepo"
)

// fixtureRPMs returns the shared fixture packages (a corrupted one
// excepted: its header is fine but rpm refuses to query it).
func fixtureRPMs(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir(testrepo.Fixtures(t), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") && !strings.Contains(p, "corrupted") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no fixture rpms")
	}
	return out
}

// Every fixture package reads, and its identity, build time, file list,
// file modes and sizes are what rpm itself reports.
func TestReadAgainstRPM(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	for _, p := range fixtureRPMs(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := rpmhdr.ReadFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if int(f.PayloadOffset) >= len(data) {
				t.Fatalf("payload offset %d beyond the %d-byte file", f.PayloadOffset, len(data))
			}
			var got strings.Builder
			for _, tag := range []uint32{1000, 1001, 1002, 1022} {
				s, _, err := f.Main.String(tag)
				if err != nil {
					t.Fatal(err)
				}
				got.WriteString(s + " ")
			}
			bt, _, err := f.Main.Uint64s(1006)
			if err != nil || len(bt) != 1 {
				t.Fatalf("BUILDTIME: %v %v", bt, err)
			}
			got.WriteString(strconv.FormatUint(bt[0], 10) + "\n")
			base, _, err := f.Main.Strings(1117)
			if err != nil {
				t.Fatal(err)
			}
			dirs, _, err := f.Main.Strings(1118)
			if err != nil {
				t.Fatal(err)
			}
			idx, _, err := f.Main.Uint32s(1116)
			if err != nil {
				t.Fatal(err)
			}
			modes, _, err := f.Main.Uint32s(1030)
			if err != nil {
				t.Fatal(err)
			}
			sizes, _, err := f.Main.Uint64s(1028)
			if f.Main.Has(5008) {
				sizes, _, err = f.Main.Uint64s(5008)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range base {
				got.WriteString(dirs[idx[i]] + b + " " + strconv.FormatUint(uint64(modes[i]), 8) + " " + strconv.FormatUint(sizes[i], 10) + "\n")
			}
			out, err := exec.Command("rpm", "-qp", "--nosignature", "--nodigest", "--qf",
				"%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{BUILDTIME}\n[%{FILENAMES} %{FILEMODES:octal} %{FILESIZES}\n]", p).CombinedOutput()
			if err != nil {
				t.Fatalf("rpm -qp: %v\n%s", err, out)
			}
			if got.String() != string(out) {
				t.Errorf("rpmhdr reads\n%s\nrpm says\n%s", got.String(), out)
			}
		})
	}
}

// A header whose claims exceed the file is refused before it is read.
func TestReadBounds(t *testing.T) {
	lead := make([]byte, rpmhdr.LeadSize)
	copy(lead, []byte{0xed, 0xab, 0xee, 0xdb})
	lead[79] = 5
	for _, tc := range []struct {
		name string
		il   uint32
		dl   uint32
	}{{"no entries", 0, 0}, {"too many entries", 0x10000, 0}, {"too much data", 1, 0x7fffffff}, {"beyond the file", 1, 1 << 20}} {
		hdr := []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, byte(tc.il >> 24), byte(tc.il >> 16), byte(tc.il >> 8), byte(tc.il), byte(tc.dl >> 24), byte(tc.dl >> 16), byte(tc.dl >> 8), byte(tc.dl)}
		data := append(append([]byte{}, lead...), hdr...)
		_, err := rpmhdr.ReadFile(bytes.NewReader(data), int64(len(data)))
		if err == nil || !strings.Contains(err.Error(), "signature header") {
			t.Errorf("%s: got %v, want an error naming the signature header", tc.name, err)
		}
	}
}

// FuzzReadFile: any input reads or fails, and every accessor on every
// entry of what reads stays in bounds.
func FuzzReadFile(f *testing.F) {
	// A small package made with rpmpack (Go's fuzzing engine stalls on
	// seeds of a few KB, so the fixtures serve TestReadAgainstRPM only).
	r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{Name: "f", Version: "1", Release: "1", Arch: "noarch"})
	if err != nil {
		f.Fatal(err)
	}
	r.AddFile(rpmpack.RPMFile{Name: "/etc/a", Body: []byte("hello\n"), Mode: 0o100644, Owner: "root", Group: "root"})
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		f.Fatal(err)
	}
	if hf, err := rpmhdr.ReadFile(bytes.NewReader(b.Bytes()), int64(b.Len())); err == nil {
		f.Add(b.Bytes()[:hf.PayloadOffset])
	} else {
		f.Fatal(err)
	}
	f.Add([]byte{0xed, 0xab, 0xee, 0xdb})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int64{int64(len(data)), -1} {
			file, err := rpmhdr.ReadFile(bytes.NewReader(data), size)
			if err != nil {
				continue
			}
			if file.PayloadOffset > int64(len(data)) {
				t.Fatalf("payload offset %d beyond %d bytes", file.PayloadOffset, len(data))
			}
			for _, h := range []*rpmhdr.Header{file.Sig, file.Main} {
				for _, e := range h.Entries() {
					h.Bin(e.Tag)
					h.Strings(e.Tag)
					h.String(e.Tag)
					h.Int32s(e.Tag)
					h.Uint32s(e.Tag)
					h.Uint64s(e.Tag)
				}
			}
		}
	})
}
