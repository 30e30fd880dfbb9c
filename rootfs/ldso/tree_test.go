package ldso_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/rootfs/ldso"
)

func link(target string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink}
}

// TestTreeResolution checks symlink handling inside an in-memory tree:
// ".." never climbs above the root, absolute targets are relative to it,
// dangling links are skipped and loops are errors.
func TestTreeResolution(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"usr/lib/real/libxt_a.so":        {Data: []byte("a")},
		"usr/lib/real/libxt_b.so":        link("/usr/lib/real/libxt_a.so"),
		"usr/lib/real/libxt_dangling.so": link("nowhere.so"),
		"usr/lib/real/libxt_loop.so":     link("libxt_loop.so"),
		"usr/lib/real/notes.txt":         {Data: []byte("x")},
		"usr/lib/real/libxt_dir.so":      {Mode: fs.ModeDir},
		"usr/lib/xt":                     link("../../../../../usr/lib/real"),
		"etc/loop1":                      link("/etc/loop2"),
		"etc/loop2":                      link("loop1"),
	}
	got, err := ldso.Extensions(ctx, fsys, "/usr/lib/xt")
	if err != nil {
		t.Fatal(err)
	}
	want := "/usr/lib/xt/libxt_a.so /usr/lib/xt/libxt_b.so"
	if strings.Join(got, " ") != want {
		t.Errorf("Extensions = %v, want %s", got, want)
	}
	if _, err := ldso.Extensions(ctx, fsys, "/etc/loop1"); !errors.Is(err, ldso.ErrLoop) {
		t.Errorf("loop: %v", err)
	}
	if _, err := ldso.Extensions(ctx, fsys, "/../../usr/lib/xt/../xt"); err != nil {
		t.Errorf("dot-dot above the root: %v", err)
	}
	if _, err := ldso.Resolve(ctx, fsys, []string{"/etc/loop1"}, ldso.Options{}); !errors.Is(err, ldso.ErrLoop) {
		t.Errorf("Resolve of a loop: %v", err)
	}
	if _, _, err := ldso.MinKernel(ctx, fsys, "/usr/lib/real/notes.txt"); !errors.Is(err, ldso.ErrNotELF) {
		t.Errorf("MinKernel of a text file: %v", err)
	}
	// The ld.so.conf include loop is bounded, not fatal.
	loopConf := fstest.MapFS{"etc/ld.so.conf": {Data: []byte("include /etc/ld.so.conf\n/usr/lib\n")}}
	if _, _, err := ldso.Cache(ctx, loopConf, ldso.CacheOptions{}); err != nil {
		t.Errorf("Cache with a self-including ld.so.conf: %v", err)
	}
}

// TestResolveStatic: a static executable's closure is itself.
func TestResolveStatic(t *testing.T) {
	root := t.TempDir()
	replicate(t, root, "/bin/busybox")
	c, err := ldso.Resolve(context.Background(), os.DirFS(root), []string{"/bin/busybox"}, ldso.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Paths(), " "); got != "/usr/bin/busybox" && got != "/bin/busybox" {
		t.Errorf("closure of static busybox = %v", c.Paths())
	}
}
