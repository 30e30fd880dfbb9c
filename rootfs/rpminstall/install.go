package rpminstall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vicroot/vicroot/internal/fileid"
	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/sysconf"
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
	// SpillDir is where the content of big files goes when there is no
	// payload cache to reference (default os.TempDir()): an unlinked
	// file, so the tree holds no more than inlineMax of a file in memory.
	SpillDir string
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

// Installer installs and erases RPM packages on a root filesystem and
// keeps its file database: which package owns which path, and the report
// of what each package's scriptlets did. It is safe for concurrent use.
type Installer struct {
	mu       sync.Mutex
	fs       rootfs.FS
	sys      *sysconf.System
	pkgs     map[string]*PackageRecord // by name
	owners   map[string][]string       // canonical path -> package names
	colors   map[string]uint8          // canonical path -> rpm file color (1 ELF32, 2 ELF64)
	pkgOrder []string                  // names, install order
	report   Report
}

// New returns an installer with an empty database for the root fsys.
// Scriptlet effects that change accounts go through sys.
func New(fsys rootfs.FS, sys *sysconf.System) *Installer {
	return &Installer{fs: fsys, sys: sys, pkgs: map[string]*PackageRecord{}, owners: map[string][]string{}, colors: map[string]uint8{}}
}

type decodeResult struct {
	d   *decodedRPM
	err error
}

// Decoding is packages being read, decompressed and verified ahead of
// their install, on opts.Workers goroutines: a caller that installs
// several lists in turn, with other work between them (the base, the
// kernel, its modules, then staging), starts one Decoding for them all so
// that decompression never waits for the tree. A package is decoded only
// once its file is ready (NewDecoding, Ready): files still downloading
// do not hold up those already there. Of the ready packages, the big ones
// (bigDecode and over) start first, biggest first, so that one long
// single-stream payload (a kernel) does not end the install alone on one
// core; the rest start in plan order. The order packages are applied in,
// and so the tree, does not depend on this: InstallNext applies them
// strictly in order.
//
// Every package is decoded ahead, with no window: a decoded package holds
// in memory only what the tree will hold once it is applied (files up to
// inlineMax); bigger files are in the payload cache or a spill file.
type Decoding struct {
	ctx     context.Context
	cancel  context.CancelFunc
	opts    InstallOptions
	results []chan decodeResult
	next    int // the next package InstallNext applies

	mu      sync.Mutex
	wake    *sync.Cond // a file is ready, or the decoding is cancelled
	files   []RPMFile
	size    []int64 // of a ready file, for the order they start in
	ready   []bool
	started []bool
	waiting int // packages not yet started
}

// bigDecode is the compressed size from which a package is decoded before
// those ahead of it in the plan.
const bigDecode = 1 << 20

// NewDecoding starts a Decoding of n packages whose files are not there
// yet: package i is decoded only after Ready(i, its file). The caller
// calls Ready only with a file it has verified: nothing of a file not
// handed over is read, decoded or cached. Stop ends it.
func NewDecoding(ctx context.Context, n int, opts InstallOptions) *Decoding {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	dec := &Decoding{
		ctx: ctx, cancel: cancel, opts: opts, results: make([]chan decodeResult, n),
		files: make([]RPMFile, n), size: make([]int64, n), ready: make([]bool, n), started: make([]bool, n), waiting: n,
	}
	dec.wake = sync.NewCond(&dec.mu)
	for i := range dec.results {
		dec.results[i] = make(chan decodeResult, 1)
	}
	context.AfterFunc(ctx, func() {
		dec.mu.Lock()
		dec.wake.Broadcast()
		dec.mu.Unlock()
	})
	for range min(workers, n) {
		go dec.work()
	}
	return dec
}

// Ready hands over the file of package i (its index in the install
// order), verified: its decoding may start. Later calls for i are
// ignored.
func (dec *Decoding) Ready(i int, f RPMFile) { dec.setReady([]RPMFile{f}, i) }

// setReady marks files ready at once: at the indexes at, or (none given)
// at 0, 1, ….
func (dec *Decoding) setReady(files []RPMFile, at ...int) {
	sizes := make([]int64, len(files))
	for k, f := range files {
		sizes[k] = f.Size
		if f.R == nil {
			if fi, err := os.Stat(f.Path); err == nil {
				sizes[k] = fi.Size()
			}
		}
	}
	dec.mu.Lock()
	defer dec.mu.Unlock()
	for k, f := range files {
		i := k
		if at != nil {
			i = at[k]
		}
		if dec.ready[i] {
			continue
		}
		dec.files[i], dec.size[i], dec.ready[i] = f, sizes[k], true
	}
	dec.wake.Broadcast()
}

// work decodes packages, the best ready one first, until none is left
// or the decoding is cancelled.
func (dec *Decoding) work() {
	for {
		i, f, ok := dec.take()
		if !ok {
			return
		}
		d, err := decodeFile(f, dec.opts.PayloadCache, dec.opts.SpillDir)
		dec.results[i] <- decodeResult{d, err}
	}
}

// take waits for a ready package not yet started and claims the one to
// decode next: the biggest of the big ones, else the first in plan order.
func (dec *Decoding) take() (int, RPMFile, bool) {
	dec.mu.Lock()
	defer dec.mu.Unlock()
	big := func(i int) bool { return dec.size[i] >= bigDecode }
	for dec.waiting > 0 && dec.ctx.Err() == nil {
		best := -1
		for i := range dec.files {
			if !dec.ready[i] || dec.started[i] {
				continue
			}
			if best < 0 || big(i) && (!big(best) || dec.size[i] > dec.size[best]) {
				best = i
			}
		}
		if best >= 0 {
			dec.started[best] = true
			if dec.waiting--; dec.waiting == 0 {
				dec.wake.Broadcast() // the idle workers end
			}
			return best, dec.files[best], true
		}
		dec.wake.Wait()
	}
	return 0, RPMFile{}, false
}

// Stop cancels the decoding of the packages not yet started.
func (dec *Decoding) Stop() { dec.cancel() }

// Remaining is how many packages of dec are not yet installed.
func (dec *Decoding) Remaining() int { return len(dec.results) - dec.next }

// InstallNext installs the next n packages of dec, in order, with opts's
// Scriptlets (its Workers and caches were StartDecoding's). It waits for
// each to be ready and decoded; when the decoding is stopped first, it
// returns the context's error.
func (in *Installer) InstallNext(ctx context.Context, dec *Decoding, n int, opts InstallOptions) ([]PackageRecord, error) {
	if n > dec.Remaining() {
		return nil, fmt.Errorf("rpminstall: %d packages to install, %d left in the decoding", n, dec.Remaining())
	}
	var recs []PackageRecord
	for ; n > 0; n-- {
		i := dec.next
		dec.next++
		var r decodeResult
		select {
		case r = <-dec.results[i]:
		case <-ctx.Done():
			return recs, ctx.Err()
		case <-dec.ctx.Done():
			return recs, dec.ctx.Err()
		}
		if r.err != nil {
			return recs, r.err
		}
		rec, err := in.apply(r.d, opts)
		if err != nil {
			return recs, err
		}
		recs = append(recs, *rec)
	}
	return recs, nil
}

func decodeFile(f RPMFile, cacheDir, spillDir string) (*decodedRPM, error) {
	cache := ""
	if cacheDir != "" && f.Key != "" {
		cache = filepath.Join(cacheDir, strings.ReplaceAll(f.Key, ":", "-")+".cpio")
	}
	if f.R != nil {
		return decodeRPM(f.R, f.Size, f.name(), cache, spillDir)
	}
	fh, err := fileid.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("rpminstall: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("rpminstall: %w", err)
	}
	return decodeRPM(fh, st.Size(), f.Path, cache, spillDir)
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
// machine would.
func (in *Installer) apply(d *decodedRPM, opts InstallOptions) (*PackageRecord, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if old, ok := in.pkgs[d.name]; ok {
		return nil, fmt.Errorf("rpminstall: %s: %s is already installed (erase it first)", d.nevra, old.NEVRA)
	}
	rep := in.pkgReport(d.nevra)
	if opts.Scriptlets {
		in.emulateScriptlets(d, rep, "pretrans", "pre")
	}
	users, groups := sysconf.IDs(in.fs)
	ids := idMap{users, groups}
	rec := &PackageRecord{Name: d.name, NEVRA: d.nevra, BuildTime: d.buildTime, Scriptlets: d.scripts}
	links := map[[2]uint32]string{}
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
		p, err := in.applyFile(d, f, ids, links, warn)
		if err != nil {
			return nil, fmt.Errorf("rpminstall: %s: %s: %w", d.nevra, f.path, err)
		}
		if p != "" {
			rec.Files = append(rec.Files, p)
			in.ownerAdd(p, d.name)
		}
	}
	in.pkgs[d.name] = rec
	in.pkgOrder = append(in.pkgOrder, d.name)
	if opts.Scriptlets {
		in.emulateScriptlets(d, rep, "post", "posttrans", "preun", "postun", "trigger", "filetrigger")
	}
	out := *rec
	out.Files = append([]string(nil), rec.Files...)
	return &out, nil
}

// idMap maps user and group names to ids from the tree's own /etc/passwd
// and /etc/group, as rpm does inside the install root.
type idMap struct {
	users, groups map[string]uint32
}

// entry is what the installer needs to know of an existing tree entry.
type entry struct {
	mode     fs.FileMode
	uid, gid uint32
	pkg      string
	sum      []byte // regular files
	target   string // symlinks
	major    uint32 // devices
	minor    uint32
	color    uint8
}

// lstat describes the entry at the canonical path p (nil when absent).
func (in *Installer) lstat(p string) (*entry, error) {
	fi, err := in.fs.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e := &entry{mode: fi.Mode(), color: in.colors[p]}
	if m := fsmeta.Of(fi); m != nil {
		e.uid, e.gid, e.pkg, e.sum, e.major, e.minor = m.UID, m.GID, m.Package, m.SHA256, m.Major, m.Minor
	}
	if e.mode&fs.ModeSymlink != 0 {
		if e.target, err = in.fs.ReadLink(p); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// remove unlinks the entry at the canonical path p.
func (in *Installer) remove(p string) error {
	delete(in.colors, p)
	return in.fs.Remove(p)
}

// applyFile installs one header entry and returns its canonical path
// ("" when skipped).
func (in *Installer) applyFile(d *decodedRPM, f *hdrFile, ids idMap, links map[[2]uint32]string, warn func(string)) (string, error) {
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
		if err := in.fs.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	p, err := in.fs.Realpath(rel, false)
	if err != nil {
		return "", err
	}
	uid, ok := ids.users[f.user]
	if !ok {
		warn(fmt.Sprintf("user %s does not exist - using root", f.user))
	}
	gid, ok := ids.groups[f.group]
	if !ok {
		warn(fmt.Sprintf("group %s does not exist - using root", f.group))
	}
	mtime := time.Unix(int64(f.mtime), 0).UTC()
	// setMeta gives the entry at q the header's metadata; hadCaps says
	// whether it may hold capabilities to clear.
	setMeta := func(q string, hadCaps bool) error {
		caps := capsFromText(f.caps, warn, f.path)
		if mode&fs.ModeSymlink != 0 {
			// Links keep 0777 and carry no capabilities.
			if err := in.fs.Lchown(q, uid, gid); err != nil {
				return err
			}
			return in.fs.Lchtimes(q, mtime)
		}
		if err := in.fs.Chmod(q, mode); err != nil {
			return err
		}
		if err := in.fs.Lchown(q, uid, gid); err != nil {
			return err
		}
		if err := in.fs.Lchtimes(q, mtime); err != nil {
			return err
		}
		if caps != nil || hadCaps {
			return in.fs.SetCaps(q, caps)
		}
		return nil
	}
	ex, err := in.lstat(p)
	if err != nil {
		return "", err
	}
	if mode.IsDir() {
		switch {
		case ex == nil:
			if err := in.fs.Mkdir(p, mode); err != nil {
				return "", err
			}
			if err := setMeta(p, false); err != nil {
				return "", err
			}
			if err := in.fs.SetPackage(p, d.nevra); err != nil {
				return "", err
			}
		case ex.mode.IsDir():
			// Another package's directory must have the same mode and
			// owner (rpm reports a conflict otherwise); rpm then sets the
			// metadata again, which only changes the mtime.
			if ex.pkg != "" && ex.pkg != d.nevra && (ex.mode != mode || ex.uid != uid || ex.gid != gid) {
				return "", fmt.Errorf("directory conflicts with the one from package %s (%v %d:%d vs %v %d:%d)", ex.pkg, ex.mode, ex.uid, ex.gid, mode, uid, gid)
			}
			if err := setMeta(p, true); err != nil {
				return "", err
			}
			if ex.pkg == "" {
				if err := in.fs.SetPackage(p, d.nevra); err != nil {
					return "", err
				}
			}
		case ex.mode&fs.ModeSymlink != 0 && ex.pkg != "" && ex.pkg != d.nevra:
			return "", fmt.Errorf("directory conflicts with the symlink from package %s", ex.pkg)
		case ex.mode&fs.ModeSymlink != 0:
			// A symlink to a directory stands in for the directory (rpm
			// keeps it); the metadata goes to the directory it names.
			tp, err := in.fs.Realpath(p, true)
			var fi fs.FileInfo
			if err == nil {
				fi, err = in.fs.Lstat(tp)
			}
			if err != nil || !fi.IsDir() {
				return "", fmt.Errorf("directory would replace symlink %s, which does not name a directory", p)
			}
			if err := setMeta(tp, true); err != nil {
				return "", err
			}
			return tp, nil
		default:
			return "", fmt.Errorf("directory would replace a %s", typeName(ex.mode))
		}
		return p, nil
	}
	name := p
	if ex != nil {
		if ex.mode.IsDir() {
			return "", fmt.Errorf("%s would replace a directory", typeName(mode))
		}
		if ex.pkg != "" && ex.pkg != d.nevra {
			switch compareFile(ex, f, mode, uid, gid) {
			case sameFile:
				return p, nil
			case keepOld:
				return p, nil
			case conflict:
				return "", fmt.Errorf("file conflicts with the one from package %s", ex.pkg)
			}
		} else if ex.pkg == "" && f.flags&fileConfig != 0 && ex.mode.IsRegular() && !bytes.Equal(ex.sum, f.sum[:]) {
			// %config over a file no package owns: rpm keeps the old one
			// aside (noreplace: the new one goes to .rpmnew).
			if f.flags&fileNoReplace != 0 {
				warn(fmt.Sprintf("%s created as %s.rpmnew", f.path, f.path))
				name = p + ".rpmnew"
				if ex, err = in.lstat(name); err != nil {
					return "", err
				}
			} else {
				warn(fmt.Sprintf("%s saved as %s.rpmorig", f.path, f.path))
				if old, err := in.lstat(p + ".rpmorig"); err != nil {
					return "", err
				} else if old != nil && old.mode.IsDir() {
					return "", fmt.Errorf("%s.rpmorig is a directory", f.path)
				}
				if err := in.fs.Rename(p, p+".rpmorig"); err != nil {
					return "", err
				}
				ex = nil
			}
		}
		if ex != nil {
			if ex.mode.IsDir() {
				return "", fmt.Errorf("%s would replace a directory", typeName(mode))
			}
			if err := in.remove(name); err != nil {
				return "", err
			}
		}
	}
	key := [2]uint32{f.dev, f.ino}
	if first, ok := links[key]; ok && mode.IsRegular() && f.ino != 0 {
		if err := in.fs.Link(first, name); err != nil {
			return "", err
		}
		if f.color != 0 {
			in.colors[name] = uint8(f.color)
		}
		return name, nil
	}
	switch {
	case mode.IsRegular():
		c, err := f.content()
		if err != nil {
			return "", err
		}
		if err := in.fs.WriteContent(name, c, mode); err != nil {
			return "", err
		}
		if f.ino != 0 {
			links[key] = name
		}
	case mode&fs.ModeSymlink != 0:
		if err := in.fs.Symlink(f.linkto, name); err != nil {
			return "", err
		}
	case mode&fs.ModeDevice != 0 || mode&fs.ModeNamedPipe != 0:
		maj, min := rdevSplit(f.rdev)
		if mode&fs.ModeNamedPipe != 0 {
			maj, min = 0, 0
		}
		if err := in.fs.Mknod(name, mode, maj, min); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("cannot create a %s", typeName(mode))
	}
	if err := setMeta(name, false); err != nil {
		return "", err
	}
	if err := in.fs.SetPackage(name, d.nevra); err != nil {
		return "", err
	}
	if f.color != 0 {
		in.colors[name] = uint8(f.color)
	}
	return name, nil
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
func compareFile(ex *entry, f *hdrFile, mode fs.FileMode, uid, gid uint32) cmpResult {
	same := ex.mode.Type() == mode.Type() && ex.uid == uid && ex.gid == gid
	if same && mode&fs.ModeSymlink == 0 && ex.mode != mode {
		same = false
	}
	if same {
		switch {
		case mode.IsRegular():
			same = bytes.Equal(ex.sum, f.sum[:])
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
func (in *Installer) ownerAdd(p, name string) {
	for _, o := range in.owners[p] {
		if o == name {
			return
		}
	}
	in.owners[p] = append(in.owners[p], name)
}

// Erase removes an installed package: its files go unless another package
// also owns them; its directories go only when no other package owns them
// and they are empty.
func (in *Installer) Erase(name string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	rec, ok := in.pkgs[name]
	if !ok {
		return fmt.Errorf("rpminstall: erase %s: package is not installed", name)
	}
	paths := append([]string(nil), rec.Files...)
	// Deepest first, so directories are empty by the time they come up.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		owners := in.owners[p]
		kept := owners[:0]
		for _, o := range owners {
			if o != name {
				kept = append(kept, o)
			}
		}
		if len(kept) > 0 {
			in.owners[p] = kept
			continue
		}
		delete(in.owners, p)
		q, err := in.fs.Realpath(p, false)
		if err != nil || q == "." {
			continue
		}
		fi, err := in.fs.Lstat(q)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			if ents, err := in.fs.ReadDir(q); err != nil || len(ents) > 0 {
				continue
			}
		}
		in.remove(q)
	}
	delete(in.pkgs, name)
	for i, n := range in.pkgOrder {
		if n == name {
			in.pkgOrder = append(in.pkgOrder[:i], in.pkgOrder[i+1:]...)
			break
		}
	}
	return nil
}
