package iso_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// TestNamesMatchXorriso makes the same tree into an ISO with xorriso,
// run as VIC runs it (publisher, map, boot_image isolinux), and with this
// package, and compares the plain ISO9660 names isoinfo lists.
func TestNamesMatchXorriso(t *testing.T) {
	testrepo.NeedTools(t, "xorriso", "isoinfo")
	d := filepath.Join(t.TempDir(), "bootfs")
	names := []string{
		"boot/vmlinuz64", "boot/core.gz", "boot/System.map-6.1.0-verylongname-amd64-with-more-chars",
		"boot/config-6.1.0-56-amd64", "boot/linux-6.1.0.cfg", "boot/.vmlinuz-6.1.0.hmac",
		"boot/isolinux/isolinux.bin", "boot/isolinux/isolinux.cfg", "boot/isolinux/boot.msg",
		"x/UPPER.TXT", "x/lower.txt", "x/.hidden", "x/a b+c~d@e.f.g", "x/ümlaut", "x/noext",
		"x/two.dots.tar.gz", "x/averyveryverylongdirectorynameoverthirtyone/f",
		"x/abcdefghijklmnopqrstuvwxyz0123456789.txt", "x/MiXeD-CaSe_name.Ext",
	}
	for _, n := range names {
		p := filepath.Join(d, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(n)
		if strings.HasSuffix(n, "isolinux.bin") {
			data = needFile(t, hostIsolinux)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := filepath.Join(t.TempDir(), "xorriso-options.cfg")
	cfg := "publisher 'VMware Inc. v1'\nmap " + d + " /\nboot_image isolinux dir=/boot/isolinux\n"
	if err := os.WriteFile(opts, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(t.TempDir(), "ref.iso")
	run(t, "xorriso", "-dev", ref, "-options_from_file", opts)
	ours := writeISO(t, os.DirFS(d))
	list := func(img string) []string {
		var out []string
		for name := range isoinfoList(t, run(t, "isoinfo", "-l", "-i", img)) {
			out = append(out, name)
		}
		sort.Strings(out)
		return out
	}
	want, got := list(ref), list(ours)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Errorf("ISO9660 names differ\nxorriso: %q\nours:    %q", want, got)
	}
}
