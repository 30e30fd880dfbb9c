package rootfs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// RPMFile is one package file to install, already verified by the caller
// (signature, digests). Either R and Size are set, or Path is read.
type RPMFile struct {
	Path string
	R    io.ReaderAt
	Size int64
	// Key identifies the file's content (e.g. "sha256:<hex>" of the .rpm)
	// for InstallOptions.PayloadCache; "" disables the cache for it.
	Key string
}

func (f RPMFile) name() string {
	if f.Path != "" {
		return f.Path
	}
	return "<reader>"
}

// InstallOptions tune Install.
type InstallOptions struct {
	// Workers is how many packages are decompressed at once (default
	// GOMAXPROCS). The result does not depend on it: packages are applied
	// to the tree strictly in the given order.
	Workers int
	// Scriptlets, when set, emulates the effects of each package's %pre
	// and %post scriptlets (accounts) as rpm would run them around its
	// payload, and records every scriptlet in the report. When unset the
	// tree is what rpm --noscripts leaves.
	Scriptlets bool
	// PayloadCache, when set, is a directory where each package's
	// decompressed payload (the cpio archive) is kept by RPMFile.Key, so
	// that a later install skips decompression. Cached payloads are
	// checked like fresh ones (every file against the header's digest):
	// a damaged entry is removed and the package decoded afresh.
	PayloadCache string
}

// PackageRecord is the tree's file database entry of one installed package.
type PackageRecord struct {
	Name      string
	NEVRA     string
	BuildTime int64
	// Files are the canonical tree paths of the entries the package
	// installed (after resolving symlinked directories), in header order;
	// %ghost files are not included.
	Files      []string
	Scriptlets []Scriptlet
}

// Packages returns the installed packages in install order.
func (t *Tree) Packages() []PackageRecord {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]PackageRecord, 0, len(t.pkgOrder))
	for _, n := range t.pkgOrder {
		p := *t.pkgs[n]
		p.Files = append([]string(nil), p.Files...)
		out = append(out, p)
	}
	return out
}

// InstallRPM installs one package.
func (t *Tree) InstallRPM(ctx context.Context, f RPMFile, opts InstallOptions) (*PackageRecord, error) {
	recs, err := t.Install(ctx, []RPMFile{f}, opts)
	if err != nil {
		return nil, err
	}
	return &recs[0], nil
}

type decodeResult struct {
	d   *decodedRPM
	err error
}

// Install installs packages in the given order (the plan's). Payloads are
// decompressed in parallel, a bounded window ahead of the package being
// applied; each package is applied to the tree only after all before it.
func (t *Tree) Install(ctx context.Context, files []RPMFile, opts InstallOptions) ([]PackageRecord, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan decodeResult, len(files))
	for i := range results {
		results[i] = make(chan decodeResult, 1)
	}
	// window bounds the decoded packages held in memory.
	window := make(chan struct{}, workers+1)
	go func() {
		for i, f := range files {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				for j := i; j < len(files); j++ {
					results[j] <- decodeResult{err: ctx.Err()}
				}
				return
			}
			go func() {
				d, err := decodeFile(f, opts.PayloadCache)
				results[i] <- decodeResult{d, err}
			}()
		}
	}()
	var recs []PackageRecord
	for i := range files {
		var r decodeResult
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return recs, ctx.Err()
		}
		if r.err != nil {
			return recs, r.err
		}
		rec, err := t.apply(r.d, opts)
		<-window
		if err != nil {
			return recs, err
		}
		recs = append(recs, *rec)
	}
	return recs, nil
}

func decodeFile(f RPMFile, cacheDir string) (*decodedRPM, error) {
	cache := ""
	if cacheDir != "" && f.Key != "" {
		cache = filepath.Join(cacheDir, strings.ReplaceAll(f.Key, ":", "-")+".cpio")
	}
	if f.R != nil {
		return decodeRPM(f.R, f.Size, f.name(), cache)
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	return decodeRPM(fh, st.Size(), f.Path, cache)
}

// idMap maps user and group names to ids from the tree's own /etc/passwd
// and /etc/group, as rpm does inside the install root.
type idMap struct {
	users, groups map[string]uint32
}

func (t *Tree) loadIDs() idMap {
	m := idMap{users: map[string]uint32{"root": 0}, groups: map[string]uint32{"root": 0}}
	for _, x := range []struct {
		file string
		into map[string]uint32
	}{{"etc/passwd", m.users}, {"etc/group", m.groups}} {
		_, _, n, err := t.lookup(x.file, true)
		if err != nil || n == nil || n.content == nil {
			continue
		}
		for _, line := range strings.Split(string(n.content.data), "\n") {
			f := strings.Split(line, ":")
			if len(f) < 3 || f[0] == "" {
				continue
			}
			id, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				continue
			}
			if _, dup := x.into[f[0]]; !dup {
				x.into[f[0]] = uint32(id)
			}
		}
	}
	return m
}

func rdevSplit(rdev uint32) (major, minor uint32) {
	return (rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)
}

// fileMode converts an RPM header mode to an fs.FileMode.
func fileMode(m uint32) (fs.FileMode, error) {
	mode := fsmeta.FileMode(m)
	if mode&fs.ModeIrregular != 0 {
		return 0, fmt.Errorf("file type %#o unknown", m&fsmeta.S_IFMT)
	}
	return mode, nil
}

// preferredColor is rpm's file color preference on x86_64: 64-bit ELF.
const preferredColor = 2

// apply puts one decoded package into the tree, as rpm's file state
// machine would, under the write lock.
func (t *Tree) apply(d *decodedRPM, opts InstallOptions) (*PackageRecord, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.pkgs[d.name]; ok {
		return nil, fmt.Errorf("rootfs: %s: %s is already installed (erase it first)", d.nevra, old.NEVRA)
	}
	rep := t.pkgReport(d.nevra)
	if opts.Scriptlets {
		t.emulateScriptlets(d, rep, "pretrans", "pre")
	}
	ids := t.loadIDs()
	rec := &PackageRecord{Name: d.name, NEVRA: d.nevra, BuildTime: d.buildTime, Scriptlets: d.scripts}
	links := map[[2]uint32]*inode{}
	warned := map[string]bool{}
	warn := func(s string) {
		if !warned[s] {
			warned[s] = true
			rep.Warnings = append(rep.Warnings, s)
		}
	}
	for i := range d.files {
		f := &d.files[i]
		if f.flags&fileGhost != 0 {
			continue
		}
		p, err := t.applyFile(d, f, ids, links, warn)
		if err != nil {
			return nil, fmt.Errorf("rootfs: %s: %s: %w", d.nevra, f.path, err)
		}
		if p != "" {
			rec.Files = append(rec.Files, p)
			t.ownerAdd(p, d.name)
		}
	}
	t.pkgs[d.name] = rec
	t.pkgOrder = append(t.pkgOrder, d.name)
	if opts.Scriptlets {
		t.emulateScriptlets(d, rep, "post", "posttrans", "preun", "postun", "trigger", "filetrigger")
	}
	out := *rec
	out.Files = append([]string(nil), rec.Files...)
	return &out, nil
}

// applyFile installs one header entry and returns its canonical path
// ("" when skipped).
func (t *Tree) applyFile(d *decodedRPM, f *hdrFile, ids idMap, links map[[2]uint32]*inode, warn func(string)) (string, error) {
	mode, err := fileMode(f.mode)
	if err != nil {
		return "", err
	}
	if mode&fs.ModeSocket != 0 {
		warn(fmt.Sprintf("%s: socket not created", f.path))
		return "", nil
	}
	rel := f.path[1:]
	// Parents: created as rpm's fsmMkdirs does (0755, root) when missing,
	// through symlinked directories (/bin -> usr/bin).
	if dir := path.Dir(rel); dir != "." {
		if _, err := t.mkdirAll("install", dir, 0o755); err != nil {
			return "", err
		}
	}
	l, err := t.lookupPath(rel, false)
	if err != nil {
		return "", err
	}
	if l.n == nil && l.base == "." {
		return "", fmt.Errorf("resolves to a directory name")
	}
	uid, ok := ids.users[f.user]
	if !ok {
		warn(fmt.Sprintf("user %s does not exist - using root", f.user))
	}
	gid, ok := ids.groups[f.group]
	if !ok {
		warn(fmt.Sprintf("group %s does not exist - using root", f.group))
	}
	setMeta := func(n *inode) {
		n.mode = mode
		n.uid, n.gid = uid, gid
		n.mtime = time.Unix(int64(f.mtime), 0).UTC()
		n.caps = capsFromText(f.caps, warn, f.path)
	}
	ex := l.n
	if mode.IsDir() {
		switch {
		case ex == nil:
			n := t.newInode(mode)
			setMeta(n)
			n.pkg = d.nevra
			t.attach(l.dir, l.base, n)
		case ex.mode.IsDir():
			// Another package's directory must have the same mode and
			// owner (rpm reports a conflict otherwise); rpm then sets the
			// metadata again, which only changes the mtime.
			if ex.pkg != "" && ex.pkg != d.nevra && (ex.mode != mode || ex.uid != uid || ex.gid != gid) {
				return "", fmt.Errorf("directory conflicts with the one from package %s (%v %d:%d vs %v %d:%d)", ex.pkg, ex.mode, ex.uid, ex.gid, mode, uid, gid)
			}
			setMeta(ex)
			if ex.pkg == "" {
				ex.pkg = d.nevra
			}
		case ex.mode&fs.ModeSymlink != 0 && ex.pkg != "" && ex.pkg != d.nevra:
			return "", fmt.Errorf("directory conflicts with the symlink from package %s", ex.pkg)
		case ex.mode&fs.ModeSymlink != 0:
			// A symlink to a directory stands in for the directory (rpm
			// keeps it); the metadata goes to the directory it names.
			tl, err := t.lookupPath(l.path(), true)
			if err != nil || tl.n == nil || !tl.n.mode.IsDir() {
				return "", fmt.Errorf("directory would replace symlink %s, which does not name a directory", l.path())
			}
			setMeta(tl.n)
			return tl.path(), nil
		default:
			return "", fmt.Errorf("directory would replace a %s", typeName(ex.mode))
		}
		return l.path(), nil
	}
	if ex != nil {
		if ex.mode.IsDir() {
			return "", fmt.Errorf("%s would replace a directory", typeName(mode))
		}
		if ex.pkg != "" && ex.pkg != d.nevra {
			switch t.compareFile(ex, f, mode, uid, gid) {
			case sameFile:
				return l.path(), nil
			case keepOld:
				return l.path(), nil
			case conflict:
				return "", fmt.Errorf("file conflicts with the one from package %s", ex.pkg)
			}
		} else if ex.pkg == "" && f.flags&fileConfig != 0 && ex.mode.IsRegular() && !(ex.content != nil && ex.content.sum == f.sum) {
			// %config over a file no package owns: rpm keeps the old one
			// aside (noreplace: the new one goes to .rpmnew).
			if f.flags&fileNoReplace != 0 {
				warn(fmt.Sprintf("%s created as %s.rpmnew", f.path, f.path))
				l.base += ".rpmnew"
				ex = l.dir.kids[l.base]
			} else {
				warn(fmt.Sprintf("%s saved as %s.rpmorig", f.path, f.path))
				if old := l.dir.kids[l.base+".rpmorig"]; old != nil {
					delete(l.dir.kids, l.base+".rpmorig")
					t.unlinked(old)
				}
				l.dir.kids[l.base+".rpmorig"] = ex
				delete(l.dir.kids, l.base)
				ex = nil
			}
		}
		if ex != nil {
			if ex.mode.IsDir() {
				return "", fmt.Errorf("%s would replace a directory", typeName(mode))
			}
			delete(l.dir.kids, l.base)
			t.unlinked(ex)
		}
	}
	var n *inode
	key := [2]uint32{f.dev, f.ino}
	if mode.IsRegular() && f.ino != 0 {
		n = links[key]
	}
	if n == nil {
		n = t.newInode(mode)
		setMeta(n)
		n.pkg = d.nevra
		n.color = uint8(f.color)
		switch {
		case mode.IsRegular():
			n.content = t.putBlobSum(f.sum, f.data)
			if f.ino != 0 {
				links[key] = n
			}
		case mode&fs.ModeSymlink != 0:
			n.target = f.linkto
		case mode&fs.ModeDevice != 0:
			n.major, n.minor = rdevSplit(f.rdev)
		}
	}
	t.attach(l.dir, l.base, n)
	return l.path(), nil
}

type cmpResult int

const (
	sameFile cmpResult = iota
	replaceOld
	keepOld
	conflict
)

// compareFile decides between an entry another package installed and a
// new one at the same path, as rpm's rpmfilesCompare plus file colors.
func (t *Tree) compareFile(ex *inode, f *hdrFile, mode fs.FileMode, uid, gid uint32) cmpResult {
	same := ex.mode.Type() == mode.Type() && ex.uid == uid && ex.gid == gid
	if same && mode&fs.ModeSymlink == 0 && ex.mode != mode {
		same = false
	}
	if same {
		switch {
		case mode.IsRegular():
			same = ex.content != nil && ex.content.sum == f.sum
		case mode&fs.ModeSymlink != 0:
			same = ex.target == f.linkto
		case mode&fs.ModeDevice != 0:
			maj, min := rdevSplit(f.rdev)
			same = ex.major == maj && ex.minor == min
		}
	}
	if same {
		return sameFile
	}
	if ex.color != 0 && f.color != 0 && uint32(ex.color) != f.color {
		if f.color&preferredColor != 0 {
			return replaceOld
		}
		return keepOld
	}
	return conflict
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file"
}

// ownerAdd records that package name owns path.
func (t *Tree) ownerAdd(p, name string) {
	if t.owners == nil {
		t.owners = map[string][]string{}
	}
	for _, o := range t.owners[p] {
		if o == name {
			return
		}
	}
	t.owners[p] = append(t.owners[p], name)
}

// Erase removes an installed package: its files go unless another package
// also owns them; its directories go only when no other package owns them
// and they are empty.
func (t *Tree) Erase(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, ok := t.pkgs[name]
	if !ok {
		return fmt.Errorf("rootfs: erase %s: package is not installed", name)
	}
	paths := append([]string(nil), rec.Files...)
	// Deepest first, so directories are empty by the time they come up.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		owners := t.owners[p]
		kept := owners[:0]
		for _, o := range owners {
			if o != name {
				kept = append(kept, o)
			}
		}
		if len(kept) > 0 {
			t.owners[p] = kept
			continue
		}
		delete(t.owners, p)
		l, err := t.lookupPath(p, false)
		if err != nil || l.n == nil || l.base == "." {
			continue
		}
		if l.n.mode.IsDir() && len(l.n.kids) > 0 {
			continue
		}
		delete(l.dir.kids, l.base)
		t.unlinked(l.n)
	}
	delete(t.pkgs, name)
	for i, n := range t.pkgOrder {
		if n == name {
			t.pkgOrder = append(t.pkgOrder[:i], t.pkgOrder[i+1:]...)
			break
		}
	}
	return nil
}
