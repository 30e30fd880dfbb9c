package ldso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errNoSystemDirs is returned when a loader's default directories cannot be
// found in it.
var errNoSystemDirs = errors.New("default directories (system_dirs) not found in the loader; set Options.DefaultDirs")

// loaderSystemDirs reads glibc's default search directories out of ld.so.
// dl-load.c keeps them as `system_dirs`, NUL-separated "/dir/" strings,
// next to `system_dirs_len`, an array of their lengths (size_t). The pair
// is located by requiring both to agree, which no other data does.
func loaderSystemDirs(r io.ReaderAt, size int64, class elf.Class) ([]string, error) {
	if size > 64<<20 {
		return nil, fmt.Errorf("loader of %d bytes is too large", size)
	}
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, err
	}
	word := 8
	if class == elf.ELFCLASS32 {
		word = 4
	}
	for i := 1; i < len(data); i++ {
		if data[i] != '/' || data[i-1] != 0 {
			continue
		}
		dirs := dirRun(data[i:])
		for k := len(dirs); k >= 1; k-- {
			if i < k*word {
				continue
			}
			ok := true
			for j := 0; j < k && ok; j++ {
				b := data[i-k*word+j*word:]
				var n uint64
				if word == 8 {
					n = binary.LittleEndian.Uint64(b)
				} else {
					n = uint64(binary.LittleEndian.Uint32(b))
				}
				ok = n == uint64(len(dirs[j]))
			}
			if ok {
				return dirs[:k], nil
			}
		}
	}
	return nil, errNoSystemDirs
}

// dirRun returns the consecutive NUL-terminated strings at the start of b
// that look like "/dir/".
func dirRun(b []byte) []string {
	var out []string
	for len(b) > 0 && b[0] == '/' {
		n := bytes.IndexByte(b, 0)
		if n < 2 || n > 4096 || b[n-1] != '/' {
			break
		}
		out = append(out, string(b[:n]))
		b = b[n+1:]
	}
	return out
}
