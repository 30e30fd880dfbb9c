package rpminstall

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/internal/decompress"
	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/rootfs"
)

// Header tags (rpmtag.h, RPMTAG_*) read here.
const (
	tagBuildTime         = 1006
	tagFileSizes         = 1028
	tagFileModes         = 1030
	tagFileRdevs         = 1033
	tagFileMtimes        = 1034
	tagFileDigests       = 1035
	tagFileLinktos       = 1036
	tagFileFlags         = 1037
	tagFileUserName      = 1039
	tagFileGroupName     = 1040
	tagPrein             = 1023
	tagPostin            = 1024
	tagPreun             = 1025
	tagPostun            = 1026
	tagOldFilenames      = 1027
	tagTriggerScripts    = 1065
	tagPreinProg         = 1085
	tagPostinProg        = 1086
	tagPreunProg         = 1087
	tagPostunProg        = 1088
	tagTriggerProg       = 1092
	tagFileDevices       = 1095
	tagFileInodes        = 1096
	tagDirIndexes        = 1116
	tagBasenames         = 1117
	tagDirnames          = 1118
	tagPayloadFormat     = 1124
	tagPayloadCompressor = 1125
	tagFileColors        = 1140
	tagPretrans          = 1151
	tagPosttrans         = 1152
	tagPretransProg      = 1153
	tagPosttransProg     = 1154
	tagFileDigestAlgo    = 5011
	tagFileCaps          = 5010
	tagLongFileSizes     = 5008
	tagFileTrigger       = 5066 // FILETRIGGERSCRIPTS
	tagTransTrigger      = 5076 // TRANSFILETRIGGERSCRIPTS
)

const (
	fileConfig    = 1 << 0
	fileNoReplace = 1 << 4
	fileGhost     = 1 << 6
)

// hdrFile is one entry of the header's file list.
type hdrFile struct {
	path   string // absolute, as the header spells it
	mode   uint32
	size   int64
	user   string
	group  string
	flags  uint32
	mtime  uint32
	digest string
	linkto string
	rdev   uint32
	dev    uint32
	ino    uint32
	color  uint32
	caps   string

	// Regular file content, from the payload: data in memory, or size
	// bytes at off of ref (inStream: of the payload stream, whose store
	// is set once it is kept).
	data     []byte
	ref      io.ReaderAt
	off      int64
	inStream bool
	coff     int64 // where the content starts in the payload archive
	got      int64 // bytes read from the payload
	sum      [sha256.Size]byte
	seen     bool // appeared in the payload
}

// Scriptlet is one scriptlet or trigger of a package, as its header holds it.
type Scriptlet struct {
	// Kind is "pretrans", "pre", "post", "preun", "postun", "posttrans",
	// "trigger" or "filetrigger".
	Kind string `json:"kind"`
	// Prog is the interpreter ("/bin/sh", "<lua>", "/sbin/ldconfig").
	Prog string `json:"prog"`
	Body string `json:"body,omitempty"`
}

// decodedRPM is a package read and decompressed, ready to apply.
type decodedRPM struct {
	source    string
	name      string
	nevra     string
	buildTime int64
	files     []hdrFile
	scripts   []Scriptlet
}

// hdrString returns the first value of a string tag ("" when absent or
// unreadable).
func hdrString(h *rpmhdr.Header, tag uint32) string {
	s, _, err := h.Strings(tag)
	if err != nil || len(s) == 0 {
		return ""
	}
	return s[0]
}

// decodeHeader reads the package identity, file list and scriptlets.
func decodeHeader(h *rpmhdr.Header) (*decodedRPM, error) {
	d := &decodedRPM{}
	nv, err := h.NEVRA()
	if err != nil {
		return nil, fmt.Errorf("header: name/version: %w", err)
	}
	d.name = nv.Name
	d.nevra = nv.Name + "-"
	if nv.Epoch != 0 {
		d.nevra += strconv.FormatUint(nv.Epoch, 10) + ":"
	}
	d.nevra += nv.Version + "-" + nv.Release + "." + nv.Arch
	if bt, _, err := h.Uint64s(tagBuildTime); err == nil && len(bt) > 0 {
		d.buildTime = int64(bt[0])
	}
	if d.files, err = decodeFiles(h); err != nil {
		return nil, err
	}
	d.scripts = decodeScripts(h)
	return d, nil
}

func decodeFiles(h *rpmhdr.Header) ([]hdrFile, error) {
	if !h.Has(tagBasenames) && !h.Has(tagOldFilenames) {
		return nil, nil
	}
	var paths []string
	if h.Has(tagBasenames) {
		base, _, err := h.Strings(tagBasenames)
		if err != nil {
			return nil, fmt.Errorf("header: BASENAMES: %w", err)
		}
		dirs, ok, err := h.Strings(tagDirnames)
		if err == nil && !ok {
			err = errors.New("missing")
		}
		if err != nil {
			return nil, fmt.Errorf("header: DIRNAMES: %w", err)
		}
		idx, ok, err := h.Uint32s(tagDirIndexes)
		if err == nil && !ok {
			err = errors.New("missing")
		}
		if err != nil {
			return nil, fmt.Errorf("header: DIRINDEXES: %w", err)
		}
		if len(idx) != len(base) {
			return nil, fmt.Errorf("header: DIRINDEXES has %d entries, BASENAMES %d", len(idx), len(base))
		}
		for i, b := range base {
			if int(idx[i]) >= len(dirs) {
				return nil, fmt.Errorf("header: DIRINDEXES[%d]=%d out of range", i, idx[i])
			}
			paths = append(paths, dirs[idx[i]]+b)
		}
	} else {
		var err error
		if paths, _, err = h.Strings(tagOldFilenames); err != nil {
			return nil, fmt.Errorf("header: OLDFILENAMES: %w", err)
		}
	}
	n := len(paths)
	u32 := func(tag uint32, name string, optional bool) ([]uint32, error) {
		return perFile(h.Uint32s, tag, name, optional, n)
	}
	strs := func(tag uint32, name string, optional bool) ([]string, error) {
		return perFile(h.Strings, tag, name, optional, n)
	}
	var sizes []uint64
	var err error
	ok := false
	if h.Has(tagLongFileSizes) {
		sizes, ok, err = h.Uint64s(tagLongFileSizes)
	} else {
		sizes, ok, err = h.Uint64s(tagFileSizes)
	}
	if err == nil && !ok {
		err = errors.New("missing")
	}
	if err != nil {
		return nil, fmt.Errorf("header: FILESIZES: %w", err)
	}
	if len(sizes) != n {
		return nil, fmt.Errorf("header: FILESIZES has %d entries for %d files", len(sizes), n)
	}
	modes, err := u32(tagFileModes, "FILEMODES", false)
	if err != nil {
		return nil, err
	}
	users, err := strs(tagFileUserName, "FILEUSERNAME", false)
	if err != nil {
		return nil, err
	}
	groups, err := strs(tagFileGroupName, "FILEGROUPNAME", false)
	if err != nil {
		return nil, err
	}
	flags, err := u32(tagFileFlags, "FILEFLAGS", true)
	if err != nil {
		return nil, err
	}
	mtimes, err := u32(tagFileMtimes, "FILEMTIMES", true)
	if err != nil {
		return nil, err
	}
	digests, err := strs(tagFileDigests, "FILEDIGESTS", true)
	if err != nil {
		return nil, err
	}
	links, err := strs(tagFileLinktos, "FILELINKTOS", true)
	if err != nil {
		return nil, err
	}
	rdevs, err := u32(tagFileRdevs, "FILERDEVS", true)
	if err != nil {
		return nil, err
	}
	devs, err := u32(tagFileDevices, "FILEDEVICES", true)
	if err != nil {
		return nil, err
	}
	inos, err := u32(tagFileInodes, "FILEINODES", true)
	if err != nil {
		return nil, err
	}
	colors, err := u32(tagFileColors, "FILECOLORS", true)
	if err != nil {
		return nil, err
	}
	caps, err := strs(tagFileCaps, "FILECAPS", true)
	if err != nil {
		return nil, err
	}
	files := make([]hdrFile, n)
	for i := range files {
		p := paths[i]
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
			return nil, fmt.Errorf("header: file %d: path %q is not absolute and clean", i, p)
		}
		if sizes[i] > 1<<40 {
			return nil, fmt.Errorf("header: file %s: size %d out of range", p, sizes[i])
		}
		files[i] = hdrFile{
			path: p, mode: modes[i], size: int64(sizes[i]), user: users[i], group: groups[i],
			flags: flags[i], mtime: mtimes[i], digest: digests[i], linkto: links[i],
			rdev: rdevs[i], dev: devs[i], ino: inos[i], color: colors[i], caps: caps[i],
		}
	}
	return files, nil
}

func decodeScripts(h *rpmhdr.Header) []Scriptlet {
	var out []Scriptlet
	for _, s := range []struct {
		kind       string
		body, prog uint32
	}{
		{"pretrans", tagPretrans, tagPretransProg},
		{"pre", tagPrein, tagPreinProg},
		{"post", tagPostin, tagPostinProg},
		{"preun", tagPreun, tagPreunProg},
		{"postun", tagPostun, tagPostunProg},
		{"posttrans", tagPosttrans, tagPosttransProg},
	} {
		if !h.Has(s.body) && !h.Has(s.prog) {
			continue
		}
		prog := ""
		if p, _, err := h.Strings(s.prog); err == nil {
			prog = strings.Join(p, " ")
		}
		if prog == "" {
			prog = "/bin/sh"
		}
		out = append(out, Scriptlet{Kind: s.kind, Prog: prog, Body: hdrString(h, s.body)})
	}
	if bodies, ok, err := h.Strings(tagTriggerScripts); err == nil && ok {
		progs, _, _ := h.Strings(tagTriggerProg)
		for i, b := range bodies {
			p := "/bin/sh"
			if i < len(progs) && progs[i] != "" {
				p = progs[i]
			}
			out = append(out, Scriptlet{Kind: "trigger", Prog: p, Body: b})
		}
	}
	for _, tag := range []uint32{tagFileTrigger, tagTransTrigger} {
		if bodies, _, err := h.Strings(tag); err == nil {
			for _, b := range bodies {
				out = append(out, Scriptlet{Kind: "filetrigger", Prog: "/bin/sh", Body: b})
			}
		}
	}
	return out
}

// digestAlgo returns the hash of the header's FILEDIGESTALGO (PGP hash
// algorithm ids; md5 when absent, as rpm assumes).
func digestAlgo(h *rpmhdr.Header) (func() hash.Hash, error) {
	algo := 1
	if h.Has(tagFileDigestAlgo) {
		v, _, err := h.Uint32s(tagFileDigestAlgo)
		if err != nil || len(v) == 0 {
			return nil, fmt.Errorf("header: FILEDIGESTALGO: unreadable")
		}
		algo = int(v[0])
	}
	switch algo {
	case 1:
		return md5.New, nil
	case 2:
		return sha1.New, nil
	case 8:
		return sha256.New, nil
	case 9:
		return sha512.New384, nil
	case 10:
		return sha512.New, nil
	case 11:
		return sha256.New224, nil
	}
	return nil, fmt.Errorf("header: FILEDIGESTALGO %d unsupported", algo)
}

// decodeRPM reads one package: header, then the whole payload, checking
// every regular file against the header's size and digest. cache, when
// not "", is the file that holds (or is to hold) its decompressed payload;
// the content of big files is then left there (see inlineMax), or put in a
// spill file in spillDir when there is no cache.
func decodeRPM(r io.ReaderAt, size int64, source, cache, spillDir string) (_ *decodedRPM, err error) {
	// Buffered: the headers are read in a few small pieces.
	f, err := rpmhdr.ReadFile(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 16<<10), size)
	if err != nil {
		return nil, fmt.Errorf("rpminstall: %s: %w", source, err)
	}
	h, off := f.Main, f.PayloadOffset
	d, err := decodeHeader(h)
	if err != nil {
		return nil, fmt.Errorf("rpminstall: %s: %w", source, err)
	}
	d.source = source
	if cache != "" {
		if cd, ok := d.fromCache(h, cache); ok {
			return cd, nil
		}
		cd, err := decodeHeader(h)
		if err != nil {
			return nil, fmt.Errorf("rpminstall: %s: %w", source, err)
		}
		cd.source = source
		err = cd.readPayload(h, io.NewSectionReader(r, off, size-off), cache, spillDir)
		if err == nil {
			return cd, nil
		}
		if !errors.Is(err, errNoCache) {
			return nil, fmt.Errorf("rpminstall: %s (%s): %w", source, d.nevra, err)
		}
		// The cache could not be written: decode again, spilling.
	}
	if err := d.readPayload(h, io.NewSectionReader(r, off, size-off), "", spillDir); err != nil {
		return nil, fmt.Errorf("rpminstall: %s (%s): %w", source, d.nevra, err)
	}
	return d, nil
}

// errNoCache says the payload was decoded but could not be kept in the
// cache, so the big files it left there have no store.
var errNoCache = errors.New("payload cache not writable")

// fromCache decodes the payload kept in cache, on a copy of d so that a
// damaged entry leaves d untouched for a fresh decode; a damaged entry is
// removed. With a valid index (cacheindex.go) the files are taken by
// reference without reading the archive; otherwise the archive is read
// and checked in full, and indexed. The cache file stays open as the store
// of the files referenced in it.
func (d *decodedRPM) fromCache(h *rpmhdr.Header, cache string) (*decodedRPM, bool) {
	f, err := fileid.Open(cache)
	if err != nil {
		return nil, false
	}
	newHash, err := digestAlgo(h)
	if err != nil {
		f.Close()
		return nil, false
	}
	cd, err := decodeHeader(h)
	if err != nil {
		f.Close()
		return nil, false
	}
	cd.source = d.source
	if cd.fromIndex(cache+indexSuffix, f) == nil {
		if !cd.hasRef(f) {
			f.Close()
		}
		return cd, true
	}
	if cd, err = decodeHeader(h); err != nil {
		f.Close()
		return nil, false
	}
	cd.source = d.source
	if err := cd.readCpio(f, newHash, &bigStore{}); err != nil {
		f.Close()
		os.Remove(cache)
		os.Remove(cache + indexSuffix)
		return nil, false
	}
	cd.writeIndex(cache+indexSuffix, f)
	if !cd.setStore(f) {
		f.Close()
	}
	return cd, true
}

// indexSuffix names a payload cache entry's index beside it.
const indexSuffix = ".idx"

// hasRef reports whether a file of d has its content in f.
func (d *decodedRPM) hasRef(f *os.File) bool {
	for i := range d.files {
		if d.files[i].ref == f {
			return true
		}
	}
	return false
}

func (d *decodedRPM) readPayload(h *rpmhdr.Header, payload *io.SectionReader, cache, spillDir string) (err error) {
	if f := hdrString(h, tagPayloadFormat); f != "" && f != "cpio" {
		return fmt.Errorf("payload format %q, want cpio", f)
	}
	newHash, err := digestAlgo(h)
	if err != nil {
		return err
	}
	zr, err := payloadReader(payload, hdrString(h, tagPayloadCompressor))
	if err != nil {
		return err
	}
	defer zr.Close()
	spill := &bigStore{spilling: true, spillDir: spillDir}
	defer func() {
		if err != nil && spill.spill != nil {
			spill.spill.Close()
		}
	}()
	if cache == "" {
		return d.readCpio(zr, newHash, spill)
	}
	// Keep the decompressed payload as it is read; it enters the cache
	// only once every file in it has matched its digest, and then serves
	// as the store of the big files. A cache that cannot be written costs
	// only time: the package still decodes.
	if os.MkdirAll(filepath.Dir(cache), 0o755) != nil {
		return d.readCpio(zr, newHash, spill)
	}
	ran := false
	var derr error
	werr := atomicfile.Write(cache, 0o644, func(f *os.File) error {
		ran = true
		bw := bufio.NewWriterSize(f, 1<<20)
		if derr = d.readCpio(io.TeeReader(zr, bw), newHash, &bigStore{}); derr != nil {
			return derr
		}
		return bw.Flush()
	})
	switch {
	case !ran:
		return d.readCpio(zr, newHash, spill)
	case derr != nil:
		return derr
	case werr != nil:
		return errNoCache
	}
	f, err := fileid.Open(cache)
	if err != nil {
		if d.inStream() {
			return errNoCache
		}
		return nil
	}
	d.writeIndex(cache+indexSuffix, f)
	if !d.setStore(f) {
		f.Close()
	}
	return nil
}

// payloadReader returns the decompressed cpio stream of an RPM payload
// (the rest of the file), by the header's PAYLOADCOMPRESSOR (sniffed when
// the tag says none, as rpm reads such payloads through its gzip layer).
// An xz payload is decoded with a dictionary no bigger than the payload
// (decompress.NewXzReaderAt).
func payloadReader(r *io.SectionReader, compressor string) (io.ReadCloser, error) {
	f, err := decompress.ByRPMCompressor(compressor)
	if err != nil {
		return nil, err
	}
	switch f {
	case decompress.None:
		zr, _, err := decompress.Sniff(r, decompress.Options{})
		return zr, err
	case decompress.Xz:
		return decompress.NewXzReaderAt(r, r.Size())
	}
	return decompress.NewReader(bufio.NewReaderSize(r, 64<<10), f, decompress.Options{})
}

// inlineMax is the largest file content the tree holds in memory; bigger
// files are referenced in the payload cache or a spill file and streamed
// by the writers. 256 KiB keeps in memory what hooks, scriptlets and the
// build read and edit (configuration, scripts, unit files, most small
// libraries) and what would cost more in read calls than in bytes, and
// moves out of the heap the files that hold most of an image's bytes
// (kernels, firmware, big libraries and daemons, locale archives).
const inlineMax = 256 << 10

// bigStore is where readCpio leaves the content of files over inlineMax:
// with spilling, in a spill file in spillDir (default os.TempDir()),
// otherwise in the payload stream itself, which the caller keeps (the
// cache file) and names with setStore.
type bigStore struct {
	spilling bool
	spillDir string
	spill    *os.File
	w        *bufio.Writer
	size     int64
}

// writer returns where the next big file's bytes go and their offset there.
func (b *bigStore) writer() (io.Writer, io.ReaderAt, int64, error) {
	if b.spill == nil {
		// Unnamed: the open file is the store, and nothing is left
		// behind when the process ends.
		f, err := atomicfile.Unnamed(b.spillDir)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("spill file: %w", err)
		}
		b.spill, b.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	return b.w, b.spill, b.size, nil
}

func (b *bigStore) flush() error {
	if b.w == nil {
		return nil
	}
	if err := b.w.Flush(); err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	return nil
}

// inStream reports whether a big file was left in the payload stream.
func (d *decodedRPM) inStream() bool {
	for i := range d.files {
		if d.files[i].inStream {
			return true
		}
	}
	return false
}

// setStore makes f, the kept payload stream, the store of the files left
// in it; it reports whether there were any.
func (d *decodedRPM) setStore(f *os.File) bool {
	used := false
	for i := range d.files {
		if d.files[i].inStream {
			d.files[i].ref, d.files[i].inStream = f, false
			used = true
		}
	}
	return used
}

// content is the file's content for the tree.
func (f *hdrFile) content() (rootfs.Content, error) {
	if f.inStream {
		return rootfs.Content{}, fmt.Errorf("content left in a payload stream that was not kept")
	}
	if f.ref != nil {
		return rootfs.Ref(f.ref, f.off, f.size, f.sum), nil
	}
	return rootfs.BytesSum(f.data, f.sum), nil
}

// emptySHA256 is the SHA-256 of no bytes, the content digest of every
// empty file.
var emptySHA256 = sha256.Sum256(nil)

// readCpio reads the decompressed payload: the content of every regular
// file, matched to the header's file list by name (or index, in rpm's
// stripped format) and checked against the header's size and digest.
// Content over inlineMax goes to big (nil: all content in memory).
func (d *decodedRPM) readCpio(zr io.Reader, newHash func() hash.Hash, big *bigStore) error {
	byPath := make(map[string]int, len(d.files))
	sizes := make([]int64, len(d.files))
	for i, f := range d.files {
		byPath[f.path] = i
		switch f.mode & fsmeta.S_IFMT {
		case fsmeta.S_IFREG:
			sizes[i] = f.size
		case fsmeta.S_IFLNK:
			sizes[i] = int64(len(f.linkto))
		}
	}
	// In a hardlink set only the last member carries data (rpm's
	// convention, in both cpio formats).
	last := map[[2]uint32]int{}
	for i, f := range d.files {
		if f.mode&fsmeta.S_IFMT == fsmeta.S_IFREG && f.ino != 0 && f.flags&fileGhost == 0 {
			k := [2]uint32{f.dev, f.ino}
			if j, ok := last[k]; ok {
				sizes[j] = 0
			}
			last[k] = i
		}
	}
	c := initramfs.NewPayloadReader(zr, sizes)
	for {
		e, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("payload: %w", err)
		}
		i := e.Index
		if i < 0 {
			name := e.Name
			name = strings.TrimPrefix(name, ".")
			if !strings.HasPrefix(name, "/") {
				name = "/" + name
			}
			var ok bool
			if i, ok = byPath[name]; !ok {
				return fmt.Errorf("payload: member %q is not in the header's file list", e.Name)
			}
		}
		f := &d.files[i]
		if f.seen {
			return fmt.Errorf("payload: %s appears twice", f.path)
		}
		if f.flags&fileGhost != 0 {
			return fmt.Errorf("payload: %s is %%ghost but has an archive member", f.path)
		}
		f.seen = true
		if f.mode&fsmeta.S_IFMT != fsmeta.S_IFREG {
			continue // metadata comes from the header; symlink targets too
		}
		if e.Size != sizes[i] {
			return fmt.Errorf("payload: %s: archive says %d bytes, header %d", f.path, e.Size, sizes[i])
		}
		if sizes[i] == 0 {
			if f.size == 0 {
				// An empty file: checked and summed like any other (its
				// SHA-256 is that of no bytes, not all zeros). The other
				// members of a hardlink set, also carrying no data here,
				// get the set's content below.
				if got := hex.EncodeToString(newHash().Sum(nil)); f.digest != "" && got != f.digest {
					return fmt.Errorf("payload: %s: digest mismatch: header %s, content %s (empty)", f.path, f.digest, got)
				}
				f.sum = emptySHA256
			}
			continue
		}
		hh, sh := newHash(), sha256.New()
		f.coff = c.Offset()
		if big != nil && sizes[i] > inlineMax {
			w := io.Writer(io.Discard) // left in the payload stream
			if big.spilling {
				var err error
				if w, f.ref, f.off, err = big.writer(); err != nil {
					return err
				}
			} else {
				f.off, f.inStream = c.Offset(), true
			}
			if _, err := io.CopyN(io.MultiWriter(hh, sh, w), c, sizes[i]); err != nil {
				return fmt.Errorf("payload: %s: %w", f.path, err)
			}
			if big.spilling {
				big.size += sizes[i]
			}
		} else {
			// The size is the verified header's; io.ReadAll grows the
			// buffer with what the archive really holds.
			data, err := io.ReadAll(c)
			if err == nil && int64(len(data)) != sizes[i] {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return fmt.Errorf("payload: %s: %w", f.path, err)
			}
			hh.Write(data)
			sh.Write(data)
			f.data = data
		}
		if got := hex.EncodeToString(hh.Sum(nil)); f.digest != "" && got != f.digest {
			return fmt.Errorf("payload: %s: digest mismatch: header %s, content %s", f.path, f.digest, got)
		}
		sh.Sum(f.sum[:0])
		f.got = sizes[i]
	}
	if big != nil {
		if err := big.flush(); err != nil {
			return err
		}
	}
	for i := range d.files {
		f := &d.files[i]
		if f.flags&fileGhost == 0 && !f.seen {
			return fmt.Errorf("payload: %s is in the header but not in the archive", f.path)
		}
	}
	// Give every member of a hardlink set the set's content.
	for i := range d.files {
		f := &d.files[i]
		if f.mode&fsmeta.S_IFMT == fsmeta.S_IFREG && f.ino != 0 && f.flags&fileGhost == 0 {
			j := last[[2]uint32{f.dev, f.ino}]
			if j != i {
				g := &d.files[j]
				f.data, f.sum, f.got, f.ref, f.off, f.inStream, f.coff = g.data, g.sum, g.got, g.ref, g.off, g.inStream, g.coff
			}
		}
	}
	for i := range d.files {
		f := &d.files[i]
		if f.mode&fsmeta.S_IFMT == fsmeta.S_IFREG && f.flags&fileGhost == 0 && f.got != f.size {
			return fmt.Errorf("payload: %s: got %d bytes, header says %d", f.path, f.got, f.size)
		}
	}
	return nil
}

// perFile reads a header array that holds one entry per file (n files):
// an optional one that is absent reads as n zero values; a required one
// that is absent, or one of another length, is an error naming it.
func perFile[T any](get func(uint32) ([]T, bool, error), tag uint32, name string, optional bool, n int) ([]T, error) {
	v, ok, err := get(tag)
	if !ok && optional {
		return make([]T, n), nil
	}
	if err == nil && !ok {
		err = errors.New("missing")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %s: %w", name, err)
	}
	if len(v) != n {
		return nil, fmt.Errorf("header: %s has %d entries for %d files", name, len(v), n)
	}
	return v, nil
}
