package rootfs

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// Header tags read here beyond go-rpmutils' named constants.
const (
	tagPreun         = 1025
	tagPostun        = 1026
	tagPreunProg     = 1087
	tagPostunProg    = 1088
	tagPretrans      = 1151
	tagPosttrans     = 1152
	tagPretransProg  = 1153
	tagPosttransProg = 1154
	tagTriggerProg   = 1092
	tagBuildTime     = 1006
	tagFileTrigger   = 5066 // FILETRIGGERSCRIPTS
	tagTransTrigger  = 5076 // TRANSFILETRIGGERSCRIPTS
)

// rpm's limits on a header (HEADER_TAGS_MAX, HEADER_DATA_MAX), checked
// before go-rpmutils allocates what the header claims.
const (
	maxHeaderTags = 0xffff
	maxHeaderData = 256 << 20
)

const (
	fileConfig    = 1 << 0
	fileNoReplace = 1 << 4
	fileGhost     = 1 << 6
)

// Unix file type bits as RPM headers and cpio carry them.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
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

	data []byte // regular file content, from the payload
	sum  [sha256.Size]byte
	seen bool // appeared in the payload
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

// headerSpan validates the lead and both header intros of an RPM file and
// returns where the payload starts. go-rpmutils trusts the intro counts for
// its allocations and slices; checking them first turns a malformed header
// into an error instead of a panic or a giant allocation.
func headerSpan(r io.ReaderAt, size int64) (int64, error) {
	var lead [96]byte
	if _, err := r.ReadAt(lead[:], 0); err != nil {
		return 0, fmt.Errorf("reading lead: %w", err)
	}
	if binary.BigEndian.Uint32(lead[:4]) != 0xedabeedb {
		return 0, errors.New("not an RPM file (bad lead magic)")
	}
	off := int64(96)
	for i, name := range []string{"signature header", "main header"} {
		var intro [16]byte
		if _, err := r.ReadAt(intro[:], off); err != nil {
			return 0, fmt.Errorf("%s intro at offset %d: %w", name, off, err)
		}
		if intro[0] != 0x8e || intro[1] != 0xad || intro[2] != 0xe8 {
			return 0, fmt.Errorf("%s at offset %d: bad magic", name, off)
		}
		nidx := binary.BigEndian.Uint32(intro[8:12])
		hsize := binary.BigEndian.Uint32(intro[12:16])
		if nidx == 0 || nidx > maxHeaderTags || hsize > maxHeaderData {
			return 0, fmt.Errorf("%s at offset %d: %d tags, %d data bytes: out of range", name, off, nidx, hsize)
		}
		off += 16 + int64(nidx)*16 + int64(hsize)
		if i == 0 {
			off += (8 - off%8) % 8
		}
		if off > size {
			return 0, fmt.Errorf("%s ends at %d, beyond the file's %d bytes", name, off, size)
		}
	}
	return off, nil
}

// readHeader parses the headers with go-rpmutils, recovering from its
// panics on malformed input.
func readHeader(r io.ReaderAt, size int64) (hdr *rpmutils.RpmHeader, payloadOff int64, err error) {
	payloadOff, err = headerSpan(r, size)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if p := recover(); p != nil {
			hdr, err = nil, fmt.Errorf("malformed header: %v", p)
		}
	}()
	hdr, err = rpmutils.ReadHeader(bufio.NewReader(io.NewSectionReader(r, 0, payloadOff)))
	if err != nil {
		return nil, 0, fmt.Errorf("header: %w", err)
	}
	return hdr, payloadOff, nil
}

func hdrString(h *rpmutils.RpmHeader, tag int) string {
	s, err := h.GetStrings(tag)
	if err != nil || len(s) == 0 {
		return ""
	}
	return s[0]
}

// decodeHeader reads the package identity, file list and scriptlets.
func decodeHeader(h *rpmutils.RpmHeader) (d *decodedRPM, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("malformed header: %v", p)
		}
	}()
	d = &decodedRPM{}
	nevra, err := h.GetNEVRA()
	if err != nil {
		return nil, fmt.Errorf("header: name/version: %w", err)
	}
	d.name = nevra.Name
	d.nevra = nevra.Name + "-"
	if nevra.Epoch != "" && nevra.Epoch != "0" {
		d.nevra += nevra.Epoch + ":"
	}
	d.nevra += nevra.Version + "-" + nevra.Release + "." + nevra.Arch
	if bt, err := h.GetUint64s(tagBuildTime); err == nil && len(bt) > 0 {
		d.buildTime = int64(bt[0])
	}
	if d.files, err = decodeFiles(h); err != nil {
		return nil, err
	}
	d.scripts = decodeScripts(h)
	return d, nil
}

func decodeFiles(h *rpmutils.RpmHeader) ([]hdrFile, error) {
	if !h.HasTag(rpmutils.BASENAMES) && !h.HasTag(rpmutils.OLDFILENAMES) {
		return nil, nil
	}
	var paths []string
	if h.HasTag(rpmutils.BASENAMES) {
		base, err := h.GetStrings(rpmutils.BASENAMES)
		if err != nil {
			return nil, fmt.Errorf("header: BASENAMES: %w", err)
		}
		dirs, err := h.GetStrings(rpmutils.DIRNAMES)
		if err != nil {
			return nil, fmt.Errorf("header: DIRNAMES: %w", err)
		}
		idx, err := h.GetUint32s(rpmutils.DIRINDEXES)
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
		if paths, err = h.GetStrings(rpmutils.OLDFILENAMES); err != nil {
			return nil, fmt.Errorf("header: OLDFILENAMES: %w", err)
		}
	}
	n := len(paths)
	u32 := func(tag int, name string, optional bool) ([]uint32, error) {
		if !h.HasTag(tag) && optional {
			return make([]uint32, n), nil
		}
		v, err := h.GetUint32s(tag)
		if err != nil {
			return nil, fmt.Errorf("header: %s: %w", name, err)
		}
		if len(v) != n {
			return nil, fmt.Errorf("header: %s has %d entries for %d files", name, len(v), n)
		}
		return v, nil
	}
	strs := func(tag int, name string, optional bool) ([]string, error) {
		if !h.HasTag(tag) && optional {
			return make([]string, n), nil
		}
		v, err := h.GetStrings(tag)
		if err != nil {
			return nil, fmt.Errorf("header: %s: %w", name, err)
		}
		if len(v) != n {
			return nil, fmt.Errorf("header: %s has %d entries for %d files", name, len(v), n)
		}
		return v, nil
	}
	var sizes []uint64
	var err error
	if h.HasTag(rpmutils.LONGFILESIZES) {
		sizes, err = h.GetUint64s(rpmutils.LONGFILESIZES)
	} else {
		sizes, err = h.GetUint64s(rpmutils.FILESIZES)
	}
	if err != nil {
		return nil, fmt.Errorf("header: FILESIZES: %w", err)
	}
	if len(sizes) != n {
		return nil, fmt.Errorf("header: FILESIZES has %d entries for %d files", len(sizes), n)
	}
	modes, err := u32(rpmutils.FILEMODES, "FILEMODES", false)
	if err != nil {
		return nil, err
	}
	users, err := strs(rpmutils.FILEUSERNAME, "FILEUSERNAME", false)
	if err != nil {
		return nil, err
	}
	groups, err := strs(rpmutils.FILEGROUPNAME, "FILEGROUPNAME", false)
	if err != nil {
		return nil, err
	}
	flags, err := u32(rpmutils.FILEFLAGS, "FILEFLAGS", true)
	if err != nil {
		return nil, err
	}
	mtimes, err := u32(rpmutils.FILEMTIMES, "FILEMTIMES", true)
	if err != nil {
		return nil, err
	}
	digests, err := strs(rpmutils.FILEDIGESTS, "FILEDIGESTS", true)
	if err != nil {
		return nil, err
	}
	links, err := strs(rpmutils.FILELINKTOS, "FILELINKTOS", true)
	if err != nil {
		return nil, err
	}
	rdevs, err := u32(rpmutils.FILERDEVS, "FILERDEVS", true)
	if err != nil {
		return nil, err
	}
	devs, err := u32(rpmutils.FILEDEVICES, "FILEDEVICES", true)
	if err != nil {
		return nil, err
	}
	inos, err := u32(rpmutils.FILEINODES, "FILEINODES", true)
	if err != nil {
		return nil, err
	}
	colors, err := u32(rpmutils.FILECOLORS, "FILECOLORS", true)
	if err != nil {
		return nil, err
	}
	caps, err := strs(rpmutils.FILECAPS, "FILECAPS", true)
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

func decodeScripts(h *rpmutils.RpmHeader) []Scriptlet {
	var out []Scriptlet
	for _, s := range []struct {
		kind       string
		body, prog int
	}{
		{"pretrans", tagPretrans, tagPretransProg},
		{"pre", rpmutils.PREIN, rpmutils.PREINPROG},
		{"post", rpmutils.POSTIN, rpmutils.POSTINPROG},
		{"preun", tagPreun, tagPreunProg},
		{"postun", tagPostun, tagPostunProg},
		{"posttrans", tagPosttrans, tagPosttransProg},
	} {
		if !h.HasTag(s.body) && !h.HasTag(s.prog) {
			continue
		}
		prog := ""
		if p, err := h.GetStrings(s.prog); err == nil {
			prog = strings.Join(p, " ")
		}
		if prog == "" {
			prog = "/bin/sh"
		}
		out = append(out, Scriptlet{Kind: s.kind, Prog: prog, Body: hdrString(h, s.body)})
	}
	if bodies, err := h.GetStrings(rpmutils.TRIGGERSCRIPTS); err == nil {
		progs, _ := h.GetStrings(tagTriggerProg)
		for i, b := range bodies {
			p := "/bin/sh"
			if i < len(progs) && progs[i] != "" {
				p = progs[i]
			}
			out = append(out, Scriptlet{Kind: "trigger", Prog: p, Body: b})
		}
	}
	for _, tag := range []int{tagFileTrigger, tagTransTrigger} {
		if bodies, err := h.GetStrings(tag); err == nil {
			for _, b := range bodies {
				out = append(out, Scriptlet{Kind: "filetrigger", Prog: "/bin/sh", Body: b})
			}
		}
	}
	return out
}

// digestAlgo returns the hash of the header's FILEDIGESTALGO (PGP hash
// algorithm ids; md5 when absent, as rpm assumes).
func digestAlgo(h *rpmutils.RpmHeader) (func() hash.Hash, error) {
	algo := 1
	if h.HasTag(rpmutils.FILEDIGESTALGO) {
		v, err := h.GetUint32s(rpmutils.FILEDIGESTALGO)
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
// every regular file against the header's size and digest.
// decodeRPM reads a package. cache, when not "", is the file that holds
// (or is to hold) its decompressed payload.
func decodeRPM(r io.ReaderAt, size int64, source, cache string) (_ *decodedRPM, err error) {
	// go-rpmutils panics on some malformed headers wherever a tag is read
	// (GetStrings with a lying count); nothing of it may escape a decode.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("rootfs: %s: malformed header: %v", source, p)
		}
	}()
	h, off, err := readHeader(r, size)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %s: %w", source, err)
	}
	d, err := decodeHeader(h)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %s: %w", source, err)
	}
	d.source = source
	if cache != "" {
		if cd, ok := d.fromCache(h, cache); ok {
			return cd, nil
		}
	}
	if err := d.readPayload(h, io.NewSectionReader(r, off, size-off), cache); err != nil {
		return nil, fmt.Errorf("rootfs: %s (%s): %w", source, d.nevra, err)
	}
	return d, nil
}

// fromCache decodes the payload kept in cache, on a copy of d so that a
// damaged entry leaves d untouched for a fresh decode; a damaged entry is
// removed.
func (d *decodedRPM) fromCache(h *rpmutils.RpmHeader, cache string) (*decodedRPM, bool) {
	f, err := os.Open(cache)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	newHash, err := digestAlgo(h)
	if err != nil {
		return nil, false
	}
	cd, err := decodeHeader(h)
	if err != nil {
		return nil, false
	}
	cd.source = d.source
	if err := cd.readCpio(f, newHash); err != nil {
		os.Remove(cache)
		return nil, false
	}
	return cd, true
}

func (d *decodedRPM) readPayload(h *rpmutils.RpmHeader, payload io.Reader, cache string) error {
	if f := hdrString(h, rpmutils.PAYLOADFORMAT); f != "" && f != "cpio" {
		return fmt.Errorf("payload format %q, want cpio", f)
	}
	newHash, err := digestAlgo(h)
	if err != nil {
		return err
	}
	zr, closeFn, err := payloadReader(payload, hdrString(h, rpmutils.PAYLOADCOMPRESSOR))
	if err != nil {
		return err
	}
	defer closeFn()
	if cache == "" {
		return d.readCpio(zr, newHash)
	}
	// Keep the decompressed payload as it is read; it enters the cache
	// only once every file in it has matched its digest.
	tmp, err := os.CreateTemp(filepath.Dir(cache), ".payload-*")
	if err != nil {
		if os.MkdirAll(filepath.Dir(cache), 0o755) != nil {
			return d.readCpio(zr, newHash)
		}
		if tmp, err = os.CreateTemp(filepath.Dir(cache), ".payload-*"); err != nil {
			return d.readCpio(zr, newHash)
		}
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	err = d.readCpio(io.TeeReader(zr, bw), newHash)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if rerr := os.Rename(tmp.Name(), cache); rerr == nil {
			return nil
		}
	}
	os.Remove(tmp.Name())
	return err
}

// readCpio reads the decompressed payload: the content of every regular
// file, matched to the header's file list by name (or index, in rpm's
// stripped format) and checked against the header's size and digest.
func (d *decodedRPM) readCpio(zr io.Reader, newHash func() hash.Hash) error {
	byPath := make(map[string]int, len(d.files))
	sizes := make([]int64, len(d.files))
	for i, f := range d.files {
		byPath[f.path] = i
		switch f.mode & sIFMT {
		case sIFREG:
			sizes[i] = f.size
		case sIFLNK:
			sizes[i] = int64(len(f.linkto))
		}
	}
	// In a hardlink set only the last member carries data (rpm's
	// convention, in both cpio formats).
	last := map[[2]uint32]int{}
	for i, f := range d.files {
		if f.mode&sIFMT == sIFREG && f.ino != 0 && f.flags&fileGhost == 0 {
			k := [2]uint32{f.dev, f.ino}
			if j, ok := last[k]; ok {
				sizes[j] = 0
			}
			last[k] = i
		}
	}
	c := &newcReader{r: bufio.NewReaderSize(zr, 256<<10), sizes: sizes}
	for {
		e, err := c.next()
		if err == errTrailer {
			break
		}
		if err != nil {
			return fmt.Errorf("payload: %w", err)
		}
		i := e.index
		if i < 0 {
			name := e.name
			name = strings.TrimPrefix(name, ".")
			if !strings.HasPrefix(name, "/") {
				name = "/" + name
			}
			var ok bool
			if i, ok = byPath[name]; !ok {
				return fmt.Errorf("payload: member %q is not in the header's file list", e.name)
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
		if f.mode&sIFMT != sIFREG {
			continue // metadata comes from the header; symlink targets too
		}
		if e.filesize != sizes[i] {
			return fmt.Errorf("payload: %s: archive says %d bytes, header %d", f.path, e.filesize, sizes[i])
		}
		if sizes[i] == 0 {
			continue
		}
		data, err := c.readData()
		if err != nil {
			return fmt.Errorf("payload: %s: %w", f.path, err)
		}
		hh := newHash()
		hh.Write(data)
		if got := hex.EncodeToString(hh.Sum(nil)); f.digest != "" && got != f.digest {
			return fmt.Errorf("payload: %s: digest mismatch: header %s, content %s", f.path, f.digest, got)
		}
		f.data = data
		f.sum = sha256.Sum256(data)
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
		if f.mode&sIFMT == sIFREG && f.ino != 0 && f.flags&fileGhost == 0 {
			j := last[[2]uint32{f.dev, f.ino}]
			if j != i {
				f.data, f.sum = d.files[j].data, d.files[j].sum
			}
		}
	}
	for i := range d.files {
		f := &d.files[i]
		if f.mode&sIFMT == sIFREG && f.flags&fileGhost == 0 && int64(len(f.data)) != f.size {
			return fmt.Errorf("payload: %s: got %d bytes, header says %d", f.path, len(f.data), f.size)
		}
	}
	return nil
}
