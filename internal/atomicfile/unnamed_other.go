//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

func openUnnamed(string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
