package iso_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/vic"
)

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func TestIsoinfoDescriptors(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo")
	img := writeISO(t, bootTree(t))
	out := run(t, "isoinfo", "-d", "-i", img)
	for _, want := range []string{
		"Volume id: ISOIMAGE\n",
		"Volume set id: ISOIMAGE\n",
		"Publisher id: VMWARE INC. V1.5.8-0-9489F63\n",
		"Logical block size is: 2048\n",
		"NO Joliet present\n",
		"Rock Ridge signatures version 1 found\n",
		"Bootid 88 (bootable)\n",
		"Boot media 0 (No Emulation Boot)\n",
		"Load segment 0\n",
		"Nsect 4\n",
		"Arch 0 (x86)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("isoinfo -d lacks %q:\n%s", want, out)
		}
	}
	// vic-machine: 128 bytes at 16*2048+318, last whitespace-separated word.
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[16*2048+318 : 16*2048+318+128]))
	if got := f[len(f)-1]; got != "V1.5.8-0-9489F63" {
		t.Errorf("vic-machine would read version %q", got)
	}
	// Padding after the volume, as xorriso adds: 300 KiB.
	size := run(t, "isoinfo", "-d", "-i", img)
	m := regexp.MustCompile(`Volume size is: (\d+)`).FindStringSubmatch(size)
	blocks, _ := strconv.Atoi(m[1])
	if int64(len(b)) != int64(blocks)*2048+300*1024 {
		t.Errorf("image is %d bytes; volume %d blocks + 300 KiB padding = %d", len(b), blocks, blocks*2048+300*1024)
	}
}

func TestXorrisoElTorito(t *testing.T) {
	testrepo.NeedTools(t, "xorriso")
	tree := bootTree(t)
	img := writeISO(t, tree)
	out := run(t, "xorriso", "-indev", img, "-report_el_torito", "plain")
	for _, want := range []string{
		"El Torito cat path : /boot/isolinux/boot.cat",
		"El Torito img path :   1  /boot/isolinux/isolinux.bin",
		"El Torito img opts :   1  boot-info-table",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("xorriso -report_el_torito lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`El Torito boot img :\s+1\s+BIOS\s+y\s+none\s+0x0000\s+0x00\s+4\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no BIOS no-emulation bootable entry with load size 4:\n%s", out)
	}
	lba, _ := strconv.Atoi(m[1])

	// Extract everything and compare with the tree.
	dst := filepath.Join(t.TempDir(), "x")
	run(t, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/", dst)
	for name, mf := range tree {
		if mf.Mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0 {
			// xorriso makes no device nodes without allow_mknod;
			// TestXorrisoListsRockRidge checks them.
			continue
		}
		p := filepath.Join(dst, name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("xorriso extracted no %s: %v", name, err)
			continue
		}
		switch {
		case name == "boot/isolinux/isolinux.bin":
			got, _ := os.ReadFile(p)
			checkBootInfo(t, got, mf.Data, uint32(lba))
		case mf.Mode.IsRegular():
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, mf.Data) {
				t.Errorf("%s: extracted %d bytes differ from the tree's %d (%v)", name, len(got), len(mf.Data), err)
			}
			if fi.Mode().Perm() != mf.Mode.Perm() {
				t.Errorf("%s: extracted mode %v, want %v", name, fi.Mode(), mf.Mode)
			}
		case mf.Mode&fs.ModeSymlink != 0:
			if got, _ := os.Readlink(p); got != string(mf.Data) {
				t.Errorf("%s: extracted link to %q, want %q", name, got, mf.Data)
			}
		case mf.Mode.IsDir():
			if !fi.IsDir() {
				t.Errorf("%s: extracted %v, want a directory", name, fi.Mode())
			}
		}
	}
	if cat, err := os.ReadFile(filepath.Join(dst, "boot/isolinux/boot.cat")); err != nil || len(cat) != 2048 || cat[0] != 1 || cat[30] != 0x55 || cat[31] != 0xaa {
		t.Errorf("boot.cat: %d bytes, %v", len(cat), err)
	}
}

// checkBootInfo verifies the boot-info-table (mkisofs -boot-info-table)
// in the extracted boot file against the original, computing the checksum
// here.
func checkBootInfo(t *testing.T, got, orig []byte, lba uint32) {
	t.Helper()
	if len(got) != len(orig) {
		t.Fatalf("isolinux.bin: %d bytes, want %d", len(got), len(orig))
	}
	if !bytes.Equal(got[:8], orig[:8]) || !bytes.Equal(got[64:], orig[64:]) {
		t.Error("isolinux.bin differs outside the boot-info-table")
	}
	var sum uint32
	for i := 64; i+4 <= len(orig); i += 4 {
		sum += binary.LittleEndian.Uint32(orig[i:])
	}
	want := []uint32{16, lba, uint32(len(orig)), sum}
	for i, w := range want {
		if g := binary.LittleEndian.Uint32(got[8+4*i:]); g != w {
			t.Errorf("boot-info-table field %d = %d, want %d", i, g, w)
		}
	}
}

var lsLine = regexp.MustCompile(`^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+\d+\s+\d+\s+\[\s*(\d+)\s+\d+\]\s\s(.*?) ?$`)

// isoinfoList parses `isoinfo -l` output into path -> fields.
func isoinfoList(t *testing.T, out string) map[string][]string {
	t.Helper()
	res := map[string][]string{}
	dir := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Directory listing of /") {
			dir = strings.TrimSuffix(strings.TrimPrefix(line, "Directory listing of /"), "/")
			continue
		}
		m := lsLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name := m[7]
		if name == "." || name == ".." {
			continue
		}
		if dir != "" {
			name = dir + "/" + name
		}
		res[name] = m[1:7]
	}
	return res
}

func TestIsoinfoRockRidgeListing(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo")
	tree := bootTree(t)
	img := writeISO(t, tree)
	got := isoinfoList(t, run(t, "isoinfo", "-R", "-l", "-i", img))
	for name, mf := range tree {
		if name == "." {
			continue
		}
		key := name
		if mf.Mode&fs.ModeSymlink != 0 {
			key = name + " -> " + string(mf.Data)
		}
		f, ok := got[key]
		if !ok {
			t.Errorf("isoinfo -R -l does not list %q", key)
			continue
		}
		delete(got, key)
		meta, _ := mf.Sys.(*fsmeta.Meta)
		var mode fs.FileMode = mf.Mode
		if want := lsMode(mode); f[0] != want {
			t.Errorf("%s: isoinfo mode %s, want %s", name, f[0], want)
		}
		// isoinfo prints garbage owners for names in continuation
		// areas (it does for xorriso's images too); xorriso checks those.
		if meta != nil && len(name) < 100 && (f[2] != fmt.Sprint(meta.UID) || f[3] != fmt.Sprint(meta.GID)) {
			t.Errorf("%s: isoinfo owner %s:%s, want %d:%d", name, f[2], f[3], meta.UID, meta.GID)
		}
		if meta != nil && meta.Nlink > 1 && f[1] != fmt.Sprint(meta.Nlink) {
			t.Errorf("%s: isoinfo nlink %s, want %d", name, f[1], meta.Nlink)
		}
		if mf.Mode.IsRegular() && f[4] != fmt.Sprint(len(mf.Data)) {
			t.Errorf("%s: isoinfo size %s, want %d", name, f[4], len(mf.Data))
		}
	}
	delete(got, "boot/isolinux/boot.cat")
	for name := range got {
		t.Errorf("isoinfo -R -l lists %q, not in the tree", name)
	}
	// Hardlinks share their data.
	if a, b := got["extra/hl1"], got["extra/hl2"]; a != nil && a[5] != b[5] {
		t.Errorf("hardlinks at sectors %s and %s", a[5], b[5])
	}
}

// TestIsoinfoPlainNames checks the ISO9660 names ISOLINUX reads: case and
// length kept, ";1" on files, a dot on files without one.
func TestIsoinfoPlainNames(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo")
	img := writeISO(t, bootTree(t))
	got := isoinfoList(t, run(t, "isoinfo", "-l", "-i", img))
	for _, want := range []string{
		"boot/vmlinuz64.;1", "boot/core.gz;1", "boot/isolinux/isolinux.bin;1",
		"boot/isolinux/ldlinux.c32;1", "boot/isolinux/isolinux.cfg;1",
		"boot/isolinux/boot.msg;1", "boot/isolinux/boot.cat;1",
		"boot/System.map-6.1.0-test;1", "boot/config-6.1.0-test;1",
	} {
		if _, ok := got[want]; !ok {
			t.Errorf("isoinfo -l lacks %q", want)
		}
	}
}

func lsMode(m fs.FileMode) string {
	b := []byte("----------")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'f' // isoinfo's letter for a fifo
	}
	for i, c := range "rwxrwxrwx" {
		if m&(1<<(8-i)) != 0 {
			b[i+1] = byte(c)
		}
	}
	return string(b)
}

// TestXorrisoListsRockRidge reads owners, devices and long names with
// xorriso (libisofs), the other Rock Ridge implementation at hand.
func TestXorrisoListsRockRidge(t *testing.T) {
	testrepo.NeedTools(t, "xorriso")
	img := writeISO(t, bootTree(t))
	out := run(t, "xorriso", "-indev", img, "-lsl", "/extra")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^-rw-------\s+1\s+1000\s+1000\s+5 .* '` + longName + `'$`),
		regexp.MustCompile(`(?m)^crw-rw-rw-\s+1\s+0\s+0\s+1,3 .* 'null'$`),
		regexp.MustCompile(`(?m)^brw-rw----\s+1\s+0\s+6\s+8,0 .* 'sda'$`),
		regexp.MustCompile(`(?m)^prw-------\s+1\s+0\s+0\s+0 .* 'fifo'$`),
		regexp.MustCompile(`(?m)^lrwxrwxrwx .* 'link' -> '` + regexp.QuoteMeta(longTarget) + `'$`),
		regexp.MustCompile(`(?m)^-rwxr-xr-x\s+1\s+3\s+4\s+6 .* 'hl1'$`),
		regexp.MustCompile(`(?m)^-rw-r--r--\s+1\s+0\s+0\s+2 .* 'ünïcode name'$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("xorriso -lsl /extra has no line matching %s:\n%s", want, out)
		}
	}
}

// TestXorrisoSeesIsohybrid asks xorriso what the system area holds, with
// and without HybridMBR.
func TestXorrisoSeesIsohybrid(t *testing.T) {
	testrepo.NeedTools(t, "xorriso")
	tree := bootTree(t)
	plain := writeISO(t, tree)
	if out := run(t, "xorriso", "-indev", plain, "-report_system_area", "plain"); strings.Contains(out, "MBR") {
		t.Errorf("plain image has an MBR (VIC's has none):\n%s", out)
	}
	opts := vic.ISOOptions("v1", epoch)
	opts.HybridMBR = needFile(t, hostIsohdpfx)
	img := filepath.Join(t.TempDir(), "hybrid.iso")
	if err := writeImage(context.Background(), img, tree, opts); err != nil {
		t.Fatal(err)
	}
	out := run(t, "xorriso", "-indev", img, "-report_system_area", "plain")
	fi, _ := os.Stat(img)
	for _, want := range []string{
		"System area summary: MBR isohybrid cyl-align-on",
		"MBR heads per cyl  : 64",
		"MBR secs per head  : 32",
		fmt.Sprintf("MBR partition      :   1   0x80  0x17            0 %12d", fi.Size()/512),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("xorriso -report_system_area lacks %q:\n%s", want, out)
		}
	}
	if fi.Size()%(1<<20) != 0 {
		t.Errorf("hybrid image is %d bytes, not whole MiB cylinders", fi.Size())
	}
	opts.HybridMBR = []byte("short")
	if _, err := iso.WriteTo(context.Background(), io.Discard, tree, opts); err == nil {
		t.Error("a 5-byte MBR was accepted")
	}
}

// TestManyDirectories spreads the path tables and the root directory over
// several sectors; isoinfo walks the image through the path table.
func TestManyDirectories(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo", "xorriso")
	tree := fstest.MapFS{}
	for i := range 400 {
		d := fmt.Sprintf("dir-with-a-longish-name-%03d", i)
		tree[d] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		tree[d+"/f"] = &fstest.MapFile{Data: []byte(d), Mode: 0o644}
	}
	img := filepath.Join(t.TempDir(), "many.iso")
	if err := writeImage(context.Background(), img, tree, iso.Options{Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
	got := isoinfoList(t, run(t, "isoinfo", "-R", "-l", "-i", img))
	if len(got) != 800 {
		t.Errorf("isoinfo lists %d entries, want 800", len(got))
	}
	// The L and M path tables (ECMA-119 9.4), decoded here, must name
	// every directory at the sector isoinfo found it at.
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	pvd := b[16*2048:]
	size := int(binary.LittleEndian.Uint32(pvd[132:]))
	tables := map[string][]byte{
		"L": b[int(binary.LittleEndian.Uint32(pvd[140:]))*2048:][:size],
		"M": b[int(binary.BigEndian.Uint32(pvd[148:]))*2048:][:size],
	}
	for kind, pt := range tables {
		order := binary.ByteOrder(binary.LittleEndian)
		if kind == "M" {
			order = binary.BigEndian
		}
		var paths []string
		n := 0
		for off := 0; off < len(pt); {
			l := int(pt[off])
			lba := order.Uint32(pt[off+2:])
			parent := int(order.Uint16(pt[off+6:]))
			id := string(pt[off+8 : off+8+l])
			off += 8 + l + l%2
			if len(paths) == 0 {
				paths = append(paths, "")
				continue
			}
			if parent < 1 || parent > len(paths) {
				t.Fatalf("%s path table: parent %d of %q out of range", kind, parent, id)
			}
			p := strings.TrimPrefix(paths[parent-1]+"/"+id, "/")
			paths = append(paths, p)
			n++
			if f, ok := got[p]; !ok || f[5] != fmt.Sprint(lba) {
				t.Errorf("%s path table: %s at sector %d, isoinfo says %v", kind, p, lba, f)
			}
		}
		if n != 400 {
			t.Errorf("%s path table has %d directories, want 400", kind, n)
		}
	}
	dst := filepath.Join(t.TempDir(), "x")
	run(t, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/", dst)
	for name, mf := range tree {
		if mf.Mode.IsRegular() {
			if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || !bytes.Equal(b, mf.Data) {
				t.Errorf("%s: extracted %q, %v", name, b, err)
			}
		}
	}
}
