package decompress

import (
	"bufio"
	"io"

	"github.com/ulikunitz/xz"
)

// UlikunitzXzReaderAt is NewXzReaderAt as it was before the decoder
// changed: github.com/ulikunitz/xz's decoder reading the same stream with
// the same bounded dictionaries, the baseline of BenchmarkXzDecode and
// the second decoder of the differential fuzz targets.
func UlikunitzXzReaderAt(r io.ReaderAt, size int64) (io.Reader, error) {
	src, _ := xzSource(r, size)
	return xz.NewReader(bufio.NewReaderSize(src, 64<<10))
}

// XzCompress is xzCompress for the external test package.
var XzCompress = xzCompress
