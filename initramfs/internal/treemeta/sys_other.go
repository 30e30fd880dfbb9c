//go:build !linux

package treemeta

import "io/fs"

// fromSys knows no host stat layout off Linux: trees on disk get owner 0
// and no hardlinks there; the in-memory tree carries its own metadata.
func fromSys(fs.FileInfo, *Entry) {}
