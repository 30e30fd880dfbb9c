package ldso

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
)

// DefaultGenerator is the generator string Cache writes when
// CacheOptions.Generator is empty. glibc writes "ldconfig (<PKGVERSION>)
// release version <VERSION>" there; only that string (its bytes at the end
// of the file and the 4-byte size of the generator section in the
// extension directory) differs from the real tool's output.
const DefaultGenerator = "vicroot ldso (glibc 2.36 ldconfig format)"

// DebianSystemDirs returns the directories Debian 12's ldconfig always adds
// after ld.so.conf (glibc's SLIBDIR and LIBDIR plus Debian's /lib and
// /usr/lib, as `ldconfig -v` reports them with "(from <builtin>:0)").
func DebianSystemDirs() []string {
	return []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"}
}

// CacheOptions tune Cache.
type CacheOptions struct {
	// ConfigFile is the configuration read first; "" means /etc/ld.so.conf.
	ConfigFile string
	// Generator replaces DefaultGenerator. Passing the exact string of a
	// glibc build makes the output byte-identical to that build's.
	Generator string
	// SystemDirs replaces DebianSystemDirs() when non-nil.
	SystemDirs []string
	// Logger receives the warnings ldconfig would print; nil discards them.
	Logger *slog.Logger
}

// Link is a change ldconfig makes to the tree's symlinks. Cache never
// changes the tree; the caller applies these in order.
type Link struct {
	// Path is the absolute path of the link in the tree (the directory as
	// configured, not canonicalised, as ldconfig names it).
	Path string
	// Target is the new link's target, a file name in the same directory.
	// It is "" when Path is a stale symlink (its target is missing) that
	// ldconfig removes.
	Target string
	// Replace is set when a symlink already at Path must be removed first.
	Replace bool
}

type isaError struct {
	path  string
	level uint32
}

func (e *isaError) Error() string {
	return fmt.Sprintf("ldso: %s: ISA level is too high (%d > %d)", e.path, e.level, isaLevelMask)
}

// dirEntry is one directory ldconfig scans.
type dirEntry struct {
	path   string // as configured, without trailing slashes
	canon  string // identity (ldconfig compares st_dev/st_ino)
	flag   int32
	hwcaps string // glibc-hwcaps subdirectory name, "" otherwise
}

// ldconfig is one run over a tree.
type ldconfig struct {
	t     tree
	log   *slog.Logger
	dirs  []*dirEntry
	cache cacheBuilder
	links []Link
	confs int // configuration files read so far
	// removed are the stale links the scan already removed (by Path).
	removed map[string]bool
}

// Cache computes what Debian 12's `ldconfig -r DIR` (glibc 2.36, run as root,
// so chrooted into DIR) would write to DIR/etc/ld.so.cache for the tree fsys,
// and the soname links it would create. The result has the new format only
// ("glibc-ld.so.cache1.1" with its extension directory), as 2.36 writes by
// default. The auxiliary cache (/var/cache/ldconfig/aux-cache) is neither
// read nor written: a fresh tree has none.
func Cache(ctx context.Context, fsys fs.FS, opts CacheOptions) ([]byte, []Link, error) {
	lc, err := scan(ctx, fsys, opts)
	if err != nil {
		return nil, nil, err
	}
	gen := opts.Generator
	if gen == "" {
		gen = DefaultGenerator
	}
	b, err := lc.cache.bytes(gen)
	if err != nil {
		return nil, nil, err
	}
	return b, lc.links, nil
}

// scan runs ldconfig's directory walk and fills the cache builder.
func scan(ctx context.Context, fsys fs.FS, opts CacheOptions) (*ldconfig, error) {
	t, err := newTree(fsys)
	if err != nil {
		return nil, err
	}
	lc := &ldconfig{t: t, log: opts.Logger}
	if lc.log == nil {
		lc.log = slog.New(slog.DiscardHandler)
	}
	conf := opts.ConfigFile
	if conf == "" {
		conf = "/etc/ld.so.conf"
	}
	if err := lc.parseConf(ctx, conf, 0); err != nil {
		return nil, err
	}
	sys := opts.SystemDirs
	if sys == nil {
		sys = DebianSystemDirs()
	}
	for _, d := range sys {
		lc.addDir(d, "<builtin>", 0)
	}
	// The list grows while it is walked: legacy hwcap subdirectories are
	// appended as they are found.
	for i := 0; i < len(lc.dirs); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := lc.searchDir(lc.dirs[i]); err != nil {
			return nil, err
		}
	}
	return lc, nil
}

// maxIncludeDepth bounds include recursion (glibc has no bound: a loop there
// recurses until it runs out of file descriptors).
const maxIncludeDepth = 16

// maxConfFiles bounds the configuration files read in one run, so that
// self-including files with several patterns cannot explode.
const maxConfFiles = 4096

// parseConf reads one configuration file as parse_conf does.
func (lc *ldconfig) parseConf(ctx context.Context, name string, depth int) error {
	if depth > maxIncludeDepth {
		// glibc recurses until fopen fails for lack of descriptors, warns and
		// goes on; the directories are the same, as duplicates are dropped.
		lc.log.Warn("include nesting too deep, file ignored", "file", name, "depth", depth)
		return nil
	}
	if lc.confs++; lc.confs > maxConfFiles {
		lc.log.Warn("too many configuration files, file ignored", "file", name)
		return nil
	}
	canon, fi, err := lc.t.canon(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		lc.log.Warn("ignoring configuration file that cannot be opened", "file", name, "err", err)
		return nil
	}
	if !fi.Mode().IsRegular() {
		// fopen succeeds on a directory but the first read fails.
		return nil
	}
	data, err := fs.ReadFile(lc.t.fsys, rel(canon))
	if err != nil {
		return fmt.Errorf("ldso: reading %s: %w", name, err)
	}
	// Lines split on '\n' only: like getline, a '\r' stays part of the line.
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, raw := range lines {
		if err := ctx.Err(); err != nil {
			return err
		}
		lineno := i + 1
		line := string(raw)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		cp := strings.TrimLeft(line, " \t\n\v\f\r")
		if cp == "" {
			continue
		}
		if strings.HasPrefix(cp, "include") && len(cp) > 7 && (cp[7] == ' ' || cp[7] == '\t') {
			for _, pat := range strings.FieldsFunc(cp[8:], func(r rune) bool { return r == ' ' || r == '\t' }) {
				if err := lc.parseInclude(ctx, name, pat, depth); err != nil {
					return err
				}
			}
			continue
		}
		if len(cp) > 5 && strings.EqualFold(cp[:5], "hwcap") && (cp[5] == ' ' || cp[5] == '\t') {
			lc.log.Warn("hwcap directive ignored", "file", name, "line", lineno)
			continue
		}
		lc.addDir(cp, name, lineno)
	}
	return nil
}

// parseInclude expands one include pattern (relative patterns are relative
// to the including file's directory) and reads each match in sorted order.
func (lc *ldconfig) parseInclude(ctx context.Context, from, pattern string, depth int) error {
	if !strings.HasPrefix(pattern, "/") && strings.Contains(from, "/") {
		pattern = path.Dir(from) + "/" + pattern
	}
	matches, err := lc.glob(pattern)
	if err != nil {
		return fmt.Errorf("ldso: %s: include %s: %w", from, pattern, err)
	}
	for _, m := range matches {
		if err := lc.parseConf(ctx, m, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// glob matches pattern in the tree as glob(3) with no flags: components
// with wildcards are matched against directory entries (a leading dot only
// by a pattern starting with one), results sorted bytewise.
func (lc *ldconfig) glob(pattern string) ([]string, error) {
	comps := strings.Split(pattern, "/")
	cur := []string{"/"}
	if !strings.HasPrefix(pattern, "/") {
		cur = []string{""}
	}
	for i, c := range comps {
		if c == "" {
			continue
		}
		last := i == len(comps)-1
		var next []string
		for _, base := range cur {
			if !hasMeta(c) {
				p := joinGlob(base, c)
				if last {
					if _, _, err := lc.t.canon(p); err != nil {
						if _, err := lc.t.resolve(p, false); err != nil {
							continue
						}
					}
				}
				next = append(next, p)
				continue
			}
			// fnmatch negates a bracket with '!', path.Match with '^'.
			c = strings.ReplaceAll(c, "[!", "[^")
			if _, err := path.Match(c, ""); err != nil {
				continue // glob(3) takes a malformed bracket literally: no match here
			}
			dir := base
			if dir == "" {
				dir = "/"
			}
			canon, fi, err := lc.t.canon(dir)
			if err != nil || !fi.IsDir() {
				continue
			}
			ents, err := lc.t.readDir(canon)
			if err != nil {
				continue
			}
			for _, e := range ents {
				n := e.Name()
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(c, ".") {
					continue
				}
				if ok, _ := path.Match(c, n); ok {
					next = append(next, joinGlob(base, n))
				}
			}
		}
		cur = next
	}
	sort.Strings(cur)
	return cur, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func joinGlob(base, c string) string {
	switch base {
	case "":
		return c
	case "/":
		return "/" + c
	}
	return base + "/" + c
}

var libTypes = map[string]int32{"libc4": flagLibc4, "libc5": flagELFLibc5, "libc6": flagELFLibc6, "glibc2": flagELFLibc6}

// addDir is add_dir_1: strip the optional "=type", trailing white space and
// slashes, require the directory to exist, skip duplicates (same directory
// reached by another name), then queue its glibc-hwcaps subdirectories.
func (lc *ldconfig) addDir(line, from string, lineno int) {
	p := line
	flag := int32(flagAny)
	if i := strings.IndexByte(p, '='); i >= 0 {
		typ := p[i+1:]
		p = p[:i]
		if f, ok := libTypes[typ]; ok {
			flag = f
		} else {
			lc.log.Warn("not a known library type", "type", typ, "file", from, "line", lineno)
		}
	}
	p = strings.TrimRight(p, " \t\n\v\f\r")
	p = strings.TrimRight(p, "/")
	if p == "" {
		return
	}
	canon, _, err := lc.t.canon(p)
	if err != nil {
		lc.log.Debug("cannot stat directory", "dir", p, "err", err)
		return
	}
	e := &dirEntry{path: p, canon: canon, flag: flag}
	if lc.addSingle(e) {
		lc.addHwcapsSubdirs(e, canon)
	}
}

// addSingle appends e unless its directory is already listed, in which case
// the listed entry takes e's flag ("use the newer information").
func (lc *ldconfig) addSingle(e *dirEntry) bool {
	for _, d := range lc.dirs {
		if d.canon == e.canon {
			d.flag = e.flag
			return false
		}
	}
	lc.dirs = append(lc.dirs, e)
	return true
}

func (lc *ldconfig) addHwcapsSubdirs(e *dirEntry, canon string) {
	hc, fi, err := lc.t.canon(canon + "/glibc-hwcaps")
	if err != nil || !fi.IsDir() {
		return
	}
	ents, err := lc.t.readDir(hc)
	if err != nil {
		return
	}
	for _, de := range ents {
		n := de.Name()
		if strings.HasPrefix(n, ".") || de.Type().IsRegular() || strings.Contains(n, ":") {
			continue
		}
		c, fi, err := lc.t.canon(hc + "/" + n)
		if err != nil || !fi.IsDir() {
			continue
		}
		lc.cache.addHwcapsName(n)
		lc.addSingle(&dirEntry{path: e.path + "/glibc-hwcaps/" + n, canon: c, flag: e.flag, hwcaps: n})
	}
}

// x86 hwcap and platform names as ldconfig (which handles both i386 and
// x86-64 libraries) knows them, with their bit numbers.
var (
	x86Hwcaps    = map[string]uint{"sse2": 0, "x86_64": 1, "avx512_1": 2}
	x86Platforms = map[string]uint{"i586": 48, "i686": 49, "haswell": 50, "xeon_phi": 51}
)

const tlsHwcapBit = 63

func isHwcapPlatform(name string) bool {
	if _, ok := x86Hwcaps[name]; ok {
		return true
	}
	if _, ok := x86Platforms[name]; ok {
		return true
	}
	return name == "tls"
}

// pathHwcap is path_hwcap: the hwcap bits of the trailing hwcap-named
// components of a directory path.
func pathHwcap(p string) uint64 {
	var hw uint64
	for {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			break
		}
		c := p[i+1:]
		var h uint
		if b, ok := x86Hwcaps[c]; ok {
			h = b
		} else if b, ok := x86Platforms[c]; ok {
			h = b
		} else if c == "tls" {
			h = tlsHwcapBit
		} else {
			break
		}
		hw += 1 << h
		p = p[:i]
	}
	return hw
}

// isDSO is _dl_is_dso: lib*.so*, ld-*.so*, ld.so.*, ld64.so.*.
func isDSO(name string) bool {
	return ((strings.HasPrefix(name, "lib") || strings.HasPrefix(name, "ld-")) && strings.Contains(name, ".so")) ||
		strings.HasPrefix(name, "ld.so.") || strings.HasPrefix(name, "ld64.so.")
}

type dlib struct {
	name, soname string
	flag         int32
	isLink       bool
	isa          uint32
}

// searchDir is search_dir: find the libraries of one directory, keep the
// best file per soname, queue hwcap subdirectories, add cache entries and
// plan the soname links.
func (lc *ldconfig) searchDir(e *dirEntry) error {
	var hwcap uint64
	if e.hwcaps == "" {
		hwcap = pathHwcap(e.path)
	}
	ents, err := lc.t.readDir(e.canon)
	if err != nil {
		lc.log.Debug("cannot open directory", "dir", e.path, "err", err)
		return nil
	}
	var dlibs []*dlib // newest first, as ldconfig prepends
	for _, de := range ents {
		name := de.Name()
		typ := de.Type()
		isReg := typ.IsRegular()
		isLinkType := typ&fs.ModeSymlink != 0
		if !isReg && !isLinkType && !typ.IsDir() {
			continue
		}
		if !isDSO(name) && (isReg || (e.hwcaps == "" && !isHwcapPlatform(name))) {
			continue
		}
		if strings.HasSuffix(name, ".#prelink#") || (len(name) >= len(".#prelink#.XXXXXX") && strings.HasPrefix(name[len(name)-len(".#prelink#.XXXXXX"):], ".#prelink#.")) {
			continue
		}
		fileName := e.path + "/" + name
		realName := e.canon + "/" + name
		var target string
		var tinfo fs.FileInfo
		if isLinkType {
			c, fi, err := lc.t.canon(realName)
			if err != nil {
				if strings.Contains(name, ".so.") {
					lc.links = append(lc.links, Link{Path: fileName})
					if lc.removed == nil {
						lc.removed = map[string]bool{}
					}
					lc.removed[fileName] = true
				}
				continue
			}
			target, tinfo = c, fi
		} else {
			target = realName
			fi, err := de.Info()
			if err != nil {
				continue
			}
			tinfo = fi
		}
		isDir := tinfo.IsDir()
		if e.hwcaps == "" && isDir && isHwcapPlatform(name) {
			lc.addSingle(&dirEntry{path: fileName, canon: target, flag: e.flag})
			continue
		}
		if !isReg && !isLinkType {
			continue
		}
		if !tinfo.Mode().IsRegular() {
			continue
		}
		flag, isa, soname, ok, err := lc.processFile(fileName, target, name, tinfo.Size())
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if soname == "" {
			soname = implicitSoname(name, flag)
		}
		isLink := isLinkType
		if isLink && name != soname {
			if !strings.HasSuffix(name, ".so") || !strings.HasPrefix(soname, name) {
				isLink = false
			}
		}
		if isLink {
			soname = name
		}
		if flag == flagELF && (e.flag == flagELFLibc5 || e.flag == flagELFLibc6) {
			flag = e.flag
		}
		var found *dlib
		for _, d := range dlibs {
			if d.soname == soname {
				found = d
				break
			}
		}
		if found == nil {
			dlibs = append([]*dlib{{name: name, soname: soname, flag: flag, isLink: isLink, isa: isa}}, dlibs...)
			continue
		}
		if (!isLink && found.isLink) || (isLink == found.isLink && libcmp(found.name, name) < 0) {
			if found.flag != flag {
				switch {
				case found.flag == flagELF && (flag == flagELFLibc5 || flag == flagELFLibc6):
					found.flag = flag
				case (found.flag == flagELFLibc5 || found.flag == flagELFLibc6) && flag == flagELF:
					found.flag = flag
				default:
					lc.log.Warn("libraries have same soname but different type", "lib1", found.name, "lib2", name, "dir", e.path)
				}
			}
			found.name, found.isLink, found.isa = name, isLink, isa
		}
	}
	for _, d := range dlibs {
		filename := d.soname
		if e.hwcaps == "" {
			if !d.isLink {
				lc.createLink(e, d.name, d.soname)
			}
		} else {
			filename = d.name
		}
		lc.cache.add(e.path, filename, d.soname, d.flag, d.isa, hwcap, e.hwcaps)
	}
	return nil
}

// createLink is create_links: plan dir/soname -> libname unless it already
// resolves to the same file or is something other than a symlink.
func (lc *ldconfig) createLink(e *dirEntry, libname, soname string) {
	soPath := e.canon + "/" + soname
	replace := false
	if soCanon, _, err := lc.t.canon(soPath); err == nil {
		libCanon, _, err := lc.t.canon(e.canon + "/" + libname)
		if err != nil {
			lc.log.Warn("cannot stat library", "path", e.path+"/"+libname)
			return
		}
		if libCanon == soCanon {
			return
		}
		if fi, err := lc.t.lstat(soPath); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			lc.log.Warn("not a symbolic link", "path", e.path+"/"+soname)
			return
		}
		replace = true
	} else if fi, err := lc.t.lstat(soPath); err == nil && fi.Mode()&fs.ModeSymlink != 0 && !lc.removed[e.path+"/"+soname] {
		replace = true // a stale symlink the scan left (its name has no ".so.")
	}
	lc.links = append(lc.links, Link{Path: e.path + "/" + soname, Target: libname, Replace: replace})
}

func implicitSoname(name string, flag int32) string {
	if flag&flagTypeMask != flagLibc4 {
		return name
	}
	if i := strings.Index(name, ".so."); i >= 0 {
		if j := strings.IndexByte(name[i+4:], '.'); j >= 0 {
			return name[:i+4+j]
		}
	}
	return name
}

// processFile is process_file plus the x86 process_elf_file: ok is false
// for files ldconfig skips (too small, not ELF, not a shared object, foreign
// machine, no dynamic string table).
func (lc *ldconfig) processFile(fileName, canon, name string, size int64) (flag int32, isa uint32, soname string, ok bool, err error) {
	if size < 64 {
		return 0, 0, "", false, nil
	}
	r, sz, closeFn, err := lc.t.open(canon)
	if err != nil {
		lc.log.Warn("input file not found", "file", fileName, "err", err)
		return 0, 0, "", false, nil
	}
	defer closeFn()
	var hdr [64]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return 0, 0, "", false, nil
	}
	if m := binary.LittleEndian.Uint16(hdr[:]); m == 0o413 || m == 0o314 {
		// An a.out library: no soname, the name up to the major number.
		return flagLibc4, 0, implicitSoname(name, flagLibc4), true, nil
	}
	if !bytes.Equal(hdr[:4], []byte(elf.ELFMAG)) {
		return 0, 0, "", false, nil
	}
	// e_type and e_machine are read as host (little-endian) shorts.
	if elf.Type(binary.LittleEndian.Uint16(hdr[16:])) != elf.ET_DYN {
		return 0, 0, "", false, nil
	}
	machine := elf.Machine(binary.LittleEndian.Uint16(hdr[18:]))
	class := elf.Class(hdr[elf.EI_CLASS])
	var fileFlag int32
	switch {
	case machine == elf.EM_X86_64 && class == elf.ELFCLASS64:
		fileFlag = flagX8664Lib64 | flagELFLibc6
	case machine == elf.EM_X86_64:
		fileFlag = flagX8664X32 | flagELFLibc6
	case machine == elf.EM_386 && class == elf.ELFCLASS32:
	default:
		lc.log.Warn("library for unknown machine", "file", fileName, "machine", machine)
		return 0, 0, "", false, nil
	}
	if class != elf.ELFCLASS32 && class != elf.ELFCLASS64 {
		return 0, 0, "", false, nil
	}
	f, err := readELF(fileName, r, sz)
	if err != nil {
		lc.log.Warn("skipping malformed ELF file", "file", fileName, "err", err)
		return 0, 0, "", false, nil
	}
	flag, isa, soname, ok = ldconfigELF(f)
	if ok && fileFlag != 0 {
		flag = fileFlag
	}
	return flag, isa, soname, ok, nil
}

var (
	knownInterpreters = []string{"/lib/ld-linux.so.2", "/libx32/ld-linux-x32.so.2", "/lib64/ld-linux-x86-64.so.2"}
	knownLibs         = []string{"libc.so.6", "libm.so.6"}
)

// ldconfigELF is readelflib.c's process_elf_file for one class.
func ldconfigELF(f *elfFile) (flag int32, isa uint32, soname string, ok bool) {
	flag = flagELF
	dynamic := false
	for _, p := range f.phdrs {
		switch p.typ {
		case elf.PT_DYNAMIC:
			dynamic = p.filesz != 0 || dynamic
		case elf.PT_INTERP:
			s, err := f.cstring(p.off, "PT_INTERP")
			if err != nil {
				return 0, 0, "", false
			}
			for _, k := range knownInterpreters {
				if s == k {
					flag = flagELFLibc6
				}
			}
		case elf.PT_GNU_PROPERTY:
			want := uint64(8)
			if f.class == elf.ELFCLASS32 {
				want = 4
			}
			if p.align == want {
				isa = isaLevelOf(f, p)
			}
		}
	}
	if !dynamic || f.strtab < 0 {
		return 0, 0, "", false
	}
	hasSoname := false
	for _, d := range f.dyn {
		if d.tag != elf.DT_NEEDED && d.tag != elf.DT_SONAME {
			continue
		}
		s, err := f.dynString(d)
		if err != nil {
			return 0, 0, "", false
		}
		if d.tag == elf.DT_NEEDED {
			if flag == flagELF {
				for _, k := range knownLibs {
					if s == k {
						flag = flagELFLibc6
						break
					}
				}
			}
		} else {
			soname, hasSoname = s, true
		}
		if hasSoname && flag != flagELF {
			return flag, isa, soname, true
		}
	}
	return flag, isa, soname, true
}

// isaLevelOf reads GNU_PROPERTY_X86_ISA_1_NEEDED from the first
// NT_GNU_PROPERTY_TYPE_0 note of segment p: the index of its highest bit.
func isaLevelOf(f *elfFile, p phdr) uint32 {
	const (
		ntGNUPropertyType0 = 5
		x86ISA1Needed      = 0xc0008002
	)
	if p.filesz > 1<<16 {
		return 0
	}
	buf := make([]byte, p.filesz)
	if f.read(buf, p.off, "PT_GNU_PROPERTY") != nil {
		return 0
	}
	word := uint64(8)
	if f.class == elf.ELFCLASS32 {
		word = 4
	}
	for off := uint64(0); off+12 < uint64(len(buf)); {
		namesz := uint64(f.order.Uint32(buf[off:]))
		descsz := uint64(f.order.Uint32(buf[off+4:]))
		typ := f.order.Uint32(buf[off+8:])
		if namesz == 4 && typ == ntGNUPropertyType0 && off+16 <= uint64(len(buf)) && string(buf[off+12:off+16]) == "GNU\x00" {
			if descsz < 8 || descsz%word != 0 {
				return 0
			}
			ptr := off + 16
			end := ptr + descsz
			if end > uint64(len(buf)) {
				end = uint64(len(buf)) // glibc trusts descsz; stay in bounds
			}
			var last uint32
			for end >= ptr+8 {
				t := f.order.Uint32(buf[ptr:])
				sz := uint64(f.order.Uint32(buf[ptr+4:]))
				if t < last {
					return 0
				}
				ptr += 8
				if ptr+sz > end {
					return 0
				}
				last = t
				if t > x86ISA1Needed {
					return 0
				}
				if t == x86ISA1Needed {
					if sz == 4 {
						v := f.order.Uint32(buf[ptr:])
						if v != 0 {
							lvl := uint32(0)
							for v>>1 != 0 {
								v >>= 1
								lvl++
							}
							return lvl
						}
					}
					return 0
				}
				ptr += alignUp(sz, word)
			}
			return 0
		}
		off += alignUp(alignUp(12+namesz, p.align)+descsz, p.align)
	}
	return 0
}
