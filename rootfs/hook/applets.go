package hook

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// permBits are the mode bits chmod, cp -p and install set.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// flags splits leading options ("-rf", "-m 755", "--force") from operands.
// withArg lists the short options that take a value.
func flags(args []string, withArg string) (map[byte]string, []string, error) {
	o := map[byte]string{}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return o, args[1:], nil
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		if strings.HasPrefix(a, "--") {
			long := map[string]byte{"force": 'f', "recursive": 'r', "parents": 'p', "symbolic": 's',
				"archive": 'a', "no-dereference": 'P', "dereference": 'L', "mode": 'm',
				"in-place": 'i', "no-clobber": 'n', "verbose": 'v', "directory": 'd'}
			k, v, hasV := strings.Cut(a[2:], "=")
			c, ok := long[k]
			if !ok {
				return nil, nil, fmt.Errorf("unsupported option %s", a)
			}
			o[c] = v
			if strings.IndexByte(withArg, c) >= 0 && !hasV {
				if len(args) == 0 {
					return nil, nil, fmt.Errorf("option %s needs a value", a)
				}
				o[c], args = args[0], args[1:]
			}
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if strings.IndexByte(withArg, c) >= 0 {
				v := a[j+1:]
				if v == "" {
					if len(args) == 0 {
						return nil, nil, fmt.Errorf("option -%c needs a value", c)
					}
					v, args = args[0], args[1:]
				}
				o[c] = v
				break
			}
			o[c] = ""
		}
	}
	return o, args, nil
}

func has(o map[byte]string, cs string) bool {
	for i := 0; i < len(cs); i++ {
		if _, ok := o[cs[i]]; ok {
			return true
		}
	}
	return false
}

func parseMode(s string, old fs.FileMode, isDir bool) (fs.FileMode, error) {
	if v, err := strconv.ParseUint(s, 8, 32); err == nil {
		return unixToMode(uint32(v)), nil
	}
	m := modeToUnix(old)
	for _, clause := range strings.Split(s, ",") {
		i := strings.IndexAny(clause, "+-=")
		if i < 0 {
			return 0, fmt.Errorf("invalid mode %q", s)
		}
		who := clause[:i]
		if who == "" || strings.Contains(who, "a") {
			who = "ugo"
		}
		var mask uint32
		for _, w := range who {
			switch w {
			case 'u':
				mask |= 0o4700
			case 'g':
				mask |= 0o2070
			case 'o':
				mask |= 0o1007
			default:
				return 0, fmt.Errorf("invalid mode %q", s)
			}
		}
		ops := clause[i:]
		for len(ops) > 0 {
			op := ops[0]
			j := 1
			var bits uint32
			for ; j < len(ops) && strings.IndexByte("+-=", ops[j]) < 0; j++ {
				switch ops[j] {
				case 'r':
					bits |= 0o444
				case 'w':
					bits |= 0o222
				case 'x':
					bits |= 0o111
				case 'X':
					if isDir || m&0o111 != 0 {
						bits |= 0o111
					}
				case 's':
					bits |= 0o6000
				case 't':
					bits |= 0o1000
				default:
					return 0, fmt.Errorf("invalid mode %q", s)
				}
			}
			ops = ops[j:]
			bits &= mask
			switch op {
			case '+':
				m |= bits
			case '-':
				m &^= bits
			case '=':
				m = m&^(mask&0o777|mask&0o7000) | bits
			}
		}
	}
	return unixToMode(m), nil
}

func unixToMode(v uint32) fs.FileMode {
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func modeToUnix(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

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

func (h *hookRun) mkdir(args []string) error {
	o, rest, err := flags(args, "m")
	if err != nil {
		return err
	}
	perm := fs.FileMode(0o755)
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
		if has(o, "p") {
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

func (h *hookRun) ln(args []string) error {
	o, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	if len(rest) < 1 {
		return errors.New("missing operand")
	}
	if len(rest) == 1 {
		rest = append(rest, path.Base(rest[0]))
	}
	dstArg := rest[len(rest)-1]
	dst, err := h.treePath(dstArg)
	if err != nil {
		return err
	}
	noDeref := has(o, "nT")
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
		if intoDir && !has(o, "T") {
			name = path.Join(dst, path.Base(target))
		}
		if has(o, "f") {
			if fi, err := h.t.Lstat(name); err == nil && !fi.IsDir() {
				if err := h.t.Remove(name); err != nil {
					return err
				}
			}
		}
		if has(o, "s") {
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

func (h *hookRun) rm(args []string) error {
	o, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	for _, p := range ps {
		fi, err := h.t.Lstat(p)
		if err != nil {
			if has(o, "f") && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if p == "." {
			return errors.New("refusing to remove the tree's root")
		}
		if fi.IsDir() {
			if !has(o, "rR") {
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

func (h *hookRun) cp(args []string) error {
	o, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	if len(rest) < 2 {
		return errors.New("missing operand")
	}
	dst, err := h.treePath(rest[len(rest)-1])
	if err != nil {
		return err
	}
	archive := has(o, "a")
	recursive := archive || has(o, "rR")
	preserve := archive || has(o, "p")
	// -a and -P/-d copy symlinks as links; -L or plain cp of an operand
	// follows them, as GNU cp does for files named on the command line.
	keepLinks := archive || has(o, "Pd")
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
		if has(o, "n") {
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

func (h *hookRun) mv(args []string) error {
	_, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	if len(rest) < 2 {
		return errors.New("missing operand")
	}
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

func (h *hookRun) chmod(args []string) error {
	o, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	if len(rest) < 2 {
		return errors.New("missing operand")
	}
	ps, err := h.paths(rest[1:])
	if err != nil {
		return err
	}
	for _, p := range ps {
		err := h.walk(p, has(o, "R"), func(q string) error {
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

func (h *hookRun) chown(args []string) error {
	o, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	if len(rest) < 2 {
		return errors.New("missing operand")
	}
	ps, err := h.paths(rest[1:])
	if err != nil {
		return err
	}
	for _, p := range ps {
		err := h.walk(p, has(o, "R"), func(q string) error {
			fi, err := h.t.Lstat(q)
			if err != nil {
				return err
			}
			m := fsmetaOf(fi)
			uid, gid, err := h.owner(rest[0], m.uid, m.gid)
			if err != nil {
				return err
			}
			if has(o, "h") || fi.Mode()&fs.ModeSymlink != 0 && q != p {
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

func (h *hookRun) touch(args []string) error {
	o, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if _, err := h.t.Stat(p); err != nil {
			if has(o, "c") {
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

func (h *hookRun) mknod(args []string) error {
	o, rest, err := flags(args, "m")
	if err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if m, ok := o['m']; ok {
		if perm, err = parseMode(m, 0o666, false); err != nil {
			return err
		}
	}
	if len(rest) < 2 {
		return errors.New("missing operand")
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

func (h *hookRun) cat(args []string) error {
	_, rest, err := flags(args, "")
	if err != nil {
		return err
	}
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

func (h *hookRun) install(args []string) error {
	o, rest, err := flags(args, "mogt")
	if err != nil {
		return err
	}
	perm := fs.FileMode(0o755)
	if m, ok := o['m']; ok {
		if perm, err = parseMode(m, 0o755, false); err != nil {
			return err
		}
	}
	setOwner := func(p string) error {
		if !has(o, "og") {
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
	if has(o, "d") {
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
	if has(o, "D") {
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

func (h *hookRun) basename(args []string) error {
	if len(args) == 0 {
		return errors.New("missing operand")
	}
	b := path.Base(args[0])
	if len(args) > 1 {
		b = strings.TrimSuffix(b, args[1])
	}
	_, err := fmt.Fprintln(h.stdout, b)
	return err
}

func (h *hookRun) dirname(args []string) error {
	if len(args) == 0 {
		return errors.New("missing operand")
	}
	for _, a := range args {
		if _, err := fmt.Fprintln(h.stdout, path.Dir(a)); err != nil {
			return err
		}
	}
	return nil
}

func (h *hookRun) readlink(args []string) error {
	o, rest, err := flags(args, "")
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("need one operand")
	}
	p, err := h.treePath(rest[0])
	if err != nil {
		return err
	}
	if has(o, "fe") {
		real, err := h.t.Realpath(p, true)
		if err == nil && has(o, "e") {
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

// sed supports what hooks use: sed -i with s/RE/REPL/FLAGS and /RE/d
// commands (several with -e or ';'), basic or extended (-E, -r) regexps.
func (h *hookRun) sed(args []string) error {
	o, rest, err := flags(args, "e")
	if err != nil {
		return err
	}
	if !has(o, "i") {
		return errors.New("only sed -i is supported")
	}
	var script string
	if e, ok := o['e']; ok {
		script = e
	} else {
		if len(rest) == 0 {
			return errors.New("missing script")
		}
		script, rest = rest[0], rest[1:]
	}
	cmds, err := parseSed(script, has(o, "Er"))
	if err != nil {
		return err
	}
	ps, err := h.paths(rest)
	if err != nil {
		return err
	}
	for _, p := range ps {
		data, err := h.t.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(data)
		trailing := strings.HasSuffix(text, "\n")
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		var out []string
		for _, l := range lines {
			keep := true
			for _, c := range cmds {
				if c.del {
					if c.re.MatchString(l) {
						keep = false
						break
					}
					continue
				}
				if c.global {
					l = c.re.ReplaceAllString(l, c.repl)
				} else if loc := c.re.FindStringSubmatchIndex(l); loc != nil {
					var b []byte
					b = c.re.ExpandString(b, c.repl, l, loc)
					l = l[:loc[0]] + string(b) + l[loc[1]:]
				}
			}
			if keep {
				out = append(out, l)
			}
		}
		res := strings.Join(out, "\n")
		if trailing && len(out) > 0 {
			res += "\n"
		}
		if err := h.t.WriteFile(p, []byte(res), 0o644); err != nil {
			return err
		}
	}
	return nil
}

type sedCmd struct {
	re     *regexp.Regexp
	repl   string
	global bool
	del    bool
}

func parseSed(script string, ere bool) ([]sedCmd, error) {
	var cmds []sedCmd
	for _, part := range strings.Split(script, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		switch {
		case strings.HasPrefix(part, "s") && len(part) > 1:
			delim := string(part[1])
			f := strings.Split(part[2:], delim)
			if len(f) != 3 {
				return nil, fmt.Errorf("unsupported sed command %q", part)
			}
			re, err := sedRegexp(f[0], ere)
			if err != nil {
				return nil, err
			}
			repl := strings.ReplaceAll(f[1], "$", "$$")
			repl = regexp.MustCompile(`\\([0-9])`).ReplaceAllString(repl, "$${$1}")
			repl = strings.ReplaceAll(repl, "&", "${0}")
			if strings.Trim(f[2], "g") != "" {
				return nil, fmt.Errorf("unsupported sed flags %q", f[2])
			}
			cmds = append(cmds, sedCmd{re: re, repl: repl, global: f[2] == "g"})
		case strings.HasPrefix(part, "/") && strings.HasSuffix(part, "/d"):
			re, err := sedRegexp(part[1:len(part)-2], ere)
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, sedCmd{re: re, del: true})
		default:
			return nil, fmt.Errorf("unsupported sed command %q", part)
		}
	}
	return cmds, nil
}

// sedRegexp converts a POSIX basic regexp to Go syntax when needed.
func sedRegexp(s string, ere bool) (*regexp.Regexp, error) {
	if !ere {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				n := s[i+1]
				if strings.IndexByte("(){}|+?", n) >= 0 {
					b.WriteByte(n)
				} else {
					b.WriteByte('\\')
					b.WriteByte(n)
				}
				i++
				continue
			}
			if strings.IndexByte("(){}|+?", c) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		s = b.String()
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("sed regexp %q: %w", s, err)
	}
	return re, nil
}
