package ldso_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/rootfs/ldso"
)

// kernelReleases seeds a corpus with real kernel releases: this machine's
// (uname -r, /lib/modules), Photon's, CentOS's, and short forms.
func kernelReleases(f *testing.F) {
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.Add(strings.TrimSpace(string(b)))
	}
	mods, _ := filepath.Glob("/lib/modules/*")
	for _, m := range mods {
		f.Add(filepath.Base(m))
	}
	for _, s := range []string{"4.4.41-1.ph2-esx", "4.19.87-1.ph3-esx", "2.6.32-696.el6.x86_64", "3.10.0-693.el7.x86_64", "6.1.0-57-amd64", "5.10", "5.10-rc1", "5", "", "1.2.3456789012"} {
		f.Add(s)
	}
}

// kernelRE is the version grammar, written again: MAJOR.MINOR of at most
// nine digits each, then an optional .PATCH of at most nine digits.
var kernelRE = regexp.MustCompile(`^([0-9]{1,9})\.([0-9]{1,9})(?:$|[^0-9])`)
var patchRE = regexp.MustCompile(`^\.([0-9]{1,9})(?:$|[^0-9])`)

// FuzzParseKernelVersion: any release string gives the version the
// grammar above gives, or an error naming it; never a panic. A version
// reads back from its String.
func FuzzParseKernelVersion(f *testing.F) {
	kernelReleases(f)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ldso.ParseKernelVersion(s)
		m := kernelRE.FindStringSubmatch(s)
		if m == nil {
			if err == nil {
				t.Fatalf("%q: %v, want an error", s, v)
			}
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("%q: error %q does not name it", s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := ldso.Version{}
		want.Major, _ = strconv.Atoi(m[1])
		want.Minor, _ = strconv.Atoi(m[2])
		if p := patchRE.FindStringSubmatch(s[len(m[1])+1+len(m[2]):]); p != nil {
			want.Patch, _ = strconv.Atoi(p[1])
		}
		if v != want {
			t.Fatalf("%q: %v, want %v", s, v, want)
		}
		if again, err := ldso.ParseKernelVersion(v.String()); err != nil || again != v {
			t.Fatalf("%v reads back as %v, %v", v, again, err)
		}
	})
}
