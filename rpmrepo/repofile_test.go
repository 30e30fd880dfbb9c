package rpmrepo_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/rpmrepo"
)

// VIC's photon-2.0 repo files, as vmware/vic ships them (isos/base/repos).
const photonRepo = `[photon]
name=VMware Photon Linux 2.0($basearch)
baseurl=https://packages.vmware.com/photon/$releasever/photon_release_$releasever_$basearch
gpgkey=file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY
gpgcheck=1
enabled=1
skip_if_unavailable=True

# updates
[photon-updates]
name = VMware Photon Linux 2.0 (updates)
baseurl = https://a.example/photon/${releasever}/updates_${basearch}
    https://b.example/photon/${releasever}/updates_${basearch}
gpgkey=file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY,
  https://keys.example/K2
gpgcheck=0
repo_gpgcheck=yes
enabled=0
priority=10
cost=500
exclude=kernel* foo
includepkgs=bash,coreutils
metadata_expire=7d
`

func TestParseRepoFile(t *testing.T) {
	vars := rpmrepo.Vars{"releasever": "2.0", "basearch": "x86_64", "arch": "x86_64"}
	cs, err := rpmrepo.ParseRepoFile("photon.repo", []byte(photonRepo), vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d sections", len(cs))
	}
	want0 := &rpmrepo.RepoConfig{
		ID: "photon", Name: "VMware Photon Linux 2.0(x86_64)",
		BaseURLs: []string{"https://packages.vmware.com/photon/2.0/photon_release_2.0_x86_64"},
		GPGKeys:  []string{"file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY"},
		GPGCheck: true, Enabled: true, SkipIfUnavailable: true, Priority: 99, Cost: 1000, Source: "photon.repo:1",
	}
	if !reflect.DeepEqual(cs[0], want0) {
		t.Errorf("photon:\n got %+v\nwant %+v", cs[0], want0)
	}
	want1 := &rpmrepo.RepoConfig{
		ID: "photon-updates", Name: "VMware Photon Linux 2.0 (updates)",
		BaseURLs:     []string{"https://a.example/photon/2.0/updates_x86_64", "https://b.example/photon/2.0/updates_x86_64"},
		GPGKeys:      []string{"file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY", "https://keys.example/K2"},
		RepoGPGCheck: true, Priority: 10, Cost: 500, Exclude: []string{"kernel*", "foo"}, IncludePkgs: []string{"bash", "coreutils"},
		Source: "photon.repo:10", Unknown: []string{"photon.repo:23: metadata_expire"},
	}
	if !reflect.DeepEqual(cs[1], want1) {
		t.Errorf("photon-updates:\n got %+v\nwant %+v", cs[1], want1)
	}
}

func TestParseRepoFileErrors(t *testing.T) {
	vars := rpmrepo.Vars{"releasever": "2.0", "basearch": "x86_64"}
	for _, tc := range []struct {
		in, want string
	}{
		{"baseurl=http://x\n", `r.repo:1: key "baseurl": bad .repo file: key outside any [section]`},
		{"[a]\nbaseurl=http://x\nenabled=maybe\n", `r.repo:3: key "enabled"`},
		{"[a]\nbaseurl=http://x/$arch\n", `r.repo:2: key "baseurl"`},
		{"[a]\nbaseurl=http://x\n[a]\nbaseurl=http://y\n", "r.repo:3: bad .repo file: section [a] already defined at line 1"},
		{"[a]\nname=x\n", `r.repo:1: key "baseurl"`},
		{"[a]\nbaseurl=http://x\nfrobnicate=1\n", `r.repo:3: key "frobnicate"`},
		{"[a]\nbaseurl=/srv/repo\n", `r.repo:2: key "baseurl"`},
		{"[a]\nbaseurl=http://x\npriority=0\n", `r.repo:3: key "priority"`},
		{"[a\n", "r.repo:1"},
		{"[a]\nbaseurl=http://x\nbaseurl=http://y\n", `r.repo:3: key "baseurl"`},
		{"[a]\nbaseurl=http://x/${releasever\n", `r.repo:2: key "baseurl"`},
		{"  indented\n", "r.repo:1"},
		{"[a]\njunk\n", "r.repo:2"},
	} {
		_, err := rpmrepo.ParseRepoFile("r.repo", []byte(tc.in), vars)
		if !errors.Is(err, rpmrepo.ErrRepoFile) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseRepoFile(f *testing.F) {
	f.Add([]byte(photonRepo))
	f.Add([]byte("[a]\nbaseurl=http://x/${releasever}\n  http://y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := rpmrepo.ParseRepoFile("f.repo", b, rpmrepo.Vars{"releasever": "2", "basearch": "x86_64", "arch": "x86_64"})
		if err == nil {
			for _, c := range cs {
				if c.ID == "" {
					t.Fatal("empty id accepted")
				}
			}
		} else if !errors.Is(err, rpmrepo.ErrRepoFile) {
			t.Fatalf("error does not wrap ErrRepoFile: %v", err)
		}
	})
}
