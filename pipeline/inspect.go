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
	"os"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/fspath"
	"github.com/vicroot/vicroot/internal/mtree"
	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/rpmdb"
)

// RecordDir is where an ISO records what `vicroot verify` needs (the lock,
// the effective definition, the build inputs) and the initramfs manifest.
const RecordDir = "boot/vicroot"

// ManifestPath is the initramfs manifest (mtree, with package=) inside the ISO.
const ManifestPath = RecordDir + "/initramfs.mtree"

// Entry is one path of an image's tree, as `vicroot inspect` lists it.
type Entry struct {
	Path         string // relative, slash-separated, no leading "./" ("." is the root)
	Mode         fs.FileMode
	UID, GID     uint32
	Size         int64
	SHA256       string // hex, regular files only
	Link         string // symlink target
	Major, Minor uint32 // devices
	Package      string // the package that installed it, when the ISO records it
}

// WriteManifest writes entries as a BSD mtree manifest, sorted by path, as
// the build writes <iso>.mtree.
func WriteManifest(w io.Writer, entries []Entry) error {
	es := make([]mtree.Entry, len(entries))
	for i, e := range entries {
		es[i] = mtree.Entry(e)
	}
	return mtree.Write(w, es)
}

// isISO reports whether r starts like an ISO9660 image (the primary volume
// descriptor's "CD001" at sector 16).
func isISO(r io.ReaderAt) bool {
	var b [6]byte
	_, err := r.ReadAt(b[:], 16*2048)
	return err == nil && string(b[1:6]) == "CD001"
}

// openedImage is an ISO (or a bare initramfs) opened as trees: the ISO's own
// (nil for an initramfs) and the initramfs's.
type openedImage struct {
	name   string
	iso    *iso.Image
	initrd *initramfs.FS
	file   *os.File
}

func (im *openedImage) Close() error {
	var err error
	if im.initrd != nil {
		err = im.initrd.Close()
	}
	if im.file != nil {
		if cerr := im.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// openISOFile opens the ISO at p; withInitrd also opens its initramfs.
func openISOFile(ctx context.Context, p string, withInitrd bool) (*openedImage, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !isISO(f) {
		f.Close()
		return nil, fmt.Errorf("%s: not an ISO9660 image (no CD001 at sector 16)", p)
	}
	im, err := openImage(ctx, f, fi.Size(), p, withInitrd)
	if err != nil {
		f.Close()
		return nil, err
	}
	im.file = f
	return im, nil
}

// openImage opens r (size bytes) as an ISO or, failing the ISO signature,
// as an initramfs.
func openImage(ctx context.Context, r io.ReaderAt, size int64, name string, withInitrd bool) (*openedImage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	im := &openedImage{name: name}
	if !isISO(r) {
		t, err := initramfs.OpenFS(ctx, r, size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		im.initrd = t
		return im, nil
	}
	var err error
	if im.iso, err = iso.Open(r); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !withInitrd {
		return im, nil
	}
	f, err := im.iso.Open(iso.InitrdPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, iso.InitrdPath, err)
	}
	ra, ok := f.(io.ReaderAt)
	if !ok || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: /%s is not a regular file", name, iso.InitrdPath)
	}
	if im.initrd, err = initramfs.OpenFS(ctx, ra, fi.Size()); err != nil {
		return nil, fmt.Errorf("%s: /%s: %w", name, iso.InitrdPath, err)
	}
	return im, nil
}

// readFile reads a regular file of fsys, at most limit bytes.
func readFile(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("/%s is not a regular file", name)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("/%s: %d bytes, more than the %d this reads", name, fi.Size(), limit)
	}
	b, err := io.ReadAll(f)
	if err == nil && int64(len(b)) != fi.Size() {
		err = fmt.Errorf("/%s: read %d of its %d bytes", name, len(b), fi.Size())
	}
	return b, err
}

// Inspect reads an ISO written by vicroot (or VIC) or an initramfs
// (compressed or not) and returns the manifest of the initramfs tree: for
// an ISO, the tree inside /boot/core.gz, with the owning package of each
// path when the ISO records it. A damaged or truncated image is an error
// naming name and what is cut.
func Inspect(ctx context.Context, r io.ReaderAt, size int64, name string) ([]Entry, error) {
	im, err := openImage(ctx, r, size, name, true)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	defer im.Close()
	var owners map[string]string
	if im.iso != nil {
		if owners, err = readOwners(im.iso); err != nil {
			return nil, fmt.Errorf("inspect: %s: %w", name, err)
		}
	}
	entries, err := manifest(ctx, im.initrd, "")
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: /%s: %w", name, iso.InitrdPath, err)
	}
	for i := range entries {
		entries[i].Package = owners[entries[i].Path]
	}
	return entries, nil
}

// readOwners reads the package of each path from the ISO's manifest; an
// ISO without one (VIC's) has none.
func readOwners(img *iso.Image) (map[string]string, error) {
	data, err := readFile(img, ManifestPath, 256<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseOwners(data)
}

// parseOwners reads the package= of each path of an mtree manifest.
func parseOwners(data []byte) (map[string]string, error) {
	owners := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
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
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/%s: %w", ManifestPath, err)
	}
	return owners, nil
}

// manifest lists every path of fsys (fs.WalkDir's order: sorted, parents
// first), each named prefix+path; the root is "." without a prefix and
// left out with one. Regular files are hashed, unless the tree already
// knows their digest (fsmeta's SHA256: the build's in-memory tree); the
// owning package is the one fsmeta records, if any.
func manifest(ctx context.Context, fsys fs.FS, prefix string) ([]Entry, error) {
	var out []Entry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." && prefix != "" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Path: prefix + p, Mode: fi.Mode()}
		m := fsmeta.Of(fi)
		if m != nil {
			e.UID, e.GID, e.Major, e.Minor, e.Package = m.UID, m.GID, m.Major, m.Minor, m.Package
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = fs.ReadLink(fsys, p); err != nil {
				return err
			}
		case fi.Mode().IsRegular() && m != nil && m.SHA256 != nil:
			e.Size, e.SHA256 = fi.Size(), hex.EncodeToString(m.SHA256)
		case fi.Mode().IsRegular():
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(h, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if n != fi.Size() {
				return fmt.Errorf("%s: read %d of its %d bytes", p, n, fi.Size())
			}
			e.Size, e.SHA256 = n, hex.EncodeToString(h.Sum(nil))
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// RPMDB is the rpm database an image carries at /var/lib/rpm: what the
// image's own rpm and tdnf will see.
type RPMDB struct {
	// File is the database file read, e.g. "/var/lib/rpm/rpmdb.sqlite".
	File string
	// Format is "bdb" (rpm < 4.16's Packages) or "sqlite".
	Format string
	// Packages are the NEVRAs of its entries in header-number order (the
	// install order, gpg-pubkey entries first), as rpm's %{NEVRA} prints
	// them: no epoch when there is none, no arch for a gpg-pubkey.
	Packages []string
}

// InspectRPMDB reads the rpm database in the initramfs tree of an ISO (or
// of an initramfs): nil when the tree has no database at /var/lib/rpm,
// an error naming name and the file when the database cannot be read.
func InspectRPMDB(ctx context.Context, r io.ReaderAt, size int64, name string) (*RPMDB, error) {
	im, err := openImage(ctx, r, size, name, true)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	defer im.Close()
	res, err := fspath.Resolve(im.initrd, rpmdbDir, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: %w", name, err)
	}
	if !res.Info.IsDir() {
		return nil, fmt.Errorf("inspect: %s: /%s is not a directory", name, rpmdbDir)
	}
	dir, err := fs.Sub(im.initrd, res.Name())
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: %w", name, err)
	}
	format, ins, err := rpmdb.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: /%s: %w", name, rpmdbDir, err)
	}
	if format == rpmdb.None {
		return nil, nil
	}
	db := &RPMDB{File: "/" + rpmdbDir + "/" + format.File(), Format: format.String()}
	for _, in := range ins {
		db.Packages = append(db.Packages, nevraString(in))
	}
	return db, nil
}

// nevraString prints an entry's NEVRA as rpm's %{NEVRA} does: the epoch
// when the header has the tag (0 included), the arch when it has one.
func nevraString(in rpmdb.Installed) string {
	n := in.NEVRA
	s := n.Name + "-"
	if in.Header.Has(rpmhdr.TagEpoch) {
		s += strconv.FormatUint(n.Epoch, 10) + ":"
	}
	s += n.Version + "-" + n.Release
	if n.Arch != "" {
		s += "." + n.Arch
	}
	return s
}
