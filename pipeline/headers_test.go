package pipeline

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/rpmrepo"
)

// inPackage applies edit to the <package> block of primary.xml that holds
// <name>name</name> (or of filelists.xml with name="name") only.
func inPackage(name string, edit func(string) string) func(string) string {
	return func(x string) string {
		i := strings.Index(x, "<name>"+name+"</name>")
		if i < 0 {
			i = strings.Index(x, `name="`+name+`"`)
		}
		if i < 0 {
			return x
		}
		j := i + strings.Index(x[i:], "</package>")
		return x[:i] + edit(x[i:j]) + x[j:]
	}
}

func replace1(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// A mirror that lies in primary.xml about a validly signed package (and
// re-signs its repomd.xml) cannot make the build record what the package
// is not: build and lock refuse, naming the file and both claims, and no
// lock is written. The truth is rpm's own reading of each header.
func TestMetadataMustMatchHeader(t *testing.T) {
	testrepo.NeedTools(t, "rpm")
	rpmQ := func(t *testing.T, file, qf string) string {
		out, err := exec.Command("rpm", "-qp", "--nosignature", "--nodigest", "--qf", qf, file).Output()
		if err != nil {
			t.Fatalf("rpm -qp %s: %v", file, err)
		}
		return string(out)
	}
	const (
		haveged = "haveged-1.9.14-1.ph2.x86_64.rpm"
		toybox  = "toybox-1.35.0-1.ph2.x86_64.rpm"
	)
	for _, tc := range []struct {
		name, pkg, file string
		edit            func(string) string
		// qf is what rpm says the header holds; want is the message,
		// with %s for it.
		qf, want string
		// repodata is the metadata edited: "primary" unless set.
		repodata string
	}{
		{"release", "haveged", haveged, replace1(`<version epoch="0" ver="1.9.14" rel="1.ph2"/>`, `<version epoch="0" ver="1.9.14" rel="9.ph2"/>`),
			"%{RELEASE}", `release "9.ph2" in the metadata, "%s" in the header`, ""},
		{"version", "toybox", toybox, replace1(`<version epoch="0" ver="1.35.0" rel="1.ph2"/>`, `<version epoch="0" ver="9.9.9" rel="1.ph2"/>`),
			"%{VERSION}", `version "9.9.9" in the metadata, "%s" in the header`, ""},
		{"epoch", "haveged", haveged, replace1(`<version epoch="0" ver="1.9.14"`, `<version epoch="3" ver="1.9.14"`),
			"%{EPOCHNUM}", `epoch "3" in the metadata, "%s" in the header`, ""},
		{"arch", "toybox", toybox, replace1(`<arch>x86_64</arch>`, `<arch>noarch</arch>`),
			"%{ARCH}", `arch "noarch" in the metadata, "%s" in the header`, ""},
		{"requires", "toybox", toybox, replace1(`<rpm:requires>`, `<rpm:requires><rpm:entry name="glibc" flags="GE" epoch="0" ver="2.36"/>`),
			"[%{REQUIRENAME}\n]", `requires "glibc >= 2.36" in the metadata, not in the header`, ""},
		{"provides", "toybox", toybox, replace1(`<rpm:entry name="toybox" flags="EQ" epoch="0" ver="1.35.0" rel="1.ph2"/>`, `<rpm:entry name="toybox" flags="EQ" epoch="0" ver="9.9.9" rel="1.ph2"/>`),
			"[%{PROVIDES}\n]", `provides "toybox = 9.9.9-1.ph2" in the metadata, not in the header`, ""},
		{"obsoletes", "toybox", toybox, replace1(`<rpm:entry name="busybox" flags="LT" epoch="0" ver="2.0"/>`, `<rpm:entry name="busybox" flags="LE" epoch="0" ver="2.0"/>`),
			"[%{OBSOLETES}\n]", `obsoletes "busybox <= 2.0" in the metadata, not in the header`, ""},
		// The resolver reads file lists from filelists.xml (the primary
		// subset is replaced when it is loaded, as linux-esx's file
		// requirement makes it be).
		{"file", "toybox", toybox, replace1(`<file>`, `<file>/usr/bin/vicroot-lie</file><file>`),
			"[%{FILENAMES}\n]", `file "/usr/bin/vicroot-lie" in the metadata, not in the header`, "filelists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testrepo.NewCopy(t)
			if tc.repodata == "" {
				tc.repodata = "primary"
			}
			c.EditRepodata("photon", tc.repodata, inPackage(tc.pkg, tc.edit))
			file := c.Path("photon/" + tc.file)
			truth := rpmQ(t, file, tc.qf)
			want := tc.want
			if strings.Contains(want, "%s") {
				want = strings.Replace(want, "%s", truth, 1)
			} else if what := strings.SplitN(want, `"`, 3)[1]; strings.Contains(truth, what+"\n") {
				t.Fatalf("rpm says the header holds %q: the lie is the truth\n%s", what, truth)
			}
			opts, _ := testOptions(t)
			def, err := repos.Load(c.Path("definition"))
			if err != nil {
				t.Fatal(err)
			}
			opts.Definition, opts.CacheDir = def, t.TempDir()
			opts.Mirrors = map[string]string{
				"photon":         "file://" + c.Path("photon") + "/",
				"photon-updates": "file://" + c.Path("photon-updates") + "/",
			}
			_, err = Build(context.Background(), opts)
			if !errors.Is(err, rpmrepo.ErrHeaderMismatch) {
				t.Fatalf("build: %v, want a header mismatch", err)
			}
			for _, w := range []string{"fetch:", file, want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("build error does not say %q:\n%v", w, err)
				}
			}
			ents, rerr := os.ReadDir(opts.Out)
			if rerr != nil {
				t.Fatal(rerr)
			}
			for _, e := range ents {
				t.Errorf("the refused build left %s in the output directory", e.Name())
			}
			lk, err := Lock(context.Background(), opts)
			if !errors.Is(err, rpmrepo.ErrHeaderMismatch) || lk != nil {
				t.Errorf("lock: %v (lock %v), want a header mismatch", err, lk != nil)
			}
			if m, _ := filepath.Glob(filepath.Join(opts.Out, "*.lock.json")); len(m) > 0 {
				t.Errorf("lock written: %v", m)
			}
		})
	}
}
