package iso_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/vic"
)

// streamImage writes the image of tree with path's content streamed from
// data by WriteFile, and returns the file's bytes after checking the size
// and SHA-256 WriteFile reports against them.
func streamImage(t *testing.T, tree fstest.MapFS, path string, data []byte, opts iso.Options) []byte {
	t.Helper()
	placeholder := *tree[path]
	placeholder.Data = []byte("stale content the image must not hold")
	tree = cloneMap(tree)
	tree[path] = &placeholder
	opts.Stream = &iso.Stream{Path: path, Write: func(w io.Writer) error {
		// Several writes, as a compressor makes them.
		for b := data; len(b) > 0; {
			n := min(len(b), 70000)
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}}
	name := filepath.Join(t.TempDir(), "stream.iso")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, sum, err := iso.WriteFile(context.Background(), f, tree, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != size || sha256.Sum256(got) != sum {
		t.Fatalf("WriteFile reported %d bytes and SHA-256 %x; the file has %d bytes and %x", size, sum, len(got), sha256.Sum256(got))
	}
	return got
}

func cloneMap(m fstest.MapFS) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range m {
		c := *v
		out[k] = &c
	}
	return out
}

// TestStreamSameBytes: an image whose core.gz is streamed into place is
// byte for byte the image WriteTo makes of the tree holding that content,
// for contents that end mid-sector, on a sector boundary and empty, with
// files placed after it (isolinux/, vmlinuz64) and as an isohybrid; and
// xorriso extracts the streamed content from it.
func TestStreamSameBytes(t *testing.T) {
	testrepo.NeedTools(t, "xorriso")
	mbr := needFile(t, hostIsohdpfx)
	for _, tc := range []struct {
		name   string
		data   []byte
		hybrid bool
	}{
		{"mid-sector", pseudo(300001, 11), false},
		{"whole-sectors", pseudo(2048*37, 12), false},
		{"empty", nil, false},
		{"hybrid", pseudo(1<<20+5, 13), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := bootTree(t)
			opts := vic.ISOOptions("v1.5.8-0-9489f63", epoch)
			if tc.hybrid {
				opts.HybridMBR = mbr
			}
			withData := cloneMap(tree)
			withData[iso.InitrdPath].Data = tc.data
			var want bytes.Buffer
			if _, err := iso.WriteTo(context.Background(), &want, withData, opts); err != nil {
				t.Fatal(err)
			}
			got := streamImage(t, tree, iso.InitrdPath, tc.data, opts)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("streamed image (%d bytes) differs from WriteTo's (%d bytes) at byte %d", len(got), want.Len(), firstDiff(got, want.Bytes()))
			}
			img := filepath.Join(t.TempDir(), "s.iso")
			if err := os.WriteFile(img, got, 0o644); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "x")
			run(t, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/boot", dst)
			if b, err := os.ReadFile(filepath.Join(dst, "core.gz")); err != nil || !bytes.Equal(b, tc.data) {
				t.Errorf("xorriso extracted %d bytes of core.gz (%v), want the %d streamed", len(b), err, len(tc.data))
			}
			if b, err := os.ReadFile(filepath.Join(dst, "vmlinuz64")); err != nil || !bytes.Equal(b, tree["boot/vmlinuz64"].Data) {
				t.Errorf("xorriso extracted %d bytes of vmlinuz64 (%v), want the tree's", len(b), err)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestStreamErrors: what cannot be streamed is refused, and a failing
// Write fails the image.
func TestStreamErrors(t *testing.T) {
	tree := bootTree(t)
	opts := vic.ISOOptions("v1.5.8-0-9489f63", epoch)
	f, err := os.Create(filepath.Join(t.TempDir(), "e.iso"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nop := func(io.Writer) error { return nil }
	boom := errors.New("boom")
	for _, tc := range []struct {
		path  string
		write func(io.Writer) error
		want  string
	}{
		{"boot/nothere", nop, "iso: stream boot/nothere: file does not exist"},
		{"boot/isolinux", nop, "iso: stream boot/isolinux: not a regular file (drwxr-xr-x)"},
		{"extra/link", nop, "iso: stream extra/link: not a regular file (Lrwxrwxrwx)"},
		{"boot/isolinux/isolinux.bin", nop, "iso: stream boot/isolinux/isolinux.bin: the boot image cannot be streamed"},
		{"extra/hl1", nop, "iso: stream extra/hl1: a hardlink cannot be streamed"},
		{iso.InitrdPath, func(io.Writer) error { return boom }, "iso: stream boot/core.gz: boom"},
	} {
		o := opts
		o.Stream = &iso.Stream{Path: tc.path, Write: tc.write}
		_, _, err := iso.WriteFile(context.Background(), f, tree, o)
		if err == nil || err.Error() != tc.want {
			t.Errorf("stream %s: %v, want %q", tc.path, err, tc.want)
		}
	}
	o := opts
	o.Stream = &iso.Stream{Path: iso.InitrdPath, Write: nop}
	if _, err := iso.WriteTo(context.Background(), io.Discard, tree, o); err == nil {
		t.Error("WriteTo accepted Options.Stream")
	}
}
