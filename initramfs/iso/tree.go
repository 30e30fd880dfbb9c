package iso

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// Tree is a small read-only fs.FS for assembling an ISO's tree (the
// "bootfs") from pieces: bytes written by this project and files taken
// from other file systems (the kernel from the rootfs tree, core.gz from
// disk, ISOLINUX from the syslinux package or --isolinux DIR). Every entry
// is owned by root, directories are 0755 and files keep the mode given,
// so nothing of the host leaks into the image. Contents of added files
// are read only when the image is written.
type Tree struct {
	// ModTime is the time of directories and of entries added as bytes.
	ModTime time.Time
	files   map[string]*treeFile
}

type treeFile struct {
	name    string
	mode    fs.FileMode
	size    int64
	modTime time.Time
	data    []byte
	src     fs.FS
	srcPath string
	kids    map[string]*treeFile
}

// NewTree returns an empty tree whose directories carry modTime.
func NewTree(modTime time.Time) *Tree {
	t := &Tree{ModTime: modTime, files: map[string]*treeFile{}}
	t.files["."] = &treeFile{name: ".", mode: fs.ModeDir | 0o755, modTime: modTime, kids: map[string]*treeFile{}}
	return t
}

func (t *Tree) add(name string, f *treeFile) error {
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("iso: tree path %q is not a valid relative path", name)
	}
	if _, ok := t.files[name]; ok {
		return fmt.Errorf("iso: tree path %s added twice", name)
	}
	dir := path.Dir(name)
	if _, ok := t.files[dir]; !ok {
		if err := t.add(dir, &treeFile{mode: fs.ModeDir | 0o755, modTime: t.ModTime, kids: map[string]*treeFile{}}); err != nil {
			return err
		}
	}
	parent := t.files[dir]
	if !parent.mode.IsDir() {
		return fmt.Errorf("iso: tree path %s: %s is a file", name, dir)
	}
	f.name = path.Base(name)
	t.files[name] = f
	parent.kids[f.name] = f
	return nil
}

// AddBytes adds a file with the given content and permissions.
func (t *Tree) AddBytes(name string, data []byte, perm fs.FileMode) error {
	return t.add(name, &treeFile{mode: perm.Perm(), size: int64(len(data)), modTime: t.ModTime, data: data})
}

// AddFile adds srcPath of src as name, keeping its permissions and time.
// Symbolic links are followed; the target must be a regular file.
func (t *Tree) AddFile(name string, src fs.FS, srcPath string) error {
	fi, err := fs.Stat(src, srcPath)
	if err != nil {
		return fmt.Errorf("iso: add %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("iso: add %s: %s is not a regular file (%v)", name, srcPath, fi.Mode())
	}
	return t.add(name, &treeFile{mode: fi.Mode().Perm(), size: fi.Size(), modTime: fi.ModTime(), src: src, srcPath: srcPath})
}

// Open implements fs.FS.
func (t *Tree) Open(name string) (fs.File, error) {
	f, ok := t.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	switch {
	case f.mode.IsDir():
		ents, _ := t.ReadDir(name)
		return &treeDir{info: treeInfo{f}, ents: ents}, nil
	case f.src != nil:
		sf, err := f.src.Open(f.srcPath)
		if err != nil {
			return nil, err
		}
		return &treeOpen{File: sf, info: treeInfo{f}}, nil
	default:
		return &treeOpen{File: nil, r: strings.NewReader(string(f.data)), info: treeInfo{f}}, nil
	}
}

// Stat implements fs.StatFS.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	f, ok := t.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return treeInfo{f}, nil
}

// ReadDir implements fs.ReadDirFS.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	f, ok := t.files[name]
	if !ok || !f.mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, 0, len(f.kids))
	for _, k := range f.kids {
		out = append(out, fs.FileInfoToDirEntry(treeInfo{k}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

type treeInfo struct{ f *treeFile }

func (i treeInfo) Name() string       { return i.f.name }
func (i treeInfo) Size() int64        { return i.f.size }
func (i treeInfo) Mode() fs.FileMode  { return i.f.mode }
func (i treeInfo) ModTime() time.Time { return i.f.modTime }
func (i treeInfo) IsDir() bool        { return i.f.mode.IsDir() }
func (i treeInfo) Sys() any           { return &fsmeta.Meta{Nlink: 1} }

type treeOpen struct {
	fs.File
	r    io.Reader
	info treeInfo
}

func (o *treeOpen) Stat() (fs.FileInfo, error) { return o.info, nil }

func (o *treeOpen) Read(p []byte) (int, error) {
	if o.r != nil {
		return o.r.Read(p)
	}
	return o.File.Read(p)
}

func (o *treeOpen) Close() error {
	if o.File != nil {
		return o.File.Close()
	}
	return nil
}

type treeDir struct {
	info treeInfo
	ents []fs.DirEntry
	off  int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: fs.ErrInvalid}
}
func (d *treeDir) Close() error { return nil }
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.ents[d.off:]
	if n <= 0 {
		d.off = len(d.ents)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return rest[:n], nil
}

// VICLayout describes the ISO tree VIC boots from (see isolinux.go).
type VICLayout struct {
	// Kernel becomes /boot/vmlinuz64; Initrd /boot/core.gz.
	Kernel, Initrd FileRef
	// BootFiles are copied into /boot under their base names: the
	// kernel's System.map-<kver>, config-<kver>, linux-<kver>.cfg.
	BootFiles []FileRef
	// Isolinux is the folder with isolinux.bin and, for syslinux 5 and
	// later, ldlinux.c32 (the syslinux package's, or --isolinux DIR).
	Isolinux FileRef
	// IsolinuxCfg and BootMsg are /boot/isolinux/isolinux.cfg and boot.msg.
	IsolinuxCfg, BootMsg []byte
	// ModTime is the time of the generated files and directories
	// (SOURCE_DATE_EPOCH).
	ModTime time.Time
}

// FileRef names a file (or folder) in a file system.
type FileRef struct {
	FS   fs.FS
	Path string
}

// Tree assembles the layout: /boot/{vmlinuz64, core.gz, boot files} and
// /boot/isolinux/{isolinux.bin, ldlinux.c32 when present, isolinux.cfg,
// boot.msg}; the writer adds boot.cat.
func (l VICLayout) Tree() (*Tree, error) {
	t := NewTree(l.ModTime)
	if err := t.AddFile(KernelPath, l.Kernel.FS, l.Kernel.Path); err != nil {
		return nil, err
	}
	if err := t.AddFile(InitrdPath, l.Initrd.FS, l.Initrd.Path); err != nil {
		return nil, err
	}
	for _, b := range l.BootFiles {
		if err := t.AddFile(path.Join("boot", path.Base(b.Path)), b.FS, b.Path); err != nil {
			return nil, err
		}
	}
	if err := t.AddFile(IsolinuxBin, l.Isolinux.FS, path.Join(l.Isolinux.Path, "isolinux.bin")); err != nil {
		return nil, fmt.Errorf("%w (the boot loader folder needs isolinux.bin)", err)
	}
	ld := path.Join(l.Isolinux.Path, "ldlinux.c32")
	if _, err := fs.Stat(l.Isolinux.FS, ld); err == nil {
		if err := t.AddFile(LdlinuxC32, l.Isolinux.FS, ld); err != nil {
			return nil, err
		}
	}
	if err := t.AddBytes(IsolinuxCfg, l.IsolinuxCfg, 0o644); err != nil {
		return nil, err
	}
	if err := t.AddBytes(BootMsgPath, l.BootMsg, 0o644); err != nil {
		return nil, err
	}
	return t, nil
}
