package hook

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// permBits are the mode bits chmod, cp -p and install set.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func (h *hookRun) paths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		p, err := h.treePath(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (h *hookRun) mkdir(o opts, rest []string) error {
	perm := fs.FileMode(0o755)
	var err error
	if m, ok := o['m']; ok {
		if perm, err = parseMode(m, 0o755, true); err != nil {
			return err
		}
	}
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if o.has("p") {
			err = h.t.MkdirAll(p, perm)
		} else {
			err = h.t.Mkdir(p, perm)
		}
		if err != nil {
			return err
		}
		if _, ok := o['m']; ok {
			if err := h.t.Chmod(p, perm); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *hookRun) isDir(p string) bool {
	fi, err := h.t.Stat(p)
	return err == nil && fi.IsDir()
}

func (h *hookRun) ln(o opts, rest []string) error {
	if len(rest) == 1 {
		rest = append(rest, path.Base(rest[0]))
	}
	dstArg := rest[len(rest)-1]
	dst, err := h.treePath(dstArg)
	if err != nil {
		return err
	}
	noDeref := o.has("nT")
	targets := rest[:len(rest)-1]
	intoDir := false
	if fi, err := h.t.Lstat(dst); err == nil {
		intoDir = fi.IsDir() || (!noDeref && h.isDir(dst))
	}
	if len(targets) > 1 && !intoDir {
		return fmt.Errorf("target %s is not a directory", dstArg)
	}
	for _, target := range targets {
		name := dst
		if intoDir && !o.has("T") {
			name = path.Join(dst, path.Base(target))
		}
		if o.has("f") {
			if fi, err := h.t.Lstat(name); err == nil && !fi.IsDir() {
				if err := h.t.Remove(name); err != nil {
					return err
				}
			}
		}
		if o.has("s") {
			err = h.t.Symlink(target, name)
		} else {
			var src string
			if src, err = h.treePath(target); err == nil {
				err = h.t.Link(src, name)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) rm(o opts, rest []string) error {
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	for _, p := range ps {
		fi, err := h.t.Lstat(p)
		if err != nil {
			if o.has("f") && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if p == "." {
			return errors.New("refusing to remove the tree's root")
		}
		if fi.IsDir() {
			if !o.has("rR") {
				return fmt.Errorf("cannot remove %s: is a directory", p)
			}
			err = h.t.RemoveAll(p)
		} else {
			err = h.t.Remove(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// source is a cp/install operand: in the tree or in the definition folder.
func (h *hookRun) source(a string) (fsys fs.FS, name string, err error) {
	pl, err := h.resolve(h.dir, a)
	if err != nil {
		return nil, "", err
	}
	switch {
	case pl.tree != "":
		return h.t, pl.tree, nil
	case pl.repo != "":
		return h.env.RepoFS, pl.repo, nil
	}
	return nil, "", fmt.Errorf("%s: %w", a, errOutside)
}

func (h *hookRun) cp(o opts, rest []string) error {
	dst, err := h.treePath(rest[len(rest)-1])
	if err != nil {
		return err
	}
	archive := o.has("a")
	recursive := archive || o.has("rR")
	preserve := archive || o.has("p")
	// -a and -P/-d copy symlinks as links; -L or plain cp of an operand
	// follows them, as GNU cp does for files named on the command line.
	keepLinks := archive || o.has("Pd")
	srcs := rest[:len(rest)-1]
	if len(srcs) > 1 && !h.isDir(dst) {
		return fmt.Errorf("target %s is not a directory", rest[len(rest)-1])
	}
	for _, s := range srcs {
		fsys, name, err := h.source(s)
		if err != nil {
			return err
		}
		to := dst
		if h.isDir(dst) {
			to = path.Join(dst, path.Base(name))
		}
		if o.has("n") {
			if _, err := h.t.Lstat(to); err == nil {
				continue
			}
		}
		if err := h.copy(fsys, name, to, recursive, preserve, keepLinks); err != nil {
			return err
		}
	}
	return nil
}

func lstatFS(fsys fs.FS, name string, follow bool) (fs.FileInfo, error) {
	if rl, ok := fsys.(fs.ReadLinkFS); ok && !follow {
		return rl.Lstat(name)
	}
	return fs.Stat(fsys, name)
}

func (h *hookRun) copy(fsys fs.FS, from, to string, recursive, preserve, keepLinks bool) error {
	fi, err := lstatFS(fsys, from, !keepLinks)
	if err != nil {
		return err
	}
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		target, err := fsys.(fs.ReadLinkFS).ReadLink(from)
		if err != nil {
			return err
		}
		_ = h.t.Remove(to)
		if err := h.t.Symlink(target, to); err != nil {
			return err
		}
	case mode.IsDir():
		if !recursive {
			return fmt.Errorf("-r not specified; omitting directory %s", from)
		}
		if !h.isDir(to) {
			if err := h.t.Mkdir(to, mode&permBits); err != nil {
				return err
			}
		}
		ents, err := fs.ReadDir(fsys, from)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := h.copy(fsys, path.Join(from, e.Name()), path.Join(to, e.Name()), recursive, preserve, keepLinks); err != nil {
				return err
			}
		}
	case mode.IsRegular():
		data, err := fs.ReadFile(fsys, from)
		if err != nil {
			return err
		}
		if err := h.t.WriteFile(to, data, mode&permBits&^0o022); err != nil {
			return err
		}
	case mode&fs.ModeDevice != 0 || mode&fs.ModeNamedPipe != 0:
		if !recursive {
			return fmt.Errorf("%s: special file needs -a or -R", from)
		}
		m := fsmetaOf(fi)
		if err := h.t.Mknod(to, mode, m.major, m.minor); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: cannot copy a file of mode %v", from, mode)
	}
	if preserve {
		m := fsmetaOf(fi)
		if mode&fs.ModeSymlink != 0 {
			return h.t.Lchown(to, m.uid, m.gid)
		}
		if err := h.t.Chmod(to, mode&permBits); err != nil {
			return err
		}
		if err := h.t.Chown(to, m.uid, m.gid); err != nil {
			return err
		}
		return h.t.Chtimes(to, fi.ModTime())
	}
	return nil
}

type idsOf struct{ uid, gid, major, minor uint32 }

func fsmetaOf(fi fs.FileInfo) idsOf {
	var r idsOf
	if m := fsmeta.Of(fi); m != nil {
		r = idsOf{m.UID, m.GID, m.Major, m.Minor}
	}
	return r
}

func (h *hookRun) mv(_ opts, rest []string) error {
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	dst := ps[len(ps)-1]
	for _, s := range ps[:len(ps)-1] {
		to := dst
		if h.isDir(dst) {
			to = path.Join(dst, path.Base(s))
		}
		if err := h.t.Rename(s, to); err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) walk(p string, recursive bool, fn func(string) error) error {
	if err := fn(p); err != nil {
		return err
	}
	if !recursive {
		return nil
	}
	fi, err := h.t.Lstat(p)
	if err != nil || !fi.IsDir() {
		return err
	}
	ents, err := h.t.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range ents {
		child := path.Join(p, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			continue
		}
		if err := h.walk(child, true, fn); err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) chmod(o opts, rest []string) error {
	ps, err := h.paths(rest[1:])
	if err != nil {
		return err
	}
	for _, p := range ps {
		err := h.walk(p, o.has("R"), func(q string) error {
			fi, err := h.t.Stat(q)
			if err != nil {
				return err
			}
			m, err := parseMode(rest[0], fi.Mode(), fi.IsDir())
			if err != nil {
				return err
			}
			return h.t.Chmod(q, m)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// owner parses USER[:GROUP] with names from the tree's own account files.
func (h *hookRun) owner(spec string, uid, gid uint32) (uint32, uint32, error) {
	users, groups := sysconf.IDs(h.t)
	u, g, hasG := strings.Cut(spec, ":")
	if !hasG {
		u, g, hasG = strings.Cut(spec, ".")
	}
	look := func(s string, m map[string]uint32) (uint32, error) {
		if v, ok := m[s]; ok {
			return v, nil
		}
		if n, err := strconv.ParseUint(s, 10, 32); err == nil {
			return uint32(n), nil
		}
		return 0, fmt.Errorf("invalid owner %q", s)
	}
	var err error
	if u != "" {
		if uid, err = look(u, users); err != nil {
			return 0, 0, err
		}
	}
	if hasG && g != "" {
		if gid, err = look(g, groups); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

func (h *hookRun) chown(o opts, rest []string) error {
	ps, err := h.paths(rest[1:])
	if err != nil {
		return err
	}
	for _, p := range ps {
		err := h.walk(p, o.has("R"), func(q string) error {
			fi, err := h.t.Lstat(q)
			if err != nil {
				return err
			}
			m := fsmetaOf(fi)
			uid, gid, err := h.owner(rest[0], m.uid, m.gid)
			if err != nil {
				return err
			}
			if o.has("h") || fi.Mode()&fs.ModeSymlink != 0 && q != p {
				return h.t.Lchown(q, uid, gid)
			}
			return h.t.Chown(q, uid, gid)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) touch(o opts, rest []string) error {
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if _, err := h.t.Stat(p); err != nil {
			if o.has("c") {
				continue
			}
			if err := h.t.WriteFile(p, nil, 0o644); err != nil {
				return err
			}
			continue
		}
		if err := h.t.Chtimes(p, h.t.DefaultTime()); err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) mknod(o opts, rest []string) error {
	perm := fs.FileMode(0o644)
	var err error
	if m, ok := o['m']; ok {
		if perm, err = parseMode(m, 0o666, false); err != nil {
			return err
		}
	}
	p, err := h.treePath(rest[0])
	if err != nil {
		return err
	}
	var typ fs.FileMode
	switch rest[1] {
	case "c", "u":
		typ = fs.ModeDevice | fs.ModeCharDevice
	case "b":
		typ = fs.ModeDevice
	case "p":
		return h.t.Mknod(p, fs.ModeNamedPipe|perm, 0, 0)
	default:
		return fmt.Errorf("invalid device type %q", rest[1])
	}
	if len(rest) != 4 {
		return errors.New("special files need major and minor numbers")
	}
	maj, err1 := strconv.ParseUint(rest[2], 0, 32)
	min, err2 := strconv.ParseUint(rest[3], 0, 32)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("invalid device numbers %s %s", rest[2], rest[3])
	}
	return h.t.Mknod(p, typ|perm, uint32(maj), uint32(min))
}

func (h *hookRun) cat(_ opts, rest []string) error {
	if len(rest) == 0 {
		_, err := io.Copy(h.stdout, h.stdin)
		return err
	}
	for _, a := range rest {
		fsys, name, err := h.source(a)
		if err != nil {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if _, err := h.stdout.Write(data); err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) install(o opts, rest []string) error {
	perm := fs.FileMode(0o755)
	var err error
	if m, ok := o['m']; ok {
		if perm, err = parseMode(m, 0o755, false); err != nil {
			return err
		}
	}
	setOwner := func(p string) error {
		if !o.has("og") {
			return nil
		}
		spec := o['o']
		if g, ok := o['g']; ok {
			spec += ":" + g
		}
		uid, gid, err := h.owner(spec, 0, 0)
		if err != nil {
			return err
		}
		return h.t.Chown(p, uid, gid)
	}
	if o.has("d") {
		ps, err := h.paths(rest)
		if err != nil {
			return err
		}
		for _, p := range ps {
			// Parents get 0755; only the named directory gets -m.
			if err := h.t.MkdirAll(p, 0o755); err != nil {
				return err
			}
			if err := h.t.Chmod(p, perm); err != nil {
				return err
			}
			if err := setOwner(p); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rest) < 2 {
		return errors.New("missing operand")
	}
	dst, err := h.treePath(rest[len(rest)-1])
	if err != nil {
		return err
	}
	if o.has("D") {
		if err := h.t.MkdirAll(path.Dir(dst), 0o755); err != nil {
			return err
		}
	}
	for _, s := range rest[:len(rest)-1] {
		fsys, name, err := h.source(s)
		if err != nil {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		to := dst
		if h.isDir(dst) {
			to = path.Join(dst, path.Base(name))
		}
		_ = h.t.Remove(to)
		if err := h.t.WriteFile(to, data, perm); err != nil {
			return err
		}
		if err := h.t.Chmod(to, perm); err != nil {
			return err
		}
		if err := setOwner(to); err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) basename(_ opts, args []string) error {
	b := path.Base(args[0])
	if len(args) > 1 {
		b = strings.TrimSuffix(b, args[1])
	}
	_, err := fmt.Fprintln(h.stdout, b)
	return err
}

func (h *hookRun) dirname(_ opts, args []string) error {
	for _, a := range args {
		if _, err := fmt.Fprintln(h.stdout, path.Dir(a)); err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) readlink(o opts, rest []string) error {
	p, err := h.treePath(rest[0])
	if err != nil {
		return err
	}
	if o.has("fe") {
		real, err := h.t.Realpath(p, true)
		if err == nil && o.has("e") {
			_, err = h.t.Lstat(real)
		}
		if err != nil {
			return fmt.Errorf("%s: cannot canonicalize", rest[0])
		}
		_, err = fmt.Fprintln(h.stdout, h.root+"/"+strings.TrimPrefix(real, "."))
		return err
	}
	target, err := h.t.ReadLink(p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(h.stdout, target)
	return err
}
