package iso_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/vic"
)

func openImage(t testing.TB, name string) *iso.Image {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	im, err := iso.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// entry is what the tests compare of one image entry.
type entry struct {
	Mode           fs.FileMode
	UID, GID       uint32
	ModTime        time.Time
	Target         string
	RMajor, RMinor uint32
}

// walk calls fn for every entry below the root of im, as fs.WalkDir
// visits them.
func walk(im *iso.Image, fn func(p string, e entry) error) error {
	return fs.WalkDir(im, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m := fsmeta.Of(fi)
		e := entry{Mode: fi.Mode(), UID: m.UID, GID: m.GID, ModTime: fi.ModTime(), RMajor: m.Major, RMinor: m.Minor}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if e.Target, err = fs.ReadLink(im, p); err != nil {
				return err
			}
		}
		return fn(p, e)
	})
}

// TestReaderWalksOurImage reads back every entry of bootTree and the boot
// entry, whose sector xorriso reports independently.
func TestReaderWalksOurImage(t *testing.T) {
	testrepo.NeedTools(t, "xorriso")
	tree := bootTree(t)
	img := writeISO(t, tree)
	im := openImage(t, img)
	if im.VolumeID != "ISOIMAGE" || im.Publisher != "VMWARE INC. V1.5.8-0-9489F63" || !im.RockRidge {
		t.Errorf("PVD: volume %q publisher %q rock ridge %v", im.VolumeID, im.Publisher, im.RockRidge)
	}
	if !im.Created.Equal(epoch) || !im.Modified.Equal(epoch) {
		t.Errorf("volume dates %v %v, want %v", im.Created, im.Modified, epoch)
	}
	m := regexp.MustCompile(`El Torito boot img :\s+1\s+BIOS\s+y\s+none\s+0x0000\s+0x00\s+4\s+(\d+)`).FindStringSubmatch(run(t, "xorriso", "-indev", img, "-report_el_torito", "plain"))
	if m == nil {
		t.Fatal("xorriso reports no boot image")
	}
	lba, _ := strconv.Atoi(m[1])
	b := im.Boot
	if b == nil || !b.Bootable || b.Platform != 0 || b.Media != 0 || b.SectorCount != 4 || b.LBA != uint32(lba) {
		t.Fatalf("boot entry %+v, want bootable x86 no-emulation 4 sectors at %d", b, lba)
	}
	seen := map[string]bool{}
	err := walk(im, func(p string, e entry) error {
		seen[p] = true
		if p == iso.CatalogPath {
			return nil
		}
		mf, ok := tree[p]
		if !ok {
			t.Errorf("image has %q, not in the tree", p)
			return nil
		}
		meta := mf.Sys.(*fsmeta.Meta)
		if e.Mode != mf.Mode || e.UID != meta.UID || e.GID != meta.GID {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", p, e.Mode, e.UID, e.GID, mf.Mode, meta.UID, meta.GID)
		}
		wantTime := mf.ModTime
		if wantTime.After(epoch) {
			wantTime = epoch
		}
		if !e.ModTime.Equal(wantTime) {
			t.Errorf("%s: time %v, want %v", p, e.ModTime, wantTime)
		}
		switch {
		case mf.Mode&fs.ModeSymlink != 0:
			if e.Target != string(mf.Data) {
				t.Errorf("%s: target %q, want %q", p, e.Target, mf.Data)
			}
		case mf.Mode&fs.ModeDevice != 0:
			if e.RMajor != meta.Major || e.RMinor != meta.Minor {
				t.Errorf("%s: device %d,%d, want %d,%d", p, e.RMajor, e.RMinor, meta.Major, meta.Minor)
			}
		case mf.Mode.IsRegular() && p != iso.IsolinuxBin:
			got, err := fs.ReadFile(im, p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, mf.Data) {
				t.Errorf("%s: content differs", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range tree {
		if name != "." && !seen[name] {
			t.Errorf("Walk missed %s", name)
		}
	}
}

// TestReaderReadsXorrisoImage reads an image xorriso made from a tree on
// disk and compares with the disk.
func TestReaderReadsXorrisoImage(t *testing.T) {
	testrepo.NeedTools(t, "xorriso")
	d := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(d, "boot/isolinux"), 0o755))
	must(os.WriteFile(filepath.Join(d, "boot/isolinux/isolinux.bin"), needFile(t, hostIsolinux), 0o644))
	must(os.WriteFile(filepath.Join(d, "boot/vmlinuz64"), pseudo(5000, 3), 0o600))
	long := strings.Repeat("L", 180)
	must(os.WriteFile(filepath.Join(d, long), []byte("x"), 0o640))
	must(os.Symlink("boot/vmlinuz64", filepath.Join(d, "k")))
	img := filepath.Join(t.TempDir(), "x.iso")
	run(t, "xorriso", "-outdev", img, "-map", d, "/", "-boot_image", "isolinux", "dir=/boot/isolinux")
	im := openImage(t, img)
	if im.Boot == nil || im.Boot.SectorCount != 4 || !im.Boot.Bootable {
		t.Errorf("boot entry %+v", im.Boot)
	}
	n := 0
	must(walk(im, func(p string, e entry) error {
		if p == "boot/isolinux/boot.cat" {
			return nil
		}
		n++
		fi, err := os.Lstat(filepath.Join(d, p))
		if err != nil {
			t.Errorf("reader found %q: %v", p, err)
			return nil
		}
		if fi.Mode() != e.Mode {
			t.Errorf("%s: mode %v, disk %v", p, e.Mode, fi.Mode())
		}
		if fi.Mode().IsRegular() && p != "boot/isolinux/isolinux.bin" {
			got, _ := fs.ReadFile(im, p)
			want, _ := os.ReadFile(filepath.Join(d, p))
			if !bytes.Equal(got, want) {
				t.Errorf("%s: content differs", p)
			}
		}
		if p == "k" && e.Target != "boot/vmlinuz64" {
			t.Errorf("k -> %q", e.Target)
		}
		return nil
	}))
	if n != 6 {
		t.Errorf("walked %d entries, want 6", n)
	}
}

func TestReaderRejects(t *testing.T) {
	var buf bytes.Buffer
	if _, err := iso.WriteTo(context.Background(), &buf, fstest.MapFS{"f": {Data: []byte("x"), Mode: 0o644}}, iso.Options{Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	root := int(good[16*2048+156+2]) | int(good[16*2048+156+3])<<8
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:16*2048+100] }, "sector 16"},
		{"not CD001", func(b []byte) []byte { copy(b[16*2048+1:], "XXXXX"); return b }, "CD001"},
		{"block size", func(b []byte) []byte { b[16*2048+129] = 0x10; return b }, "block size"},
		{"root record length", func(b []byte) []byte { b[16*2048+156] = 3; return b }, "root directory record"},
		{"record overrun", func(b []byte) []byte { b[root*2048+32] = 250; return b }, "identifier length"},
		{"dir too big", func(b []byte) []byte { copy(b[16*2048+156+10:], []byte{0, 0, 0, 0x7f}); return b }, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(bytes.Clone(good))
			_, err := iso.Open(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// hugeFS reports one file as 5 GiB without holding it.
type hugeFS struct {
	fstest.MapFS
	huge string
}

func (h hugeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := h.MapFS.ReadDir(name)
	for i, e := range ents {
		if path.Join(name, e.Name()) == h.huge {
			ents[i] = hugeEntry{e}
		}
	}
	return ents, err
}

type hugeEntry struct{ fs.DirEntry }

func (e hugeEntry) Info() (fs.FileInfo, error) {
	fi, err := e.DirEntry.Info()
	return hugeInfo{fi}, err
}

type hugeInfo struct{ fs.FileInfo }

func (hugeInfo) Size() int64 { return 5 << 30 }

func TestFileTooLarge(t *testing.T) {
	fsys := hugeFS{MapFS: fstest.MapFS{"boot/big.img": {Data: []byte("x"), Mode: 0o644}}, huge: "boot/big.img"}
	_, err := iso.WriteTo(context.Background(), io.Discard, fsys, iso.Options{Epoch: epoch})
	if !errors.Is(err, iso.ErrFileTooLarge) || !strings.Contains(err.Error(), "boot/big.img") {
		t.Fatalf("error %v, want ErrFileTooLarge naming boot/big.img", err)
	}
}

func TestWriteErrors(t *testing.T) {
	tree := fstest.MapFS{"boot/isolinux/isolinux.bin": {Data: make([]byte, 100), Mode: 0o644}}
	tests := []struct {
		name string
		fsys fs.FS
		opts iso.Options
		want string
	}{
		{"no epoch", tree, iso.Options{}, "Epoch"},
		{"no boot image", fstest.MapFS{"x": {}}, vic.ISOOptions("v1", epoch), "boot image"},
		{"boot image too short", fstest.MapFS{"boot/isolinux/isolinux.bin": {Data: []byte("x")}}, vic.ISOOptions("v1", epoch), "too short"},
		{"catalog exists", fstest.MapFS{"boot/isolinux/isolinux.bin": {Data: make([]byte, 100)}, "boot/isolinux/boot.cat": {}}, vic.ISOOptions("v1", epoch), "already has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iso.WriteTo(context.Background(), io.Discard, tt.fsys, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := iso.WriteTo(ctx, io.Discard, tree, iso.Options{Epoch: epoch}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// The image is an fs.FS as testing/fstest checks it, and its symlinks
// resolve inside the image.
func TestImageIsAnFS(t *testing.T) {
	tree := bootTree(t)
	dangling := tree["extra/link"]
	delete(tree, "extra/link") // fstest opens every entry
	im := openImage(t, writeISO(t, tree))
	var names []string
	for p := range tree {
		if p != "." {
			names = append(names, p)
		}
	}
	if err := fstest.TestFS(im, names...); err != nil {
		t.Fatal(err)
	}
	tree["extra/link"] = dangling
	im = openImage(t, writeISO(t, tree))
	b, err := fs.ReadFile(im, "extra/abs")
	if err != nil || !bytes.Equal(b, tree["boot/vmlinuz64"].Data) {
		t.Errorf("extra/abs -> /boot/./vmlinuz64: %d bytes, %v", len(b), err)
	}
	if _, err := fs.Stat(im, "extra/link"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("extra/link (dangling in the image): %v", err)
	}
}

// An image cut short anywhere inside its volume fails to open, saying so,
// instead of reading as a smaller image.
func TestReaderRejectsTruncated(t *testing.T) {
	tree := bootTree(t)
	b, err := os.ReadFile(writeISO(t, tree))
	if err != nil {
		t.Fatal(err)
	}
	im, err := iso.Open(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	volume := int(im.VolumeSpaceSize) * 2048
	for _, cut := range []int{volume - 1, volume / 2, 20 * 2048, 17 * 2048} {
		f := filepath.Join(t.TempDir(), "cut.iso")
		if err := os.WriteFile(f, b[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		r, _ := os.Open(f)
		_, err := iso.Open(r)
		r.Close()
		if err == nil || !strings.Contains(err.Error(), "cut short") {
			t.Errorf("cut at %d of %d: %v, want an error saying it is cut short", cut, len(b), err)
		}
	}
	// The padding after the volume is not part of it.
	r := bytes.NewReader(b[:volume])
	if _, err := iso.Open(r); err != nil {
		t.Errorf("image without its padding: %v", err)
	}
}
