package rpmdb

import "errors"

// ReadSQLite reads rpmdb.sqlite.
func ReadSQLite(name string, data []byte) ([]Installed, error) {
	return nil, errors.New("rpmdb: sqlite not yet")
}

func pubkeyBlobs(k []byte, o Options) ([][]byte, error) {
	return nil, errors.New("rpmdb: keys not yet")
}
