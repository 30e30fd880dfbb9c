package depmod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/vicroot/vicroot/internal/decompress"
	"github.com/vicroot/vicroot/internal/workers"
)

// MaxModuleSize bounds the uncompressed size of one module file, so that a
// hostile compressed file cannot exhaust memory. The largest module of a
// distribution kernel is a few tens of MiB.
const MaxModuleSize = 1 << 30

// Decompressed is one compressed module to replace: write Data to Path and
// remove Compressed, keeping the compressed file's mode, owner and times,
// as `xz -d` does.
type Decompressed struct {
	Compressed string // e.g. lib/modules/KVER/kernel/fs/ext4/ext4.ko.xz
	Path       string // the same without the compression suffix
	Data       []byte
}

// moduleSuffixes are the compressed module names VIC's `xz -d` step and
// kmod know; the decoder is internal/decompress's for the suffix.
var moduleSuffixes = []string{".ko.xz", ".ko.gz", ".ko.zst"}

// Decompress finds every regular file named *.ko.xz, *.ko.gz or *.ko.zst
// under lib/modules/KVER of fsys (fsys is rooted at the tree's root; symbolic
// links are not followed, as find(1) does not) and returns their uncompressed
// contents, sorted by path. It writes nothing: the caller replaces each
// Compressed file by Path. A file that does not decompress, or whose
// uncompressed name already exists, is an error naming it.
func Decompress(ctx context.Context, fsys fs.FS, kver string) ([]Decompressed, error) {
	if err := checkKver(kver); err != nil {
		return nil, err
	}
	root := path.Join("lib/modules", kver)
	var todo []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		for _, ext := range moduleSuffixes {
			if strings.HasSuffix(p, ext) {
				todo = append(todo, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("depmod: decompress: %w", err)
	}
	slices.Sort(todo)
	// Every core decompresses; the result (and the error reported, the
	// first in path order) does not depend on how many.
	out := make([]Decompressed, len(todo))
	errs := make([]error, len(todo))
	workers.Each(len(todo), 0, func(i int) {
		out[i], errs[i] = decompressOne(ctx, fsys, todo[i])
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decompressOne decompresses the module at p (Decompress).
func decompressOne(ctx context.Context, fsys fs.FS, p string) (Decompressed, error) {
	if err := ctx.Err(); err != nil {
		return Decompressed{}, err
	}
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return Decompressed{}, fmt.Errorf("depmod: decompress: %w", err)
	}
	plain, ext, err := decompressByExt(p, data)
	if err != nil {
		return Decompressed{}, err
	}
	dst := strings.TrimSuffix(p, ext) + ".ko"
	if _, err := fs.Stat(fsys, dst); err == nil {
		return Decompressed{}, fmt.Errorf("depmod: decompress %s: %s already exists", p, dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Decompressed{}, fmt.Errorf("depmod: decompress %s: %w", p, err)
	}
	return Decompressed{Compressed: p, Path: dst, Data: plain}, nil
}

// decompressByExt decompresses data by the compressor its name says.
func decompressByExt(name string, data []byte) ([]byte, string, error) {
	for _, ext := range moduleSuffixes {
		if strings.HasSuffix(name, ext) {
			plain, err := readAllLimited(name, data, decompress.ByName(name))
			return plain, ext, err
		}
	}
	return nil, "", fmt.Errorf("depmod: decompress %s: unknown compression suffix", name)
}

func readAllLimited(name string, data []byte, f decompress.Format) ([]byte, error) {
	var r io.ReadCloser
	var err error
	if f == decompress.Xz {
		// A dictionary no bigger than the module: `xz -6` asks for 8 MiB,
		// which the decoder would allocate for each module (the decoders
		// are pooled: one that decoded a bigger stream reuses its buffer).
		r, err = decompress.NewXzReaderAt(bytes.NewReader(data), int64(len(data)))
	} else {
		r, err = decompress.NewReader(bytes.NewReader(data), f, decompress.Options{MaxMemory: MaxModuleSize})
	}
	if err != nil {
		return nil, fmt.Errorf("depmod: decompress %s: %w", name, err)
	}
	defer r.Close()
	plain, err := io.ReadAll(io.LimitReader(r, MaxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("depmod: decompress %s: %w", name, err)
	}
	if len(plain) > MaxModuleSize {
		return nil, fmt.Errorf("depmod: decompress %s: more than %d bytes uncompressed", name, MaxModuleSize)
	}
	return plain, nil
}

// moduleBytes returns a module's ELF bytes the way Debian's libkmod opens a
// module: by magic number, zstd or xz (Debian's kmod 30 is built without
// zlib), otherwise the file as is. Like libkmod, it refuses files shorter
// than the longest magic.
func moduleBytes(name string, data []byte) ([]byte, error) {
	if len(data) < decompress.MagicLen {
		return nil, fmt.Errorf("depmod: module %s: %d bytes is too short for a module", name, len(data))
	}
	if f, ok := kmodCompressed(data); ok {
		return readAllLimited(name, data, f)
	}
	return data, nil
}

// kmodCompressed names the compression of a module starting with b when it
// is one libkmod opens by magic (zstd, xz).
func kmodCompressed(b []byte) (decompress.Format, bool) {
	f := decompress.ByMagic(b)
	return f, f == decompress.Zstd || f == decompress.Xz
}

func checkKver(kver string) error {
	if kver == "" || kver == "." || kver == ".." || strings.ContainsAny(kver, "/\x00") {
		return fmt.Errorf("depmod: bad kernel version %q", kver)
	}
	return nil
}
