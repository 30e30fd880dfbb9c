package pipeline

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/vicroot/vicroot/internal/rpmhdr"
	"github.com/vicroot/vicroot/rpmdb"
	"github.com/vicroot/vicroot/vic"
)

// rpmdbDir is where the image's rpm keeps its database.
const rpmdbDir = "var/lib/rpm"

// imageRPMDB writes the image's rpm database (/var/lib/rpm), which the
// appliance's rpm and tdnf read: in the format the image's own rpm uses
// (rpmdb.Detect: %_db_backend in its macros, else BDB for a librpm older
// than 4.16's, as Photon 2.0's; nothing without rpm, tdnf or librpm), with
// one gpg-pubkey entry per key the image carries (as tdnf's key import
// leaves them), then the installed packages' headers as rpm stores them, in
// install order, installed at the build's epoch. It returns what the
// report says of it.
func imageRPMDB(ctx context.Context, root *installed, pl *plans, got *fetched, keys []vic.ImageKey, epoch time.Time) (string, error) {
	format, err := rpmdb.Detect(root.tree)
	if err != nil {
		return "", err
	}
	if format == rpmdb.None {
		return "not written: the image has no rpm, tdnf or librpm", nil
	}
	var pkgs []rpmdb.Package
	rpmVersion := ""
	for _, p := range pl.installed {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		hf, err := readHeaders(got.files[p])
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.NEVRA(), err)
		}
		pkgs = append(pkgs, rpmdb.Package{Sig: hf.Sig.Raw, Main: hf.Main.Raw})
		if p.Name == "rpm" {
			rpmVersion = p.Version
		}
	}
	var armored [][]byte
	for _, k := range keys {
		armored = append(armored, k.Armored)
	}
	files, err := rpmdb.Write(format, pkgs, rpmdb.Options{
		InstallTime: uint32(epoch.Unix()), Color: 3, Keys: armored, RPMVersion: rpmVersion,
	})
	if err != nil {
		return "", err
	}
	if err := root.tree.MkdirAll(rpmdbDir, 0o755); err != nil {
		return "", err
	}
	for _, f := range files {
		if err := root.tree.WriteFile(rpmdbDir+"/"+f.Name, f.Data, 0o644); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s database in /%s: %d packages and %d gpg-pubkey entries", format, rpmdbDir, len(pkgs), len(keys)), nil
}

// readHeaders reads the signature and main header of an RPM file.
func readHeaders(p string) (*rpmhdr.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return rpmhdr.ReadFile(f, fi.Size())
}
