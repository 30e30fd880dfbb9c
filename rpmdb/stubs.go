package rpmdb

import "errors"

func pubkeyBlobs(k []byte, o Options) ([][]byte, error) {
	return nil, errors.New("rpmdb: keys not yet")
}
