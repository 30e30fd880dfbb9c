package pipeline

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// An ISO cut short — at 20 MB as a careless copy leaves it, inside the
// initramfs, inside the records, one byte before its end — is refused by
// inspect, diff and verify with an error naming the file and saying it is
// cut short; none of them reads it as a smaller image. Where each file
// lies is found with isoinfo (the oracle), not with our reader.
func TestTruncatedISOIsRefused(t *testing.T) {
	testrepo.NeedTools(t, "isoinfo")
	ctx := context.Background()
	opts, _ := testOptions(t)
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(res.ISO)
	if err != nil {
		t.Fatal(err)
	}
	at := func(isoPath string) int {
		t.Helper()
		data, err := exec.Command("isoinfo", "-R", "-i", res.ISO, "-x", "/"+isoPath).Output()
		if err != nil || len(data) < 64 {
			t.Fatalf("isoinfo -x /%s: %v (%d bytes)", isoPath, err, len(data))
		}
		i := bytes.Index(full, data)
		if i < 0 {
			t.Fatalf("/%s not found in the image", isoPath)
		}
		return i + len(data)/2
	}
	cuts := []struct {
		name string
		at   int
	}{
		{"inside the initramfs", at("boot/core.gz")},
		{"inside the records", at(ManifestPath)},
		{"inside the lock", at(RecordDir + "/lock.json")},
		{"one byte before the end of the volume", len(full) - 300<<10 - 1},
	}
	if len(full) > 20<<20 {
		cuts = append(cuts, struct {
			name string
			at   int
		}{"at 20 MB", 20 << 20})
	}
	for _, c := range cuts {
		t.Run(c.name, func(t *testing.T) {
			cut := filepath.Join(t.TempDir(), "cut.iso")
			if err := os.WriteFile(cut, full[:c.at], 0o644); err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Errorf("%s of an ISO cut at byte %d of %d succeeded", what, c.at, len(full))
					return
				}
				if !strings.Contains(err.Error(), cut) || !strings.Contains(err.Error(), "cut short") {
					t.Errorf("%s: %q does not name %s and say it is cut short", what, err, cut)
				}
			}
			f, err := os.Open(cut)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = Inspect(ctx, f, int64(c.at), cut)
			check("inspect", err)
			_, err = Diff(ctx, cut, res.ISO)
			check("diff", err)
			_, err = ReadRecord(ctx, cut)
			check("verify's record reader", err)
		})
	}
}
