// Command unpack is vicroot's test stand-in for VIC's unpack binary (the
// one `docker cp` runs inside a containerVM as /.tether/unpack, and the
// appliance as /bin/unpack): it extracts a tar stream from stdin into the
// directory named by its only argument.
//
//	unpack DIR < archive.tar
//
// Regular files, directories, symlinks and hardlinks are restored with their
// modes and modification times, and with their owners when running as root.
// Every path is resolved inside DIR (os.Root), so an entry such as
// "../x", "/etc/x" or a write through a symlink that points outside DIR is
// refused. Other entry types (devices, fifos) are reported and skipped. It is
// not VIC's archive package: no filters, no rebasing, no xattrs.
package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: unpack DIR < archive.tar")
		os.Exit(2)
	}
	if err := unpack(os.Stdin, os.Args[1], os.Geteuid() == 0, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "unpack:", err)
		os.Exit(1)
	}
}

// dirTime is a directory whose mtime is set after its contents are written.
type dirTime struct {
	name  string
	mtime time.Time
}

// unpack extracts the tar stream r under dir. chown restores owners; warn
// receives one line per skipped entry.
func unpack(r io.Reader, dir string, chown bool, warn io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()

	var dirs []dirTime
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		name, err := clean(h.Name)
		if err != nil {
			return fmt.Errorf("entry %q: %w", h.Name, err)
		}
		if name == "." {
			if h.Typeflag == tar.TypeDir {
				dirs = append(dirs, dirTime{".", h.ModTime})
			}
			continue
		}
		if parent := path.Dir(name); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
		}
		mode := fs.FileMode(h.Mode).Perm() | fs.FileMode(h.Mode)&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
			dirs = append(dirs, dirTime{name, h.ModTime})
		case tar.TypeReg:
			if err := writeFile(root, name, tr); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
		case tar.TypeLink:
			target, err := clean(h.Linkname)
			if err != nil {
				return fmt.Errorf("entry %q: link target %q: %w", h.Name, h.Linkname, err)
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
			continue // the target's metadata is already in place
		default:
			fmt.Fprintf(warn, "unpack: skipping %q: unsupported type %q\n", h.Name, h.Typeflag)
			continue
		}
		if chown {
			if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
		}
		if h.Typeflag == tar.TypeSymlink {
			continue // no lchmod/lutimes through os.Root
		}
		if err := root.Chmod(name, mode); err != nil {
			return fmt.Errorf("entry %q: %w", h.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if err := root.Chtimes(name, h.ModTime, h.ModTime); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
		}
	}
	// Directory mtimes last, deepest first, since writing entries changes them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chtimes(dirs[i].name, dirs[i].mtime, dirs[i].mtime); err != nil {
			return fmt.Errorf("directory %q: %w", dirs[i].name, err)
		}
	}
	return nil
}

// clean turns a tar name into a path relative to the extraction root,
// refusing absolute names and names that climb out with "..".
func clean(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute path")
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errors.New("path escapes the target directory")
	}
	return c, nil
}

func writeFile(root *os.Root, name string, r io.Reader) error {
	// Replace, never write through, an existing symlink or file.
	if fi, err := root.Lstat(name); err == nil && !fi.IsDir() {
		if err := root.Remove(name); err != nil {
			return err
		}
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
