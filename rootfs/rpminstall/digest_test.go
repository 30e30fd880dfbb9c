package rpminstall_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/fsmeta"
	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rootfs/sysconf"
)

// TestContentDigestsMatchSHA256Sum checks the SHA-256 the tree records
// for every regular file an RPM installs (the digest the mtree manifest
// and the SBOM print) against sha256sum of the same file extracted by
// rpm2cpio and GNU cpio. The packages include empty files (whose digest
// is sha256sum's of an empty file, not zeros), empty files with %ghost
// siblings, and hardlink sets, whose members carry no data in the
// archive but the last.
func TestContentDigestsMatchSHA256Sum(t *testing.T) {
	testrepo.NeedTools(t, "rpm2cpio", "cpio", "sha256sum", "sh")
	fx := testrepo.Fixtures(t)
	edir := t.TempDir()
	if err := os.WriteFile(filepath.Join(edir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := sha256sum(t, edir, []string{"empty"})["empty"]
	var emptySeen int
	for _, rel := range []string{
		"createrepo_c/packages/super_kernel-6.0.1-2.x86_64.rpm",
		"createrepo_c/packages/fake_bash-1.1.1-1.x86_64.rpm",
		"sassoftware-go-rpmutils/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
		"rpm-software-management-rpm/RPMS/hlinktest-1.0-1.noarch.rpm",
		"rpm-software-management-rpm/RPMS/hello-2.0-1.x86_64.rpm",
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			pkg := filepath.Join(fx, rel)
			dir := t.TempDir()
			cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet --no-absolute-filenames`, "sh", pkg)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("rpm2cpio | cpio: %v\n%s", err, out)
			}
			var files []string
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					rel, _ := filepath.Rel(dir, p)
					files = append(files, rel)
				}
				return err
			})
			if err != nil || len(files) == 0 {
				t.Fatalf("cpio extracted %d regular files (%v)", len(files), err)
			}
			want := sha256sum(t, dir, files)

			// Without a cache, then filling one, then through its index.
			cache := t.TempDir()
			for _, mode := range []string{"", cache, cache} {
				got := installedDigests(t, pkg, mode, dir)
				for p, w := range want {
					if got[p] != w {
						t.Errorf("%s: tree records %q, sha256sum says %s (cache %q)", p, got[p], w, mode)
					}
				}
				for p := range got {
					if _, ok := want[p]; !ok {
						t.Errorf("%s: in the tree, not extracted by cpio", p)
					}
				}
			}
			for _, w := range want {
				if w == empty {
					emptySeen++
				}
			}
		})
	}
	// The packages above hold four empty files: two in super_kernel, one
	// in fake_bash, and crypto-policies' libssh.txt (its other empty files
	// are %ghost, not in the archive).
	if emptySeen != 4 {
		t.Errorf("%d empty files among the extracted packages, want 4", emptySeen)
	}
}

// installedDigests installs pkg on an empty tree (through the payload
// cache when cache is not "") and returns the SHA-256 the tree records for
// each regular file; each file's content must be the bytes cpio extracted
// into dir.
func installedDigests(t *testing.T, pkg, cache, dir string) map[string]string {
	t.Helper()
	tr := rootfs.New()
	f := rpminstall.RPMFile{Path: pkg, Key: "sha256:" + filepath.Base(pkg)}
	if _, err := rpminstall.New(tr, sysconf.New(tr)).InstallRPM(context.Background(), f, rpminstall.InstallOptions{PayloadCache: cache}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := fs.WalkDir(tr, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := tr.Lstat(p)
		if err != nil {
			return err
		}
		m := fsmeta.Of(fi)
		if m == nil || m.SHA256 == nil {
			t.Errorf("%s: no recorded digest", p)
			return nil
		}
		got[p] = hex.EncodeToString(m.SHA256)
		data, err := fs.ReadFile(tr, p)
		if err != nil {
			return err
		}
		if want, err := os.ReadFile(filepath.Join(dir, p)); err == nil && !bytes.Equal(data, want) {
			t.Errorf("%s: content differs from what cpio extracted (cache %q)", p, cache)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sha256sum runs sha256sum on files (relative to dir) and returns the
// digest of each.
func sha256sum(t *testing.T, dir string, files []string) map[string]string {
	t.Helper()
	cmd := exec.Command("sha256sum", append([]string{"--"}, files...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sha256sum: %v", err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("sha256sum line %q", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}
