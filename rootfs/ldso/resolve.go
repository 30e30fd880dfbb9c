package ldso

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/internal/fspath"
)

// ErrNotFound is returned (wrapped, with the chain of objects that needed
// it) when a DT_NEEDED library cannot be found.
var ErrNotFound = errors.New("not found")

// Options tune Resolve.
type Options struct {
	// DefaultDirs are the loader's built-in directories, searched last. When
	// nil they are read out of the tree's loader (glibc's system_dirs in
	// ld.so's read-only data); Debian 12's are /lib/x86_64-linux-gnu/,
	// /usr/lib/x86_64-linux-gnu/, /lib/ and /usr/lib/.
	DefaultDirs []string
	// IgnoreCache skips the ld.so.cache step, as `ld.so --inhibit-cache`
	// does. Otherwise the cache is the one Cache computes for the tree (the
	// tree's ld.so.conf), so the tree should already carry Cache's links.
	IgnoreCache bool
	// CacheOptions configure that cache.
	CacheOptions CacheOptions
	// Platform replaces $PLATFORM; "" means "x86_64" for x86-64 objects and
	// "i686" for i386 ones. (The real loader uses AT_PLATFORM, which glibc
	// may raise to "haswell" or "xeon_phi" on capable CPUs.)
	Platform string
	// Lib replaces $LIB; "" means the first default directory without its
	// slashes ("lib/x86_64-linux-gnu" on Debian 12, as its ld.so reports).
	Lib string
	// Interp is the loader path used for a root without PT_INTERP (a shared
	// object, such as a dlopen'ed plugin, listed as `ld.so --list LIB` does);
	// "" means the PT_INTERP of the first root that has one.
	Interp string
}

// Closure is the set of files the roots need at run time.
type Closure struct {
	// Objects are sorted by Path; roots and the interpreter included.
	Objects []Object
}

// Object is one ELF file of the closure.
type Object struct {
	// Path is the file's canonical path in the tree (no symlink anywhere).
	Path string
	// Links are the other paths through which the object was reached (as
	// requested: a root, PT_INTERP, a search-path candidate, a cache entry)
	// and the symlinks met on the way as last component, sorted. Their base
	// names are the names the loader opens (libc.so.6,
	// ld-linux-x86-64.so.2).
	Links []string
	// Soname is DT_SONAME, Interp PT_INTERP, Needed the DT_NEEDED entries.
	Soname string
	Interp string
	Needed []string
	// Deps are the DT_NEEDED names resolved by searching, each with the path
	// the loader found it under (what `ld.so --list` prints after "=>").
	// Names satisfied by an already loaded object (the loader itself, a
	// library loaded under its soname) are listed too, with that object's
	// first name.
	Deps    []Dep
	Class   elf.Class
	Machine elf.Machine
	// Root is set for the objects given as roots.
	Root bool
}

// Dep is a resolved DT_NEEDED name.
type Dep struct {
	Name string
	Path string
}

// objState is what is known about one canonical file.
type objState struct {
	path    string
	f       *elfFile
	di      dynInfo
	interp  string
	links   map[string]bool
	deps    map[Dep]bool
	root    bool
	dynamic bool
	used    bool // loaded into some root's namespace (not merely inspected)
}

// linkMap is one object loaded into one root's namespace.
type linkMap struct {
	obj    *objState
	name   string   // l_name: the path it was opened under
	names  []string // names it matches (l_libname plus soname)
	loader *linkMap
	origin string
	isMain bool
}

type resolver struct {
	t        tree
	opts     Options
	objs     map[string]*objState
	cache    []*cacheEntry
	cacheOK  bool
	defaults []string
	lib      string
	// sysDirs holds each loader's compiled-in directories by its path:
	// every root reads them, and a loader is read only once.
	sysDirs map[string][]string
}

// Resolve computes the closure of roots (absolute paths in fsys) as the
// tree's own loader would load them, each root in its own process: PT_INTERP,
// then DT_NEEDED breadth first, each name searched in the loading object's
// DT_RPATH chain (only when it has no DT_RUNPATH), its DT_RUNPATH, the
// ld.so.cache and the default directories, with $ORIGIN, $LIB and $PLATFORM
// expanded and candidates of another ELF class or machine skipped.
// LD_LIBRARY_PATH, LD_PRELOAD and hwcap subdirectories play no part.
func Resolve(ctx context.Context, fsys fs.FS, roots []string, opts Options) (*Closure, error) {
	t, err := newTree(fsys)
	if err != nil {
		return nil, err
	}
	r := &resolver{t: t, opts: opts, objs: map[string]*objState{}}
	if !opts.IgnoreCache {
		lc, err := scan(ctx, fsys, opts.CacheOptions)
		if err != nil {
			return nil, err
		}
		r.cache, r.cacheOK = lc.cache.entries, true
	}
	interp := opts.Interp
	for _, root := range roots {
		if interp != "" {
			break
		}
		o, _, err := r.load(root)
		if err != nil {
			return nil, fmt.Errorf("ldso: root %s: %w", root, err)
		}
		interp = o.interp
	}
	if interp == "" && len(roots) > 0 {
		// Only shared objects: use the ABI's standard loader name.
		if o, _, err := r.load(roots[0]); err == nil {
			interp = abiInterp(o.f)
		}
	}
	for _, root := range roots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.resolveRoot(root, interp); err != nil {
			return nil, err
		}
	}
	c := &Closure{}
	for _, p := range sortedMapKeys(r.objs) {
		o := r.objs[p]
		if o.f == nil || !o.used {
			continue
		}
		obj := Object{Path: o.path, Soname: o.di.soname, Interp: o.interp, Needed: o.di.needed,
			Class: o.f.class, Machine: o.f.machine, Root: o.root}
		for l := range o.links {
			if l != o.path {
				obj.Links = append(obj.Links, l)
			}
		}
		sort.Strings(obj.Links)
		for d := range o.deps {
			obj.Deps = append(obj.Deps, d)
		}
		sort.Slice(obj.Deps, func(i, j int) bool {
			if obj.Deps[i].Name != obj.Deps[j].Name {
				return obj.Deps[i].Name < obj.Deps[j].Name
			}
			return obj.Deps[i].Path < obj.Deps[j].Path
		})
		c.Objects = append(c.Objects, obj)
	}
	return c, nil
}

func sortedMapKeys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// load resolves p in the tree and parses the ELF file it leads to (once per
// canonical path). It records p and the symlinks met as names of the file.
func (r *resolver) load(p string) (*objState, fspath.Resolved, error) {
	res, err := r.t.resolve(p, true)
	if err != nil {
		return nil, res, err
	}
	o := r.objs[res.Path]
	if o == nil {
		if !res.Info.Mode().IsRegular() {
			return nil, res, fmt.Errorf("ldso: %s: not a regular file", p)
		}
		ra, size, closeFn, err := r.t.open(res.Path)
		if err != nil {
			return nil, res, fmt.Errorf("ldso: %s: %w", p, err)
		}
		f, err := readELF(p, ra, size)
		if err == nil {
			o = &objState{path: res.Path, f: f, links: map[string]bool{}, deps: map[Dep]bool{}}
			o.dynamic = f.hasDynamic()
			if o.interp, err = f.interp(); err == nil {
				o.di, err = f.dynamicInfo()
			}
		}
		// The file is read through f later only for strings already
		// extracted; release it now.
		closeFn()
		if err != nil {
			return nil, res, fmt.Errorf("ldso: %w", err)
		}
		o.f.r = nil
		r.objs[res.Path] = o
	}
	return o, res, nil
}

func (r *resolver) note(o *objState, p string, res fspath.Resolved) {
	o.used = true
	o.links[p] = true
	for _, l := range res.Links {
		o.links[l] = true
	}
}

func (r *resolver) resolveRoot(root, interp string) error {
	if !strings.HasPrefix(root, "/") {
		return fmt.Errorf("ldso: root %q is not an absolute path", root)
	}
	o, res, err := r.load(root)
	if err != nil {
		return fmt.Errorf("ldso: root %s: %w", root, err)
	}
	o.root = true
	r.note(o, root, res)
	main := &linkMap{obj: o, name: root, names: []string{root}, origin: path.Dir(root), isMain: true}
	maps := []*linkMap{main}
	var rtld *linkMap
	if o.interp != "" {
		interp = o.interp
	}
	if !o.dynamic || (o.interp == "" && len(o.di.needed) == 0) {
		return nil // static (or static-pie): nothing else is loaded
	}
	if interp != "" {
		lo, ires, err := r.load(interp)
		if err != nil {
			return fmt.Errorf("ldso: %s: interpreter %s: %w", root, interp, err)
		}
		r.note(lo, interp, ires)
		if err := r.checkABI(lo, o); err != nil {
			return fmt.Errorf("ldso: %s: interpreter %s: %w", root, interp, err)
		}
		names := []string{interp}
		if lo.di.soname != "" {
			names = append(names, lo.di.soname)
		}
		rtld = &linkMap{obj: lo, name: interp, names: names, origin: path.Dir(interp)}
		maps = append(maps, rtld)
	}
	if err := r.setDefaults(interp, o); err != nil {
		return fmt.Errorf("ldso: %s: %w", root, err)
	}
	// Breadth first, as _dl_map_object_deps walks the list.
	for i := 0; i < len(maps); i++ {
		l := maps[i]
		if l == rtld {
			continue // the loader is in the namespace, not in the dependency walk
		}
		for _, name := range l.obj.di.needed {
			m, err := r.mapObject(l, name, main, &maps)
			if err != nil {
				return err
			}
			l.obj.deps[Dep{Name: name, Path: m.name}] = true
		}
	}
	return nil
}

// checkABI is open_verify's check that a candidate fits the main program.
func (r *resolver) checkABI(cand, main *objState) error {
	cf, mf := cand.f, main.f
	switch {
	case cf.class != mf.class:
		return fmt.Errorf("ELF class %v, want %v", cf.class, mf.class)
	case cf.order != mf.order:
		return fmt.Errorf("byte order %v, want %v", cf.order, mf.order)
	case cf.machine != mf.machine:
		return fmt.Errorf("machine %v, want %v", cf.machine, mf.machine)
	case cf.version != byte(elf.EV_CURRENT):
		return fmt.Errorf("ELF version %d", cf.version)
	case cf.osabi != elf.ELFOSABI_NONE && cf.osabi != elf.ELFOSABI_LINUX:
		return fmt.Errorf("OS ABI %v", cf.osabi)
	case cf.typ != elf.ET_DYN:
		return fmt.Errorf("type %v, want ET_DYN", cf.typ)
	}
	return nil
}

// mapObject is _dl_map_object for a DT_NEEDED name of loader.
func (r *resolver) mapObject(loader *linkMap, name string, main *linkMap, maps *[]*linkMap) (*linkMap, error) {
	for _, l := range *maps {
		for _, n := range l.names {
			if n == name {
				return l, nil
			}
		}
		if l.obj.di.soname == name {
			l.names = append(l.names, name)
			return l, nil
		}
	}
	var try func(p string) (*linkMap, bool, error)
	try = func(p string) (*linkMap, bool, error) {
		o, res, err := r.load(p)
		if err != nil {
			// A missing candidate is skipped; one that is not a readable ELF
			// file stops the search, as ld.so's "invalid ELF header" does.
			if errors.Is(err, fs.ErrNotExist) {
				return nil, false, nil
			}
			return nil, false, err
		}
		if r.checkABI(o, main.obj) != nil {
			return nil, false, nil
		}
		r.note(o, p, res)
		for _, l := range *maps {
			if l.obj == o { // the same file under another name
				l.names = append(l.names, name)
				return l, true, nil
			}
		}
		m := &linkMap{obj: o, name: p, names: []string{name}, loader: loader, origin: path.Dir(p)}
		if o.di.soname != "" && o.di.soname != name {
			m.names = append(m.names, o.di.soname)
		}
		*maps = append(*maps, m)
		return m, true, nil
	}
	if strings.Contains(name, "/") {
		p := r.expand(name, loader)
		if p != "" {
			if !strings.HasPrefix(p, "/") {
				p = "/" + p // the loader's working directory is taken as /
			}
			if m, ok, err := try(p); ok || err != nil {
				return m, err
			}
		}
		return nil, r.notFound(loader, name)
	}
	searchDirs := func(dirs []string) (*linkMap, bool, error) {
		for _, d := range dirs {
			if m, ok, err := try(d + name); ok || err != nil {
				return m, ok, err
			}
		}
		return nil, false, nil
	}
	if !loader.obj.di.hasRunPath {
		didMain := false
		for l := loader; l != nil; l = l.loader {
			if l.obj.di.hasRPath && !(l.isMain && l.obj.di.hasRunPath) {
				if m, ok, err := searchDirs(r.pathList(l.obj.di.rpath, l)); ok || err != nil {
					return m, err
				}
				didMain = didMain || l == main
			}
		}
		if !didMain && main.obj.di.hasRPath && !main.obj.di.hasRunPath {
			if m, ok, err := searchDirs(r.pathList(main.obj.di.rpath, main)); ok || err != nil {
				return m, err
			}
		}
	}
	if loader.obj.di.hasRunPath {
		if m, ok, err := searchDirs(r.pathList(loader.obj.di.runpath, loader)); ok || err != nil {
			return m, err
		}
	}
	nodeflib := loader.obj.di.flags1&elf.DF_1_NODEFLIB != 0
	if r.cacheOK {
		if p := r.cacheLookup(name, main.obj.f); p != "" {
			skip := false
			if nodeflib {
				for _, d := range r.defaults {
					if strings.HasPrefix(p, d) {
						skip = true
					}
				}
			}
			if !skip {
				if m, ok, err := try(p); ok || err != nil {
					return m, err
				}
			}
		}
	}
	if !nodeflib {
		if m, ok, err := searchDirs(r.defaults); ok || err != nil {
			return m, err
		}
	}
	return nil, r.notFound(loader, name)
}

func (r *resolver) notFound(loader *linkMap, name string) error {
	var chain []string
	for l := loader; l != nil; l = l.loader {
		chain = append([]string{l.name}, chain...)
	}
	chain = append(chain, name)
	return fmt.Errorf("ldso: %s: %w", strings.Join(chain, " -> "), ErrNotFound)
}

// cacheLookup is _dl_load_cache_lookup restricted to entries without hwcap
// bits: the first entry for name whose flags fit the program's ABI.
func (r *resolver) cacheLookup(name string, f *elfFile) string {
	var want, alt int32 = -1, -1
	switch {
	case f.machine == elf.EM_X86_64 && f.class == elf.ELFCLASS64:
		want = flagX8664Lib64 | flagELFLibc6
	case f.machine == elf.EM_X86_64:
		want = flagX8664X32 | flagELFLibc6
	case f.machine == elf.EM_386:
		want, alt = flagELFLibc6, flagELF
	default:
		return ""
	}
	best := ""
	for _, e := range r.cache {
		if libcmp(name, e.lib) != 0 || e.hwcap != 0 || e.hwcaps != "" {
			continue
		}
		if e.flags == want {
			return e.path
		}
		if e.flags == alt {
			best = e.path
		}
	}
	return best
}

// setDefaults fixes the default directories and $LIB for this root.
func (r *resolver) setDefaults(interp string, main *objState) error {
	dirs := r.opts.DefaultDirs
	if dirs == nil {
		if interp == "" {
			return fmt.Errorf("no PT_INTERP to read the default directories from; set Options.DefaultDirs")
		}
		lo, _, err := r.load(interp)
		if err != nil {
			return err
		}
		var ok bool
		if dirs, ok = r.sysDirs[lo.path]; !ok {
			ra, size, closeFn, err := r.t.open(lo.path)
			if err != nil {
				return err
			}
			dirs, err = loaderSystemDirs(ra, size, lo.f.class)
			closeFn()
			if err != nil {
				return fmt.Errorf("%s: %w", interp, err)
			}
			if r.sysDirs == nil {
				r.sysDirs = map[string][]string{}
			}
			r.sysDirs[lo.path] = dirs
		}
	}
	r.defaults = nil
	for _, d := range dirs {
		d = strings.TrimRight(d, "/") + "/"
		r.defaults = append(r.defaults, d)
	}
	r.lib = r.opts.Lib
	if r.lib == "" && len(r.defaults) > 0 {
		r.lib = strings.Trim(r.defaults[0], "/")
	}
	return nil
}

// pathList splits a DT_RPATH/DT_RUNPATH value as fillin_rpath does:
// DSTs expanded, empty elements dropped, one trailing slash, duplicates
// removed.
func (r *resolver) pathList(s string, l *linkMap) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range strings.Split(s, ":") {
		if e == "" {
			continue
		}
		e = r.expand(e, l)
		if e == "" {
			continue
		}
		if e != "/" {
			e = strings.TrimRight(e, "/")
			if e == "" {
				e = "/"
			}
		}
		if !strings.HasSuffix(e, "/") {
			e += "/"
		}
		if !strings.HasPrefix(e, "/") {
			e = "/" + e // relative entries are relative to the working directory, taken as /
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// expand substitutes $ORIGIN, $PLATFORM and $LIB (also in ${} form) as
// _dl_dst_substitute does; unknown $NAMEs stay as they are.
func (r *resolver) expand(s string, l *linkMap) string {
	if !strings.Contains(s, "$") {
		return s
	}
	platform := r.opts.Platform
	if platform == "" {
		platform = "x86_64"
		if l.obj.f.machine == elf.EM_386 {
			platform = "i686"
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		rest := s[i+1:]
		var n int
		var repl string
		if n = isDST(rest, "ORIGIN"); n != 0 {
			repl = l.origin
		} else if n = isDST(rest, "PLATFORM"); n != 0 {
			repl = platform
		} else if n = isDST(rest, "LIB"); n != 0 {
			repl = r.lib
		}
		if n == 0 {
			b.WriteByte('$')
			i++
			continue
		}
		b.WriteString(repl)
		i += 1 + n
	}
	return b.String()
}

// isDST is glibc's is_dst: the length of the DST named ref at the start of
// s (curly braces included), or 0.
func isDST(s, ref string) int {
	curly := false
	if strings.HasPrefix(s, "{") {
		curly = true
		s = s[1:]
	}
	if !strings.HasPrefix(s, ref) {
		return 0
	}
	next := byte(0)
	if len(s) > len(ref) {
		next = s[len(ref)]
	}
	if curly && next != '}' {
		return 0
	}
	if next >= 'A' && next <= 'Z' || next >= 'a' && next <= 'z' || next >= '0' && next <= '9' || next == '_' {
		return 0
	}
	if curly {
		return len(ref) + 2
	}
	return len(ref)
}

// abiInterp is the standard PT_INTERP of an object's ABI, "" if unknown.
func abiInterp(f *elfFile) string {
	switch {
	case f.machine == elf.EM_X86_64 && f.class == elf.ELFCLASS64:
		return "/lib64/ld-linux-x86-64.so.2"
	case f.machine == elf.EM_X86_64:
		return "/libx32/ld-linux-x32.so.2"
	case f.machine == elf.EM_386:
		return "/lib/ld-linux.so.2"
	case f.machine == elf.EM_AARCH64:
		return "/lib/ld-linux-aarch64.so.1"
	}
	return ""
}
