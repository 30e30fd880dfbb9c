package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/vicroot/vicroot/rootfs"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// Env is what a repo hook (base.sh, staging.sh) sees. The hooks of
// VIC's definitions address the tree as "rootfs/..." relative to $PKGDIR,
// so the tree appears at PkgDir/rootfs; nothing else of the host is
// reachable.
type Env struct {
	// PkgDir is $PKGDIR and the working directory (default "/vicroot/pkg").
	// It is a virtual path: nothing is read or written there on the host.
	PkgDir string
	// RepoDir is $REPODIR (default "/vicroot/repo"); RepoFS, when set,
	// is the definition folder served read-only under it.
	RepoDir string
	RepoFS  fs.FS
	// Vars are further variables (REPO, PACKAGE_MANAGER, ...).
	Vars map[string]string
	// Stdout and Stderr receive the script's output (discarded if nil).
	Stdout, Stderr io.Writer
}

// hookPrelude defines the helpers VIC's scripts give their hooks.
const hookPrelude = `rootfs_dir() { echo "$1/rootfs"; }
bootfs_dir() { echo "$1/bootfs"; }
`

// applet is one command a hook may run: how its arguments are parsed and
// what it does. Options are parsed, and the operand count checked, once
// for all applets in exec; run sees the result.
type applet struct {
	// withArg lists the short options that take a value.
	withArg string
	// raw applets get their arguments unparsed (basename, dirname).
	raw bool
	// min and max bound the operand count (max 0: no bound).
	min, max int
	run      func(h *hookRun, o opts, operands []string) error
}

// applets are the commands a hook may run; anything else is an error.
var applets = map[string]applet{
	"basename": {raw: true, min: 1, run: (*hookRun).basename},
	"cat":      {run: (*hookRun).cat},
	"chmod":    {min: 2, run: (*hookRun).chmod},
	"chown":    {min: 2, run: (*hookRun).chown},
	"cp":       {min: 2, run: (*hookRun).cp},
	"dirname":  {raw: true, min: 1, run: (*hookRun).dirname},
	"install":  {withArg: "mogt", run: (*hookRun).install},
	"ln":       {min: 1, run: (*hookRun).ln},
	"mkdir":    {withArg: "m", run: (*hookRun).mkdir},
	"mknod":    {withArg: "m", min: 2, run: (*hookRun).mknod},
	"mv":       {min: 2, run: (*hookRun).mv},
	"readlink": {min: 1, max: 1, run: (*hookRun).readlink},
	"rm":       {run: (*hookRun).rm},
	"sed":      {withArg: "e", run: (*hookRun).sed},
	"touch":    {run: (*hookRun).touch},
}

// call parses args as a's options and operands and runs it.
func (a applet) call(h *hookRun, args []string) error {
	o, rest := opts{}, args
	if !a.raw {
		var err error
		if o, rest, err = parseFlags(args, a.withArg); err != nil {
			return err
		}
	}
	switch {
	case len(rest) < a.min:
		return errors.New("missing operand")
	case a.max > 0 && len(rest) > a.max:
		return fmt.Errorf("extra operand %q", rest[a.max])
	}
	return a.run(h, o, rest)
}

// Error is a hook failure with the script's name and line.
type Error struct {
	Script string
	Line   uint
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("rootfs: hook %s line %d: %v", e.Script, e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknownCommand is wrapped by the error for a command outside the
// applet list.
var ErrUnknownCommand = errors.New("command not allowed in hooks")

var errIsDir = errors.New("is a directory")

type hookRun struct {
	t      rootfs.FS
	env    Env
	root   string // PkgDir/rootfs
	script string
	dir    string // the runner's cwd at the current command
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	fail   *Error
}

// RunHook runs a repo hook script against the tree with
// mvdan.cc/sh/v3/interp, routing every open, stat, readdir and command to
// the tree and the built-in applets (mkdir, ln, rm, cp, mv, chmod, chown,
// touch, mknod, echo, cat, sed -i, install, basename, dirname, readlink,
// test). The script runs with `set -e`, as VIC's build scripts do.
func Run(ctx context.Context, t rootfs.FS, name string, script []byte, env Env) error {
	if env.PkgDir == "" {
		env.PkgDir = "/vicroot/pkg"
	}
	if env.RepoDir == "" {
		env.RepoDir = "/vicroot/repo"
	}
	env.PkgDir, env.RepoDir = path.Clean(env.PkgDir), path.Clean(env.RepoDir)
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	h := &hookRun{t: t, env: env, root: env.PkgDir + "/rootfs", script: name}
	file, err := syntax.NewParser().Parse(bytes.NewReader(script), name)
	if err != nil {
		return fmt.Errorf("rootfs: hook %s: %w", name, err)
	}
	prelude, err := syntax.NewParser().Parse(strings.NewReader(hookPrelude), "prelude")
	if err != nil {
		return err
	}
	vars := []string{"PKGDIR=" + env.PkgDir, "REPODIR=" + env.RepoDir, "PATH=/usr/bin:/bin", "HOME=/root", "DIR=" + env.PkgDir}
	for k, v := range env.Vars {
		vars = append(vars, k+"="+v)
	}
	r, err := interp.New(
		interp.Env(expand.ListEnviron(vars...)),
		interp.StdIO(bytes.NewReader(nil), env.Stdout, env.Stderr),
		interp.Params("-e"),
		interp.OpenHandler(h.open),
		interp.StatHandler(h.stat),
		interp.ReadDirHandler2(h.readDir),
		interp.AccessHandler(h.access),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return h.exec }),
	)
	if err != nil {
		return fmt.Errorf("rootfs: hook %s: %w", name, err)
	}
	r.Dir = env.PkgDir
	if err := r.Run(ctx, prelude); err != nil {
		return err
	}
	err = r.Run(ctx, file)
	if h.fail != nil {
		return h.fail
	}
	if err != nil {
		return fmt.Errorf("rootfs: hook %s: %w", name, err)
	}
	return nil
}

func (h *hookRun) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	h.dir, h.stdout, h.stderr, h.stdin = hc.Dir, hc.Stdout, hc.Stderr, hc.Stdin
	a, ok := applets[path.Base(args[0])]
	if !ok || strings.Contains(args[0], "/") && !strings.HasPrefix(args[0], "/bin/") && !strings.HasPrefix(args[0], "/usr/bin/") {
		h.fail = &Error{Script: h.script, Line: hc.Pos.Line(), Err: fmt.Errorf("%w: %s", ErrUnknownCommand, args[0])}
		return h.fail
	}
	if err := a.call(h, args[1:]); err != nil {
		fmt.Fprintf(h.stderr, "%s: %v\n", args[0], err)
		h.fail = &Error{Script: h.script, Line: hc.Pos.Line(), Err: fmt.Errorf("%s: %w", strings.Join(args, " "), err)}
		return interp.NewExitStatus(1)
	}
	return nil
}

// place says where a host-style path of the script lands.
type place struct {
	tree string // tree name, when inside the tree
	repo string // RepoFS name, when inside the definition folder
	dir  bool   // a virtual directory above the tree (/, PkgDir)
	null bool   // /dev/null
}

var errOutside = errors.New("path outside the tree")

func (h *hookRun) resolve(dir, p string) (place, error) {
	if p == "" {
		return place{}, fs.ErrInvalid
	}
	if !path.IsAbs(p) {
		p = path.Join(dir, p)
	}
	p = path.Clean(p)
	switch {
	case p == "/dev/null":
		return place{null: true}, nil
	case p == h.root:
		return place{tree: "."}, nil
	case strings.HasPrefix(p, h.root+"/"):
		return place{tree: p[len(h.root)+1:]}, nil
	case h.env.RepoFS != nil && p == h.env.RepoDir:
		return place{repo: "."}, nil
	case h.env.RepoFS != nil && strings.HasPrefix(p, h.env.RepoDir+"/"):
		return place{repo: p[len(h.env.RepoDir)+1:]}, nil
	case p == "/" || p == h.env.PkgDir || strings.HasPrefix(h.env.PkgDir, p+"/"):
		return place{dir: true}, nil
	}
	return place{}, fmt.Errorf("%s: %w (the tree is %s)", p, errOutside, h.root)
}

// treePath resolves an argument that must name something in the tree.
func (h *hookRun) treePath(p string) (string, error) {
	pl, err := h.resolve(h.dir, p)
	if err != nil {
		return "", err
	}
	if pl.tree == "" {
		return "", fmt.Errorf("%s: %w", p, errOutside)
	}
	return pl.tree, nil
}

type virtualDir string

func (v virtualDir) Name() string       { return path.Base(string(v)) }
func (v virtualDir) Size() int64        { return 0 }
func (v virtualDir) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (v virtualDir) ModTime() time.Time { return time.Unix(0, 0) }
func (v virtualDir) IsDir() bool        { return true }
func (v virtualDir) Sys() any           { return nil }

func (h *hookRun) stat(ctx context.Context, name string, follow bool) (fs.FileInfo, error) {
	pl, err := h.resolve(interp.HandlerCtx(ctx).Dir, name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	switch {
	case pl.dir:
		return virtualDir(name), nil
	case pl.null:
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	case pl.repo != "":
		return fs.Stat(h.env.RepoFS, pl.repo)
	case follow:
		return h.t.Stat(pl.tree)
	}
	return h.t.Lstat(pl.tree)
}

func (h *hookRun) access(ctx context.Context, name string, mode interp.AccessMode) error {
	_, err := h.stat(ctx, name, true)
	return err
}

func (h *hookRun) readDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	pl, err := h.resolve(interp.HandlerCtx(ctx).Dir, name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	switch {
	case pl.repo != "":
		return fs.ReadDir(h.env.RepoFS, pl.repo)
	case pl.tree != "":
		return h.t.ReadDir(pl.tree)
	}
	return nil, nil
}

// treeWriter collects a redirection's output and stores it on Close.
type treeWriter struct {
	bytes.Buffer
	t    rootfs.FS
	name string
}

func (w *treeWriter) Read([]byte) (int, error) { return 0, io.EOF }
func (w *treeWriter) Close() error {
	return w.t.WriteFile(w.name, w.Bytes(), 0o644)
}

type readOnly struct{ io.Reader }

func (readOnly) Write([]byte) (int, error) { return 0, fs.ErrPermission }
func (readOnly) Close() error              { return nil }

type nullFile struct{}

func (nullFile) Read([]byte) (int, error)    { return 0, io.EOF }
func (nullFile) Write(p []byte) (int, error) { return len(p), nil }
func (nullFile) Close() error                { return nil }

func (h *hookRun) open(ctx context.Context, name string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	pl, err := h.resolve(interp.HandlerCtx(ctx).Dir, name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	switch {
	case pl.null:
		return nullFile{}, nil
	case pl.repo != "":
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		data, err := fs.ReadFile(h.env.RepoFS, pl.repo)
		if err != nil {
			return nil, err
		}
		return readOnly{bytes.NewReader(data)}, nil
	case pl.dir:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errIsDir}
	}
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		data, err := h.t.ReadFile(pl.tree)
		if err != nil {
			return nil, err
		}
		return readOnly{bytes.NewReader(data)}, nil
	}
	w := &treeWriter{t: h.t, name: pl.tree}
	if flag&os.O_APPEND != 0 {
		if old, err := h.t.ReadFile(pl.tree); err == nil {
			w.Write(old)
		}
	}
	if flag&os.O_CREATE == 0 {
		if _, err := h.t.Stat(pl.tree); err != nil {
			return nil, err
		}
	}
	// Create it now, so the file exists even before Close.
	if _, err := h.t.Stat(pl.tree); err != nil {
		if err := h.t.WriteFile(pl.tree, nil, perm&^0o022); err != nil {
			return nil, err
		}
	}
	return w, nil
}
