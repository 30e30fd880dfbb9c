package ldso

import (
	"io/fs"
	"path"
	"sort"
)

// Tmpfs accounting. tmpfs charges whole pages for file data; its inodes,
// directory entries and short symlinks live in kernel memory outside the
// size limit, but counting one page for each keeps the estimate on the safe
// side, as VIC's /.tempfs_size must never be too small (vmware/vic#8616).
const (
	TmpfsPage = 4096
	// TmpfsMarginPercent and TmpfsMarginBytes are added on top of the
	// page-rounded total: room for what tether writes at run time
	// (etc/hostname, hosts, resolv.conf, the xtables lock in run/, the
	// stray links of legacy init.sh) and for page-size or filesystem
	// overhead differences.
	TmpfsMarginPercent = 25
	TmpfsMarginBytes   = 1 << 20
)

// TmpfsEntry is one file, directory or symlink to be placed on the tmpfs.
type TmpfsEntry struct {
	Path string      // destination path; its parent directories are counted too
	Size int64       // bytes of content (files)
	Mode fs.FileMode // type bits matter: ModeDir, ModeSymlink, or regular
}

// TmpfsSize returns the bytes entries occupy on a tmpfs — every file
// rounded up to whole 4 KiB pages (at least one), every directory (including
// implied parents, once) and symlink one page — and the size in whole MiB
// (rounded up) to give the tmpfs: that total plus TmpfsMarginPercent percent
// plus TmpfsMarginBytes.
func TmpfsSize(entries []TmpfsEntry) (bytes int64, mb int64) {
	dirs := map[string]bool{}
	seen := map[string]bool{}
	sorted := append([]TmpfsEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, e := range sorted {
		p := path.Clean("/" + e.Path)
		for d := path.Dir(p); d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
		if e.Mode.IsDir() {
			dirs[p] = true
			continue
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		pages := (e.Size + TmpfsPage - 1) / TmpfsPage
		if pages < 1 || e.Mode&fs.ModeSymlink != 0 {
			pages = max(pages, 1)
		}
		bytes += pages * TmpfsPage
	}
	bytes += int64(len(dirs)) * TmpfsPage
	total := bytes + bytes*TmpfsMarginPercent/100 + TmpfsMarginBytes
	mb = (total + (1<<20 - 1)) >> 20
	return bytes, mb
}
