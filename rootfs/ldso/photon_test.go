package ldso_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/ldso"
)

// extractRepo unpacks the test repository's x86_64 packages (filesystem
// first, so that its directory links are in place; the kernel left out)
// with rpm2cpio | cpio -idm, as VIC unpacks a kernel RPM.
func extractRepo(t *testing.T) string {
	t.Helper()
	repo := testrepo.Dir(t)
	testrepo.NeedTools(t, "rpm2cpio", "cpio")
	rpms, err := filepath.Glob(filepath.Join(repo, "photon", "*.x86_64.rpm"))
	must(t, err)
	sort.Slice(rpms, func(i, j int) bool {
		fi, fj := strings.Contains(filepath.Base(rpms[i]), "filesystem-"), strings.Contains(filepath.Base(rpms[j]), "filesystem-")
		if fi != fj {
			return fi
		}
		return rpms[i] < rpms[j]
	})
	root := t.TempDir()
	for _, r := range rpms {
		if strings.HasPrefix(filepath.Base(r), "linux-") {
			continue
		}
		cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", r)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("extracting %s: %v\n%s", r, err, out)
		}
	}
	return root
}

// TestResolvePhotonRepo is the acceptance check of the test repository:
// iptables, haveged and every iptables extension, resolved over the
// extracted packages, equal what the tree's own loader lists.
func TestResolvePhotonRepo(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "chroot")
	root := extractRepo(t)
	fsys := os.DirFS(root)
	ctx := context.Background()
	libx, err := filepath.Glob(filepath.Join(root, "usr/lib*/*/libxtables.so.*[0-9]"))
	must(t, err)
	if len(libx) == 0 {
		libx, err = filepath.Glob(filepath.Join(root, "usr/lib*/libxtables.so.*[0-9]"))
		must(t, err)
	}
	if len(libx) == 0 {
		t.Fatal("no libxtables in the repository's packages")
	}
	dir, err := ldso.XtablesDir(context.Background(), fsys, strings.TrimPrefix(libx[0], root))
	must(t, err)
	exts, err := ldso.Extensions(ctx, fsys, dir)
	must(t, err)
	if len(exts) == 0 {
		t.Fatalf("no extensions in %s", dir)
	}
	roots := append([]string{"/sbin/iptables", "/usr/sbin/haveged"}, exts...)
	for _, bin := range roots {
		c, err := ldso.Resolve(ctx, fsys, []string{bin}, ldso.Options{IgnoreCache: true})
		if err != nil {
			t.Fatalf("Resolve %s: %v", bin, err)
		}
		compareWithLoader(t, root, c, bin, true)
	}
	all, err := ldso.Resolve(ctx, fsys, roots, ldso.Options{})
	must(t, err)
	t.Logf("xtables dir %s, %d extensions, %d objects", dir, len(exts), len(all.Objects))
}
