package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/mtree"
)

// RecordDir is where an ISO records what `vicroot verify` needs (the lock,
// the effective definition, the build inputs) and the initramfs manifest.
const RecordDir = "boot/vicroot"

// ManifestPath is the initramfs manifest (mtree, with package=) inside the ISO.
const ManifestPath = RecordDir + "/initramfs.mtree"

// isISO reports whether r starts like an ISO9660 image (the primary volume
// descriptor's "CD001" at sector 16).
func isISO(r io.ReaderAt) bool {
	var b [6]byte
	_, err := r.ReadAt(b[:], 16*2048)
	return err == nil && string(b[1:6]) == "CD001"
}

// Inspect reads an ISO written by vicroot (or VIC) or an initramfs
// (compressed or not) and returns the manifest of the initramfs tree: for
// an ISO, the tree inside /boot/core.gz, with the owning package of each
// path when the ISO records it.
func Inspect(ctx context.Context, r io.ReaderAt, size int64, name string) ([]mtree.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var initrd io.Reader = io.NewSectionReader(r, 0, size)
	var owners map[string]string
	if isISO(r) {
		img, err := iso.Open(r)
		if err != nil {
			return nil, fmt.Errorf("inspect: %s: %w", name, err)
		}
		sr, err := img.Open(iso.InitrdPath)
		if err != nil {
			return nil, fmt.Errorf("inspect: %s: %s: %w", name, iso.InitrdPath, err)
		}
		initrd = sr
		if mr, err := img.Open(ManifestPath); err == nil {
			owners, err = readOwners(mr)
			if err != nil {
				return nil, fmt.Errorf("inspect: %s: %s: %w", name, ManifestPath, err)
			}
		}
	}
	dr, _, err := initramfs.Decompress(initrd)
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: %w", name, err)
	}
	defer dr.Close()
	entries, err := readCPIO(ctx, dr)
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: %w", name, err)
	}
	for i := range entries {
		entries[i].Package = owners[entries[i].Path]
	}
	return entries, nil
}

func readOwners(r io.Reader) (map[string]string, error) {
	owners := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue // white space alone
		}
		for _, kv := range f[1:] {
			if p, ok := strings.CutPrefix(kv, "package="); ok {
				owners[mtree.Unescape(strings.TrimPrefix(f[0], "./"))] = mtree.Unescape(p)
			}
		}
	}
	return owners, sc.Err()
}

// readCPIO lists a newc archive. Hardlinked files carry their data on one
// record only (GNU cpio: the last); every link gets its digest and size.
func readCPIO(ctx context.Context, r io.Reader) ([]mtree.Entry, error) {
	cr := initramfs.NewReader(r)
	var out []mtree.Entry
	type linkData struct {
		size int64
		sum  string
	}
	links := map[uint64]*linkData{}
	linkIdx := map[uint64][]int{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		mode := fsmeta.FileMode(uint32(h.Mode))
		if mode&fs.ModeIrregular != 0 {
			return nil, fmt.Errorf("%s: unknown file type in mode %#o", h.Name, h.Mode)
		}
		e := mtree.Entry{Path: strings.TrimPrefix(h.Name, "./"), Mode: mode, UID: uint32(h.UID), GID: uint32(h.GID), Major: uint32(h.Rmajor), Minor: uint32(h.Rminor)}
		switch {
		case mode&fs.ModeSymlink != 0:
			var b bytes.Buffer
			if _, err := io.Copy(&b, io.LimitReader(cr, 1<<16)); err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			e.Link = b.String()
		case mode.IsRegular():
			hs := sha256.New()
			n, err := io.Copy(hs, cr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			e.Size, e.SHA256 = n, hex.EncodeToString(hs.Sum(nil))
			if h.NLink > 1 {
				if n > 0 || links[h.Ino] == nil {
					links[h.Ino] = &linkData{n, e.SHA256}
				}
				linkIdx[h.Ino] = append(linkIdx[h.Ino], len(out))
			}
		}
		out = append(out, e)
	}
	for ino, idx := range linkIdx {
		for _, i := range idx {
			out[i].Size, out[i].SHA256 = links[ino].size, links[ino].sum
		}
	}
	return out, nil
}
