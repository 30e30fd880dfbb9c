package repos_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
)

// TestEmbeddedSamples checks the embedded definitions against what VIC's
// own isos/base/repos definitions at 9489f63 say (repos/README.md, "The
// embedded samples"), field by field.
func TestEmbeddedSamples(t *testing.T) {
	photonAppliance := strings.Fields("procps-ng e2fsprogs shadow systemd iputils iproute2 tdnf gzip lsof logrotate photon-release mingetty rpm dbus net-tools openssh ca-certificates sudo vim lsof")
	type want struct {
		pm, kernel, init, releasever string
		base, bootstrap, appliance   []string
		stagingBootstrap             string
		stagingAppliance             string
		drivers                      []string
		baseSH, stagingSH            bool
		baseURLs                     []string
		keyPath, pin                 string
		entropy                      string // the binary chosen when both haveged and rngd are in the tree
	}
	cases := map[string]want{
		"photon-2.0": {
			pm: "tdnf", kernel: "linux-esx", init: "/bin/init", releasever: "2.0",
			base:      strings.Fields("filesystem toybox kmod haveged iptables"),
			bootstrap: []string{"iproute2"}, appliance: append(slices.Clone(photonAppliance), "bash"),
			stagingAppliance: "erase toybox",
			drivers:          []string{"nf_nat_redirect", "xt_REDIRECT", "nf_reject_ipv4", "nfsv3", "lockd"},
			baseSH:           true,
			baseURLs: []string{"https://packages.vmware.com/photon/2.0/photon_release_2.0_x86_64/",
				"https://packages.vmware.com/photon/2.0/photon_updates_2.0_x86_64/"},
			keyPath: "/etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY", pin: vmwareFPR, entropy: "/usr/sbin/haveged",
		},
		"photon-1.0": {
			pm: "tdnf", kernel: "linux-esx", init: "/bin/init", releasever: "1.0",
			base:      strings.Fields("filesystem coreutils kmod haveged iptables"),
			bootstrap: []string{"grep", "iproute2"}, appliance: photonAppliance,
			drivers: []string{"nf_nat_redirect", "xt_REDIRECT", "nf_reject_ipv4", "nfsv3", "lockd"},
			baseURLs: []string{"https://packages.vmware.com/photon/1.0/photon_release_1.0_x86_64/",
				"https://packages.vmware.com/photon/1.0/photon_updates_1.0_x86_64/"},
			keyPath: "/etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY", pin: vmwareFPR, entropy: "/usr/sbin/haveged",
		},
		"centos-6.9": {
			pm: "yum", kernel: "kernel-2.6.32-754.el6", init: "/bin/init", releasever: "6.9",
			base:      strings.Fields("filesystem coreutils bash module-init-tools"),
			bootstrap: strings.Fields("iptables udev rng-tools iptables util-linux-ng"), appliance: []string{},
			drivers: []string{"nfs", "lockd"},
			baseSH:  true, stagingSH: true,
			baseURLs: []string{"https://vault.centos.org/6.9/os/x86_64/", "https://vault.centos.org/6.9/updates/x86_64/",
				"https://vault.centos.org/6.9/extras/x86_64/"},
			keyPath: "/etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-6",
			// Computed with gpg 2.2.40 from distribution-gpg-keys@65c3eae5
			// keys/centos/RPM-GPG-KEY-CentOS-6 ("CentOS-6 Key", key ID C105B9DE).
			pin:     "C1DAC52D1664E8A4386DBA430946FCA2C105B9DE",
			entropy: "/sbin/rngd", // the tether section names rngd as VIC's init.sh runs it
		},
		"centos-7": {
			pm: "yum", kernel: "kernel", init: "/bin/init", releasever: "7",
			base:      strings.Fields("filesystem coreutils bash module-init-tools systemd"),
			bootstrap: strings.Fields("iptables udev rng-tools iptables util-linux-ng"), appliance: []string{},
			drivers: []string{"nfs", "lockd"},
			baseURLs: []string{"https://vault.centos.org/7.9.2009/os/x86_64/", "https://vault.centos.org/7.9.2009/updates/x86_64/",
				"https://vault.centos.org/7.9.2009/extras/x86_64/"},
			keyPath: "/etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7",
			// "CentOS-7 Key (CentOS 7 Official Signing Key)", key ID F4A80EB5,
			// as yum prints it on importing /etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7
			// and www.centos.org/keys/ publishes it.
			pin:     "6341AB2753D78A78A7C27BB124C6A8A7F4A80EB5",
			entropy: "/sbin/rngd",
		},
		"photon-1.0-passthrough": {
			pm: "tdnf", kernel: "linux", init: "/lib/systemd/systemd", releasever: "1.0",
			base:      strings.Fields("filesystem coreutils kmod haveged iptables"),
			bootstrap: strings.Fields("util-linux-ng grep which linux-tools iproute2"),
			appliance: append([]string{"procps-ng", "util-linux-ng"}, photonAppliance[1:]...),
			drivers:   []string{"nfsv3", "lockd"},
			baseURLs: []string{"https://packages.vmware.com/photon/1.0/photon_release_1.0_x86_64/",
				"https://packages.vmware.com/photon/1.0/photon_updates_1.0_x86_64/"},
			keyPath: "/etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY", pin: vmwareFPR, entropy: "/usr/sbin/haveged",
		},
	}
	sums, err := repos.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sums {
		names = append(names, s.Name)
		if s.Default != (s.Name == "photon-2.0") || s.Description == "" {
			t.Errorf("summary %+v", s)
		}
	}
	if !slices.Equal(names, []string{"centos-6.9", "centos-7", "photon-1.0", "photon-1.0-passthrough", "photon-2.0"}) {
		t.Fatalf("embedded = %q", names)
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := repos.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			s := d.Spec
			if !d.Embedded || d.Dir != "" || d.Name != name {
				t.Errorf("embedded %v dir %q name %q", d.Embedded, d.Dir, d.Name)
			}
			if s.PackageManager != w.pm || s.Kernel != w.kernel || s.Init != w.init || d.Releasever != w.releasever || d.KernelFile != "" {
				t.Errorf("pm %q kernel %q init %q releasever %q kernelfile %q", s.PackageManager, s.Kernel, s.Init, d.Releasever, d.KernelFile)
			}
			for st, want := range map[repos.Stage][]string{repos.StageBase: w.base, repos.StageBootstrap: w.bootstrap, repos.StageAppliance: w.appliance} {
				got, err := d.PackageList(st)
				if err != nil || !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("%s packages = %q, want %q (%v)", st, got, want, err)
				}
			}
			cmd := func(c *repos.StagingCommand) string {
				if c == nil {
					return ""
				}
				return c.String()
			}
			if got := cmd(s.StagingCommand(repos.StageBootstrap)); got != w.stagingBootstrap {
				t.Errorf("staging bootstrap %q", got)
			}
			if got := cmd(s.StagingCommand(repos.StageAppliance)); got != w.stagingAppliance {
				t.Errorf("staging appliance %q", got)
			}
			if !slices.Equal(d.Init.Drivers, w.drivers) || d.Init.Legacy {
				t.Errorf("init %+v", d.Init)
			}
			if (d.BaseSH != nil) != w.baseSH || (d.StagingSH != nil) != w.stagingSH {
				t.Errorf("base.sh %v staging.sh %v", d.BaseSH != nil, d.StagingSH != nil)
			}
			var urls []string
			for _, f := range d.RepoFiles {
				for _, l := range strings.Split(string(f.Data), "\n") {
					if u, ok := strings.CutPrefix(l, "baseurl="); ok {
						urls = append(urls, u)
					}
				}
				if n := strings.Count(string(f.Data), "gpgcheck=1"); n != len(urls) {
					t.Errorf("%s: %d sections with gpgcheck=1 for %d baseurls", f.Name, n, len(urls))
				}
			}
			if !slices.Equal(urls, w.baseURLs) {
				t.Errorf("baseurls %q", urls)
			}
			// No key files: one pinned key, taken from the release package.
			if len(d.Keys) != 1 {
				t.Fatalf("keys %+v", d.Keys)
			}
			k := d.Keys[0]
			if k.Source != repos.KeyPinned || k.ImagePath != w.keyPath || !slices.Equal(k.Pins, []string{w.pin}) || k.Armored != nil {
				t.Errorf("key %+v", k)
			}
			files, err := d.Files()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if b, _ := fs.ReadFile(d.FS, f); bytes.Contains(b, []byte("PGP PUBLIC KEY")) {
					t.Errorf("embedded definition carries key material in %s", f)
				}
			}
			tree := map[string]bool{"/usr/sbin/haveged": true, "/sbin/rngd": true, "/sbin/iptables": true}
			p, err := d.Tether().Resolve(func(p string) bool { return tree[p] })
			if err != nil || p.Entropy[0].Binary != w.entropy || p.Iptables.Binary != "/sbin/iptables" {
				t.Errorf("tether %+v %v", p, err)
			}
		})
	}
}

// TestEmbeddedCopiesLoadTheSame writes each embedded definition to a folder
// and loads it back: the effective definition must be byte-identical.
func TestEmbeddedCopiesLoadTheSame(t *testing.T) {
	sums, err := repos.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		t.Run(s.Name, func(t *testing.T) {
			emb, err := repos.Load(s.Name)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "copy")
			if err := emb.Export(dir); err != nil {
				t.Fatal(err)
			}
			// The copy holds the same files, byte for byte.
			names, _ := emb.Files()
			for _, n := range names {
				a, _ := fs.ReadFile(emb.FS, n)
				b, err := os.ReadFile(filepath.Join(dir, n))
				if err != nil || !bytes.Equal(a, b) {
					t.Errorf("%s differs in the copy (%v)", n, err)
				}
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != len(names) {
				t.Errorf("copy has %d entries, definition %d files", len(ents), len(names))
			}
			cp, err := repos.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Embedded || cp.Dir != dir {
				t.Errorf("copy: embedded %v dir %q", cp.Embedded, cp.Dir)
			}
			a, err := emb.Effective()
			if err != nil {
				t.Fatal(err)
			}
			b, err := cp.Effective()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("effective definitions differ:\n%s\n---\n%s", a, b)
			}
			// Export refuses to overwrite.
			if err := emb.Export(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("second export: %v", err)
			}
		})
	}
}

// TestAddKey: --gpgkey supplies the material of a pinned key when its
// fingerprint matches, and is otherwise an extra trusted key.
func TestAddKey(t *testing.T) {
	fx := testrepo.Fixtures(t)
	d, err := repos.Load("photon-2.0")
	if err != nil {
		t.Fatal(err)
	}
	vmw := filepath.Join(fx, "vmware-vic", "VMWARE-RPM-GPG-KEY")
	other := filepath.Join(fx, "rpm-software-management-rpm", "keys", "rpm.org-rsa-2048-test.pub")
	if err := d.AddKeyFile(other); err != nil {
		t.Fatal(err)
	}
	if err := d.AddKeyFile(vmw); err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 2 {
		t.Fatalf("keys %+v", d.Keys)
	}
	k := d.Keys[0]
	if k.Source != repos.KeyFromGPGKeyFlag || k.File != vmw || k.ImagePath != "/etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY" || !slices.Equal(k.Fingerprints, []string{vmwareFPR}) || len(k.Armored) == 0 {
		t.Errorf("pinned key not filled: %+v", k)
	}
	x := d.Keys[1]
	if x.Source != repos.KeyFromGPGKeyFlag || x.ImagePath != "" || !slices.Equal(x.Fingerprints, []string{"771B18D3D7BAA28734333C424344591E1964C5FC"}) {
		t.Errorf("extra key %+v", x)
	}
	if err := d.AddKeyFile(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "--gpgkey") {
		t.Errorf("missing file: %v", err)
	}

	// Verify is what the build calls on material from a release package.
	d, _ = repos.Load("photon-2.0")
	good, _ := os.ReadFile(vmw)
	bad, _ := os.ReadFile(other)
	if fps, err := d.Keys[0].Verify(good); err != nil || fps[0] != vmwareFPR {
		t.Errorf("Verify(VMware key) = %q, %v", fps, err)
	}
	if _, err := d.Keys[0].Verify(bad); err == nil || !strings.Contains(err.Error(), "file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY") ||
		!strings.Contains(err.Error(), "771B18D3D7BAA28734333C424344591E1964C5FC") {
		t.Errorf("Verify(other key) = %v", err)
	}
}

// TestEmbeddedPhotonPinMatchesVMwareKey checks the pin against the real key,
// with gpg as the oracle.
func TestEmbeddedPhotonPinMatchesVMwareKey(t *testing.T) {
	key := filepath.Join(testrepo.Fixtures(t), "vmware-vic", "VMWARE-RPM-GPG-KEY")
	gpgFPR := gpgFingerprints(t, key)
	for _, name := range []string{"photon-2.0", "photon-1.0"} {
		d, err := repos.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Keys[0].Pins, gpgFPR) {
			t.Errorf("%s pins %q, gpg says the key is %q", name, d.Keys[0].Pins, gpgFPR)
		}
	}
}

// TestTestrepoDefinition loads the definition of the real test repository
// (testdata/mkrepo): a legacy definition with its key file.
func TestTestrepoDefinition(t *testing.T) {
	root := testrepo.Dir(t)
	d, err := repos.Load(filepath.Join(root, "definition"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Init.Legacy || d.Tether().Mode != repos.TetherLegacy {
		t.Errorf("init %+v tether %+v: want a legacy definition", d.Init, d.Tether())
	}
	if len(d.Init.Drivers) == 0 || d.BaseSH == nil {
		t.Errorf("drivers %q base.sh %v", d.Init.Drivers, d.BaseSH != nil)
	}
	if len(d.Keys) == 0 {
		t.Fatal("no keys")
	}
	want := gpgFingerprints(t, filepath.Join(root, "RPM-GPG-KEY-vicroot-test"))
	for _, k := range d.Keys {
		if k.Source != repos.KeyFromDefinition || !slices.Equal(k.Fingerprints, want) {
			t.Errorf("key %+v, gpg says %q", k, want)
		}
	}
	if _, err := d.Effective(); err != nil {
		t.Error(err)
	}
}
