package ldso

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// ErrKernelTooOld is returned (wrapped) by CheckKernel.
var ErrKernelTooOld = errors.New("kernel too old")

// Version is a Linux kernel version.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compare returns -1, 0 or 1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	for _, d := range [3]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// IsZero reports whether no requirement is known.
func (v Version) IsZero() bool { return v == Version{} }

// ParseKernelVersion reads the leading numbers of a kernel release as
// `uname -r` prints it ("6.1.0-56-amd64", "4.19.87-1.ph3-esx", "5.10").
func ParseKernelVersion(s string) (Version, error) {
	var v Version
	rest := s
	fields := []*int{&v.Major, &v.Minor, &v.Patch}
	for i, f := range fields {
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 0 || j > 9 {
			if i >= 2 { // "5.10" or "5.10-rc1": no patch level
				break
			}
			return Version{}, fmt.Errorf("ldso: kernel version %q: want MAJOR.MINOR[.PATCH]", s)
		}
		n, _ := strconv.Atoi(rest[:j])
		*f = n
		rest = rest[j:]
		if i < 2 {
			if !strings.HasPrefix(rest, ".") {
				if i == 0 {
					return Version{}, fmt.Errorf("ldso: kernel version %q: want MAJOR.MINOR[.PATCH]", s)
				}
				break
			}
			rest = rest[1:]
		}
	}
	return v, nil
}

// goMinKernel maps a Go release and GOARCH to the oldest Linux kernel its
// runtime supports, as the Go wiki's Linux page and release notes state:
// 3.2 from Go 1.24 (go.dev/doc/go1.24#linux), 2.6.32 for Go 1.19 to 1.23,
// 2.6.23 before (final: Go 1.18.10); ARM needed 3.1 before 1.24, loong64
// 5.19, mips64le 4.8.
func goMinKernel(goVersion, goarch string) (Version, error) {
	s := strings.TrimPrefix(goVersion, "go")
	if i := strings.IndexAny(s, " -+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return Version{}, fmt.Errorf("Go version %q is not go1.N", goVersion)
	}
	minorStr := parts[1]
	for i := 0; i < len(minorStr); i++ {
		if minorStr[i] < '0' || minorStr[i] > '9' {
			minorStr = minorStr[:i] // "24rc1"
			break
		}
	}
	minor, err := strconv.Atoi(minorStr)
	if err != nil {
		return Version{}, fmt.Errorf("Go version %q is not go1.N", goVersion)
	}
	switch goarch {
	case "loong64":
		return Version{5, 19, 0}, nil
	case "mips64le":
		return Version{4, 8, 0}, nil
	}
	switch {
	case minor >= 24:
		return Version{3, 2, 0}, nil
	case goarch == "arm":
		return Version{3, 1, 0}, nil
	case minor >= 19:
		return Version{2, 6, 32}, nil
	default:
		return Version{2, 6, 23}, nil
	}
}

// MinKernel returns the oldest kernel the executable at p (a path in fsys,
// symlinks resolved inside the tree) runs on, and where that came from: the
// ELF NT_GNU_ABI_TAG note (.note.ABI-tag, which glibc's startup compares
// with the running kernel: "FATAL: kernel too old") and, for Go binaries,
// the Go runtime's minimum for its release and GOARCH; the newer of the two
// when both exist. A zero Version with source "" means neither is known.
// For a dynamic executable the note of the loader and of each library
// counts too: call MinKernel on every object of its Closure.
func MinKernel(ctx context.Context, fsys fs.FS, p string) (Version, string, error) {
	if err := ctx.Err(); err != nil {
		return Version{}, "", err
	}
	t, err := newTree(fsys)
	if err != nil {
		return Version{}, "", err
	}
	canon, fi, err := t.canon(p)
	if err != nil {
		return Version{}, "", fmt.Errorf("ldso: %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return Version{}, "", fmt.Errorf("ldso: %s is not a regular file", p)
	}
	ra, size, closeFn, err := t.open(canon)
	if err != nil {
		return Version{}, "", fmt.Errorf("ldso: %s: %w", p, err)
	}
	defer closeFn()
	f, err := readELF(p, ra, size)
	if err != nil {
		return Version{}, "", fmt.Errorf("ldso: %w", err)
	}
	var best Version
	source := ""
	ns, err := f.notes(progNote)
	if err != nil {
		return Version{}, "", fmt.Errorf("ldso: %w", err)
	}
	for _, n := range ns {
		if n.name != "GNU" || n.typ != ntGNUABITag {
			continue
		}
		if len(n.desc) < 16 {
			return Version{}, "", fmt.Errorf("ldso: %s: NT_GNU_ABI_TAG descriptor of %d bytes, want 16", p, len(n.desc))
		}
		if f.order.Uint32(n.desc) != 0 { // ELF_NOTE_OS_LINUX
			continue
		}
		v := Version{int(f.order.Uint32(n.desc[4:])), int(f.order.Uint32(n.desc[8:])), int(f.order.Uint32(n.desc[12:]))}
		if v.Compare(best) > 0 {
			best, source = v, "NT_GNU_ABI_TAG of "+p
		}
	}
	if bi, err := buildinfo.Read(ra); err == nil {
		goarch := ""
		for _, s := range bi.Settings {
			if s.Key == "GOARCH" {
				goarch = s.Value
			}
		}
		v, err := goMinKernel(bi.GoVersion, goarch)
		if err != nil {
			return Version{}, "", fmt.Errorf("ldso: %s: %w", p, err)
		}
		if v.Compare(best) > 0 {
			best, source = v, fmt.Sprintf("Go runtime %s (%s) of %s", bi.GoVersion, goarch, p)
		}
	}
	return best, source, nil
}

const (
	ntGNUABITag = 1
	progNote    = elf.PT_NOTE
)

// CheckKernel returns an error wrapping ErrKernelTooOld, naming both
// versions and where the requirement comes from, when the executable at p
// needs a newer kernel than kernel (a `uname -r` string).
func CheckKernel(ctx context.Context, fsys fs.FS, p, kernel string) error {
	have, err := ParseKernelVersion(kernel)
	if err != nil {
		return err
	}
	need, source, err := MinKernel(ctx, fsys, p)
	if err != nil {
		return err
	}
	if need.Compare(have) > 0 {
		return fmt.Errorf("ldso: %s needs Linux %s or newer (%s), the image's kernel is %s: %w", p, need, source, kernel, ErrKernelTooOld)
	}
	return nil
}
