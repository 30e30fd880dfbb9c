package depmod

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzCheckKver: a kernel version (a folder name under /lib/modules of an
// untrusted package) that checkKver accepts names exactly one folder
// directly under lib/modules; a refused one is named in the error. Seeded
// with this machine's releases, Photon's and CentOS's.
func FuzzCheckKver(f *testing.F) {
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.Add(strings.TrimSpace(string(b)))
	}
	mods, _ := filepath.Glob("/lib/modules/*")
	for _, m := range mods {
		f.Add(filepath.Base(m))
	}
	for _, s := range []string{"4.4.41-1.ph2-esx", "4.19.87-1.ph3-esx", "3.10.0-693.el7.x86_64", "..", ".", "", "../../etc", "a/b", "x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, kver string) {
		err := checkKver(kver)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(kver)) {
				t.Fatalf("%q: error %q does not name it", kver, err)
			}
			return
		}
		p := path.Join("lib/modules", kver)
		if path.Dir(p) != "lib/modules" || path.Base(p) != kver || strings.ContainsRune(kver, 0) {
			t.Fatalf("%q accepted, but lib/modules/%s is %s", kver, kver, p)
		}
	})
}
