package pipeline

import (
	"context"
)

// imageRPMDB is the seam for the image's rpm database (/var/lib/rpm),
// which the appliance's rpm and tdnf read: it is to detect the format from
// the installed rpm (Berkeley DB for rpm < 4.16 such as Photon 2.0's,
// sqlite where the macros say so, none without librpm) and write the
// installed headers of pl.installed with one gpg-pubkey entry per imported
// key. Until that writer lands it writes nothing and says so; the report
// carries the sentence.
func imageRPMDB(ctx context.Context, root *installed, pl *plans, got *fetched) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return "not written: this vicroot has no rpmdb writer yet, so the image's rpm and tdnf see no installed packages", nil
}
