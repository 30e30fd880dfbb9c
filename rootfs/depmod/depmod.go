package depmod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/vicroot/vicroot/internal/decompress"
)

// File is one output of [Generate]: write Data to lib/modules/KVER/Name,
// replacing any previous file, with mode 0644 and owner root:root as depmod
// creates them (their time is the build's, not depmod's clock).
type File struct {
	Name string
	Data []byte
}

// ErrCycle is returned (wrapped) when modules depend on each other in a
// cycle; depmod then fails and writes nothing, and so does Generate.
var ErrCycle = errors.New("dependency cycle")

// mod is one module as depmod keeps it (struct mod in depmod.c).
type mod struct {
	path       string // path in the tree, for errors
	relpath    string // path relative to lib/modules/KVER
	uncrelpath string // relpath without the compression suffix
	name       string // module name from the file name ('-' -> '_')
	*Module
	idx      int    // index in the sorted module array (the index priority)
	sortIdx  int    // modules.order line, or after all of them
	deps     []*mod // direct dependencies, insertion order then sorted
	users    int    // how many modules depend on this one
	depSort  int    // topological sort index
	depsLine string // "relpath: dep dep ..." computed once
}

// Generate computes the files `depmod -b ROOT KVER` writes for the tree
// fsys (rooted at ROOT): modules.dep, modules.dep.bin, modules.alias,
// modules.alias.bin, modules.softdep, modules.symbols, modules.symbols.bin,
// modules.builtin.bin, modules.builtin.alias.bin (both empty when
// modules.builtin or modules.builtin.modinfo is missing, as depmod leaves
// them) and modules.devname, in that order, byte-identical to Debian 12's
// kmod 30.
//
// Modules are the files ending in .ko, .ko.xz or .ko.zst under
// lib/modules/KVER (following symbolic links, skipping directories named
// build and source). A module that cannot be read is an error naming it
// (depmod logs it and lists the module without dependencies), as is a
// dependency cycle (depmod fails).
func Generate(ctx context.Context, fsys fs.FS, kver string) ([]File, error) {
	if err := checkKver(kver); err != nil {
		return nil, err
	}
	dir := path.Join("lib/modules", kver)
	mods, err := findModules(ctx, fsys, dir)
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		m.path = path.Join(dir, m.relpath)
	}
	if err := loadModules(ctx, fsys, mods); err != nil {
		return nil, err
	}

	// depmod_modules_build_array: the array starts in hash-table order.
	sortHashOrder(mods, func(m *mod) string { return m.name }, modulesBuckets)
	order, err := readOptional(fsys, path.Join(dir, "modules.order"))
	if err != nil {
		return nil, err
	}
	if order != nil {
		sortByOrder(mods, order)
	}
	for i, m := range mods {
		m.idx = i
	}

	syms, err := resolve(mods)
	if err != nil {
		return nil, err
	}

	files := []File{
		{"modules.dep", outputDeps(mods)},
	}
	depBin, err := outputDepsBin(mods)
	if err != nil {
		return nil, err
	}
	files = append(files, File{"modules.dep.bin", depBin})
	files = append(files, File{"modules.alias", outputAliases(mods)})
	aliasBin, err := outputAliasesBin(mods)
	if err != nil {
		return nil, err
	}
	files = append(files, File{"modules.alias.bin", aliasBin})
	files = append(files, File{"modules.softdep", outputSoftdeps(mods)})
	files = append(files, File{"modules.symbols", outputSymbols(syms)})
	symBin, err := outputSymbolsBin(syms)
	if err != nil {
		return nil, err
	}
	files = append(files, File{"modules.symbols.bin", symBin})
	// Without their input, depmod still writes these two, empty: it creates
	// each output file before its writer finds the input missing.
	builtinBin, builtinAliasBin := []byte{}, []byte{}
	if b, err := readOptional(fsys, path.Join(dir, "modules.builtin")); err != nil {
		return nil, err
	} else if b != nil {
		if builtinBin, err = outputBuiltinBin(b); err != nil {
			return nil, fmt.Errorf("depmod: %s/modules.builtin: %w", dir, err)
		}
	}
	if b, err := readOptional(fsys, path.Join(dir, "modules.builtin.modinfo")); err != nil {
		return nil, err
	} else if b != nil {
		if builtinAliasBin, err = outputBuiltinAliasBin(b); err != nil {
			return nil, fmt.Errorf("depmod: %s/modules.builtin.modinfo: %w", dir, err)
		}
	}
	files = append(files, File{"modules.builtin.bin", builtinBin}, File{"modules.builtin.alias.bin", builtinAliasBin})
	files = append(files, File{"modules.devname", outputDevname(mods)})
	return files, nil
}

func readOptional(fsys fs.FS, name string) ([]byte, error) {
	b, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("depmod: %w", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// moduleExts are the names Debian's kmod 30 (+XZ +ZSTD -ZLIB) takes for
// modules; a .ko.gz is not a module to it. Decompress first.
var moduleExts = []string{".ko", ".ko.xz", ".ko.zst"}

// modname is libkmod's path_to_modname: the base name up to its first
// '.', with '-' turned into '_'.
func modname(p string) string {
	base := p[strings.LastIndexByte(p, '/')+1:]
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// maxDepth bounds directory recursion; depmod follows symbolic links to
// directories too, and a link loop must end in an error, not a hang.
const maxDepth = 64

// findModules walks dir as depmod_modules_search does. Where two files
// give one module name, depmod's default configuration ("search updates")
// decides: a file under updates/ replaces an earlier one, otherwise the
// first one found stays (in sorted order here, readdir order for depmod).
func findModules(ctx context.Context, fsys fs.FS, dir string) ([]*mod, error) {
	byName := map[string]*mod{}
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if depth > maxDepth {
			return fmt.Errorf("depmod: %s/%s: directories nested more than %d deep (symbolic link loop?)", dir, rel, maxDepth)
		}
		full := path.Join(dir, rel)
		ents, err := fs.ReadDir(fsys, full)
		if err != nil {
			return fmt.Errorf("depmod: %w", err)
		}
		for _, e := range ents {
			name := e.Name()
			if name == "build" || name == "source" || name == "." || name == ".." {
				continue
			}
			r := path.Join(rel, name)
			isDir, isReg := e.IsDir(), e.Type().IsRegular()
			if !isDir && !isReg {
				// depmod stats (following links) what readdir does not type.
				st, err := fs.Stat(fsys, path.Join(dir, r))
				if err != nil {
					continue // depmod logs and goes on
				}
				isDir, isReg = st.IsDir(), st.Mode().IsRegular()
			}
			switch {
			case isDir:
				if err := walk(r, depth+1); err != nil {
					return err
				}
			case isReg:
				addModule(byName, r)
			}
		}
		return nil
	}
	if err := walk(".", 0); err != nil {
		return nil, err
	}
	mods := make([]*mod, 0, len(byName))
	for _, m := range byName {
		mods = append(mods, m)
	}
	return mods, nil
}

func addModule(byName map[string]*mod, rel string) {
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	ok := false
	for _, ext := range moduleExts {
		if len(base) > len(ext) && strings.HasSuffix(base, ext) {
			ok = true
		}
	}
	if !ok {
		return
	}
	name := modname(rel)
	if old, dup := byName[name]; dup {
		newUpd := strings.HasPrefix(rel, "updates/")
		oldUpd := strings.HasPrefix(old.relpath, "updates/")
		// depmod_module_is_higher_priority with only "search updates":
		// the new path's priority is checked before the old one's.
		newPrio, oldPrio := -1, -1
		if newUpd {
			newPrio = 0
		} else if oldUpd {
			oldPrio = 0
		}
		if newPrio <= oldPrio {
			return
		}
	}
	// uncrelpath: the directory, then as many bytes of the file name as
	// the module name plus ".ko" (depmod_module_add).
	dirLen := strings.LastIndexByte(rel, '/') + 1
	n := min(len(rel), dirLen+len(name)+len(".ko"))
	byName[name] = &mod{relpath: rel, uncrelpath: rel[:n], name: name}
}

// loadModules reads and parses every module, in parallel; the result does
// not depend on the order they finish in.
func loadModules(ctx context.Context, fsys fs.FS, mods []*mod) error {
	workers := min(runtime.GOMAXPROCS(0), len(mods))
	jobs := make(chan *mod)
	errs := make([]error, len(mods))
	pos := make(map[*mod]int, len(mods))
	for i, m := range mods {
		pos[m] = i
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				errs[pos[m]] = loadModule(fsys, m)
			}
		}()
	}
	var ctxErr error
	for _, m := range mods {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	if ctxErr != nil {
		return ctxErr
	}
	// Report the first failure in path order, whatever finished first.
	var first error
	firstPath := ""
	for i, err := range errs {
		if err != nil && (first == nil || mods[i].relpath < firstPath) {
			first, firstPath = err, mods[i].relpath
		}
	}
	return first
}

// loadModule reads one module. When the tree's files offer io.ReaderAt
// (os.DirFS and in-memory trees do), an uncompressed module is parsed in
// place, reading only its headers and the sections depmod needs.
func loadModule(fsys fs.FS, m *mod) error {
	f, err := fsys.Open(m.path)
	if err != nil {
		return fmt.Errorf("depmod: %w", err)
	}
	defer f.Close()
	if ra, ok := f.(io.ReaderAt); ok {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("depmod: %w", err)
		}
		var head [decompress.MagicLen]byte
		n, err := ra.ReadAt(head[:], 0)
		if _, compressed := kmodCompressed(head[:]); n == len(head) && !compressed {
			m.Module, err = parseModule(m.path, io.NewSectionReader(ra, 0, st.Size()))
			return err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("depmod: module %s: %w", m.path, err)
		}
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("depmod: module %s: %w", m.path, err)
	}
	data, err := moduleBytes(m.path, raw)
	if err != nil {
		return err
	}
	m.Module, err = ParseModule(m.path, data)
	return err
}

// sortByOrder is depmod_modules_sort: modules named in modules.order come
// first, in its order (a later line wins for a module named twice); the
// others keep their order. A file whose last line lacks its newline is
// "corrupted" to depmod, which then sorts nothing.
func sortByOrder(mods []*mod, order []byte) {
	lines := fgetsLines(order)
	for _, l := range lines {
		if l != "" && !strings.HasSuffix(l, "\n") {
			return
		}
	}
	byUnc := make(map[string]*mod, len(mods))
	for _, m := range mods {
		byUnc[m.uncrelpath] = m
		m.sortIdx = 1
	}
	total := len(lines) + 1
	for i, l := range lines {
		if l == "" {
			continue
		}
		if m, ok := byUnc[strings.TrimSuffix(l, "\n")]; ok {
			m.sortIdx = i + 1 - total
		}
	}
	// glibc's qsort is a merge sort here: stable.
	slices.SortStableFunc(mods, func(a, b *mod) int { return a.sortIdx - b.sortIdx })
}

// fgetsLines splits data as repeated fgets(buf, PATH_MAX) calls do: at
// newlines, and into chunks of at most PATH_MAX-1 bytes; each chunk is then
// seen through strlen (up to a NUL).
func fgetsLines(data []byte) []string {
	const bufMax = 4096 - 1
	var out []string
	for len(data) > 0 {
		n := len(data)
		if i := bytes.IndexByte(data[:min(n, bufMax)], '\n'); i >= 0 {
			n = i + 1
		} else {
			n = min(n, bufMax)
		}
		chunk := data[:n]
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			chunk = chunk[:i]
		}
		out = append(out, string(chunk))
		data = data[n:]
	}
	return out
}

// KernelVersions lists the directories under lib/modules of fsys, sorted:
// the kernel versions Decompress and Generate can be asked about. VIC takes
// the only one (`basename rootfs/lib/modules/*`).
func KernelVersions(fsys fs.FS) ([]string, error) {
	ents, err := fs.ReadDir(fsys, "lib/modules")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("depmod: %w", err)
	}
	var out []string
	for _, e := range ents {
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if st, err := fs.Stat(fsys, path.Join("lib/modules", e.Name())); err == nil {
				isDir = st.IsDir()
			}
		}
		if isDir {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
