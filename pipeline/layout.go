package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/ldso"
	"github.com/vicroot/vicroot/rootfs/sysconf"
	"github.com/vicroot/vicroot/vic"
)

// laidOut is the layout stage's result: what the report says of /.tether
// and the digests of the tether binaries, which the ISO records.
type laidOut struct {
	tether               *vic.TetherReport
	tetherSum, unpackSum string
	// appliance is the appliance layout's report; daemonSums the SHA-256
	// of each of VIC's daemons and homeSum that of the vicadmin-home
	// folder (dirSHA256) and home its entries, which the appliance ISO
	// records.
	appliance  *vic.ApplianceReport
	daemonSums map[string]string
	homeSum    string
	home       []HomeEntry
	// rpmdb says what became of the image's rpm database.
	rpmdb string
}

// layout checks --bin's tether and unpack against the image's kernel (VIC
// PR #8333) and adds VIC's bootstrap files to the tree.
func layout(ctx context.Context, src *source, root *installed, bin Dir) (*laidOut, error) {
	tether, tsum, err := readBin(bin, "tether-linux")
	if err != nil {
		return nil, err
	}
	unpack, usum, err := readBin(bin, "unpack")
	if err != nil {
		return nil, err
	}
	for _, n := range []string{"tether-linux", "unpack"} {
		if err := ldso.CheckKernel(ctx, bin.FS, n, root.kernel); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(bin.Name, n), err)
		}
	}
	rep, err := vic.BootstrapLayout(ctx, root.tree, vic.BootstrapInput{
		Definition: src.def, Kernel: root.kernel, Keys: src.repos.imageKeys, Tether: tether, Unpack: unpack,
	})
	if err != nil {
		return nil, err
	}
	return &laidOut{tether: rep, tetherSum: tsum, unpackSum: usum}, nil
}

// readBin reads a file of --bin and its SHA-256.
func readBin(bin Dir, name string) ([]byte, string, error) {
	if bin.FS == nil {
		return nil, "", fmt.Errorf("no --bin folder for %s", name)
	}
	data, err := fs.ReadFile(bin.FS, name)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w (build it, e.g. `make testbin` for the test tether, or point --bin at VIC's bin/)", filepath.Join(bin.Name, name), err)
	}
	s := sha256.Sum256(data)
	return data, hex.EncodeToString(s[:]), nil
}

// applianceLayout checks --bin's daemons against the image's kernel and
// lays VIC's appliance out on the tree (vic.ApplianceLayout).
func applianceLayout(ctx context.Context, src *source, root *installed, bin Dir) (*laidOut, error) {
	out := &laidOut{daemonSums: map[string]string{}}
	daemons := map[string][]byte{}
	for _, d := range vic.ApplianceDaemons {
		data, sum, err := readBin(bin, d.Name)
		if err != nil {
			return nil, fmt.Errorf("VIC's %s: %w", d.Name, err)
		}
		if err := ldso.CheckKernel(ctx, bin.FS, d.Name, root.kernel); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(bin.Name, d.Name), err)
		}
		daemons[d.Name], out.daemonSums[d.Name] = data, sum
	}
	home, err := fs.Sub(bin.FS, vic.VicadminHomeDir)
	if err == nil {
		_, err = fs.Stat(bin.FS, vic.VicadminHomeDir)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (its content becomes /home/vicadmin)", filepath.Join(bin.Name, vic.VicadminHomeDir), err)
	}
	if out.home, err = dirEntries(home); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(bin.Name, vic.VicadminHomeDir), err)
	}
	out.homeSum = entriesSHA256(out.home)
	// The tree with the accounts and systemctl verbs of sysconf.
	t := struct {
		*rootfs.Tree
		*sysconf.System
	}{root.tree, root.sys}
	if out.appliance, err = vic.ApplianceLayout(ctx, t, vic.ApplianceInput{
		Definition: src.def, Keys: src.repos.imageKeys, Daemons: daemons, Home: home,
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// HomeEntry is one file or folder of --bin's vicadmin-home, as an
// appliance ISO records it (Inputs.VicadminHome) so that verify can take
// the folder back from the ISO's /home/vicadmin: its path ("." is the
// folder itself), its mode (st_mode: type and permission bits) and, for a
// file, its SHA-256.
type HomeEntry struct {
	Path   string `json:"path"`
	Mode   uint32 `json:"mode"`
	SHA256 string `json:"sha256,omitempty"`
}

// dirEntries lists a folder's files and folders in walk order.
func dirEntries(fsys fs.FS) ([]HomeEntry, error) {
	var out []HomeEntry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := HomeEntry{Path: p, Mode: fsmeta.UnixMode(fi.Mode())}
		if d.Type().IsRegular() {
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(s[:])
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// entriesSHA256 is one digest of a folder's entries: the SHA-256 of "mode
// path sha256" lines in walk order (the mode as Go prints an fs.FileMode).
func entriesSHA256(entries []HomeEntry) string {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%v %s %s\n", fsmeta.FileMode(e.Mode), e.Path, e.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dirSHA256 is entriesSHA256 of a folder.
func dirSHA256(fsys fs.FS) (string, error) {
	entries, err := dirEntries(fsys)
	if err != nil {
		return "", err
	}
	return entriesSHA256(entries), nil
}
