package repos_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/repos"
)

const vmwareFPR = "36E47E1CC4DCC5E8152D115CC0B5E0AB66FD4949"

// validSpec is a complete repo-spec.json the broken cases below start from.
const validSpec = `{
  "name": "test-3.1",
  "packagemanager": "tdnf",
  "kernel": "linux-esx",
  "init": "/bin/init",
  "packages_script_staging": {
    "bootstrap": "",
    "appliance": "erase toybox"
  },
  "packages": {
    "base": "filesystem toybox",
    "bootstrap": "iproute2",
    "appliance": ["bash", "vim"]
  },
  "gpgkeys": {
    "VMWARE-RPM-GPG-KEY": "36E4 7E1C C4DC C5E8 152D  115C C0B5 E0AB 66FD 4949"
  }
}
`

const validRepo = `[test]
name=test
baseurl=https://example.invalid/test/
gpgkey=file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY
gpgcheck=1
`

const validInit = `drivers=(nfs lockd)
`

// writeDef writes a definition folder: the valid files, the VMware key
// from the fixtures, and then edits applied.
func writeDef(t *testing.T, edit func(files map[string]string)) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(testrepo.Fixtures(t), "vmware-vic", "VMWARE-RPM-GPG-KEY"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"repo-spec.json":     validSpec,
		"test.repo":          validRepo,
		"init.sh":            validInit,
		"VMWARE-RPM-GPG-KEY": string(key),
	}
	if edit != nil {
		edit(files)
	}
	dir := t.TempDir()
	for name, data := range files {
		if data == "\x00delete" {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func specEdit(old, new string) func(map[string]string) {
	return func(f map[string]string) {
		if !strings.Contains(f["repo-spec.json"], old) {
			panic("test bug: " + old + " not in the spec")
		}
		f["repo-spec.json"] = strings.Replace(f["repo-spec.json"], old, new, 1)
	}
}

func set(name, data string) func(map[string]string) {
	return func(f map[string]string) { f[name] = data }
}

func TestValidDefinition(t *testing.T) {
	dir := writeDef(t, nil)
	d, err := repos.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "test-3.1" || d.Releasever != "3.1" || d.Embedded || d.Dir != dir {
		t.Errorf("name %q releasever %q embedded %v dir %q", d.Name, d.Releasever, d.Embedded, d.Dir)
	}
	if got := d.Spec.Packages.Appliance; !slices.Equal(got, []string{"bash", "vim"}) {
		t.Errorf("appliance from a JSON array: %q", got)
	}
	if c := d.Spec.Staging.Appliance; c == nil || c.Verb != "erase" || !slices.Equal(c.Packages, []string{"toybox"}) {
		t.Errorf("staging.appliance = %+v", c)
	}
	if d.Spec.Staging.Bootstrap != nil {
		t.Errorf(`"" must mean skip, got %+v`, d.Spec.Staging.Bootstrap)
	}
	if len(d.Keys) != 1 {
		t.Fatalf("keys: %+v", d.Keys)
	}
	k := d.Keys[0]
	if k.Source != repos.KeyFromDefinition || k.ImagePath != "/etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY" || k.File != "VMWARE-RPM-GPG-KEY" ||
		!slices.Equal(k.Fingerprints, []string{vmwareFPR}) || !slices.Equal(k.Pins, []string{vmwareFPR}) || len(k.Armored) == 0 {
		t.Errorf("key = %+v", k)
	}
	if d.Init.Legacy || !slices.Equal(d.Init.Drivers, []string{"nfs", "lockd"}) {
		t.Errorf("init = %+v", d.Init)
	}
	if p := d.Tether(); p.Mode != repos.TetherDefault {
		t.Errorf("tether mode %q", p.Mode)
	}
}

// TestBrokenDefinitions: every way a definition can be wrong gives its own
// error naming the file, the field and what was expected.
func TestBrokenDefinitions(t *testing.T) {
	spec := "repo-spec.json"
	cases := []struct {
		name string
		edit func(map[string]string)
		want []string // substrings of the error, all required
	}{
		// Required fields.
		{"missing name", specEdit(`"name": "test-3.1",`, ``), []string{spec, "name: required field is missing"}},
		{"missing packagemanager", specEdit(`"packagemanager": "tdnf",`, ``), []string{spec, "packagemanager: required field is missing"}},
		{"missing kernel", specEdit(`"kernel": "linux-esx",`, ``), []string{spec, "kernel: required field is missing"}},
		{"missing init", specEdit(`"init": "/bin/init",`, ``), []string{spec, "init: required field is missing"}},
		{"missing packages.base", specEdit(`"base": "filesystem toybox",`, ``), []string{spec, "packages.base: required field is missing"}},
		{"missing packages.bootstrap", specEdit(`"bootstrap": "iproute2",`, ``), []string{spec, "packages.bootstrap: required field is missing"}},
		{"missing packages.appliance", specEdit(`,
    "appliance": ["bash", "vim"]`, ``), []string{spec, "packages.appliance: required field is missing"}},
		{"missing packages", specEdit(`"packages": {
    "base": "filesystem toybox",
    "bootstrap": "iproute2",
    "appliance": ["bash", "vim"]
  },`, ``), []string{spec, "packages: required field is missing"}},
		{"empty name", specEdit(`"name": "test-3.1"`, `"name": ""`), []string{spec, "name: must not be empty"}},
		{"empty base", specEdit(`"base": "filesystem toybox"`, `"base": ""`), []string{spec, "packages.base: expected at least one package"}},

		// Wrong types.
		{"name is a number", specEdit(`"name": "test-3.1"`, `"name": 31`), []string{spec + ":2:11", "name: expected a string, got a number (31)"}},
		{"base is a number", specEdit(`"base": "filesystem toybox"`, `"base": 7`), []string{"packages.base: expected a string of package names or an array of them, got a number (7)"}},
		{"packages is an array", specEdit(`"packages": {
    "base": "filesystem toybox",
    "bootstrap": "iproute2",
    "appliance": ["bash", "vim"]
  }`, `"packages": ["filesystem"]`), []string{"packages: expected an object, got an array"}},
		{"package array holds a number", specEdit(`["bash", "vim"]`, `["bash", 3]`), []string{"packages.appliance[1]: expected a package name (string), got a number (3)"}},
		{"package array element with space", specEdit(`["bash", "vim"]`, `["bash vim"]`), []string{"packages.appliance[0]", "without white space"}},
		{"staging is a boolean", specEdit(`"appliance": "erase toybox"`, `"appliance": true`), []string{"packages_script_staging.appliance: expected a package-manager command", "got a boolean (true)"}},
		{"init is relative", specEdit(`"init": "/bin/init"`, `"init": "bin/init"`), []string{"init: \"bin/init\": expected an absolute, clean path"}},
		{"bad packagemanager", specEdit(`"packagemanager": "tdnf"`, `"packagemanager": "apt"`), []string{"packagemanager: \"apt\": expected \"tdnf\" or \"yum\""}},
		{"package with option", specEdit(`"base": "filesystem toybox"`, `"base": "filesystem --nogpgcheck"`), []string{"packages.base", `"--nogpgcheck": not a package name`}},
		{"gpgkeys is an array", specEdit(`"gpgkeys": {
    "VMWARE-RPM-GPG-KEY": "36E4 7E1C C4DC C5E8 152D  115C C0B5 E0AB 66FD 4949"
  }`, `"gpgkeys": []`), []string{"gpgkeys: expected an object"}},
		{"pin is a short key id", specEdit(`"36E4 7E1C C4DC C5E8 152D  115C C0B5 E0AB 66FD 4949"`, `"66FD4949"`), []string{"gpgkeys.VMWARE-RPM-GPG-KEY", "expected a full key fingerprint"}},
		{"tether.extra is a string", specEdit(`"init": "/bin/init",`, `"init": "/bin/init", "tether": {"extra": "/bin/x"},`), []string{"tether.extra: expected an array of absolute paths in the image, got a string"}},
		{"tether entropy without binary", specEdit(`"init": "/bin/init",`, `"init": "/bin/init", "tether": {"entropy": {"args": "-F"}},`), []string{"tether.entropy.binary: required field is missing"}},
		{"tether args with double space", specEdit(`"init": "/bin/init",`, `"init": "/bin/init", "tether": {"entropy": {"binary": "/usr/sbin/haveged", "args": "-w  1024"}},`), []string{"tether.entropy.args", "single spaces"}},
		{"tether extra twice", specEdit(`"init": "/bin/init",`, `"init": "/bin/init", "tether": {"extra": ["/a", "/a"]},`), []string{"tether.extra[1]: /a is listed twice"}},

		// Unknown fields: typos must not pass silently.
		{"unknown top-level field", specEdit(`"kernel": "linux-esx",`, `"kernel": "linux-esx", "pakages": {},`), []string{spec, `pakages: unknown field (did you mean "packages"?)`}},
		{"unknown nested field", specEdit(`"bootstrap": "iproute2",`, `"bootstrap": "iproute2", "bootstarp": "",`), []string{`packages.bootstarp: unknown field (did you mean "bootstrap"?)`}},
		{"unknown tether field", specEdit(`"init": "/bin/init",`, `"init": "/bin/init", "tether": {"entrophy": {}},`), []string{`tether.entrophy: unknown field (did you mean "entropy"?)`}},
		{"unrelated unknown field", specEdit(`"kernel": "linux-esx",`, `"kernel": "linux-esx", "zzzzzzzzzz": 1,`), []string{"zzzzzzzzzz: unknown field; expected one of description, gpgkeys"}},

		// null, as JSON and as VIC's jq printed it.
		{"JSON null required", specEdit(`"kernel": "linux-esx"`, `"kernel": null`), []string{"kernel: is null; omit the field or use \"\" to skip it"}},
		{"JSON null optional", specEdit(`"bootstrap": ""`, `"bootstrap": null`), []string{"packages_script_staging.bootstrap: is null"}},
		{"string null staging", specEdit(`"bootstrap": ""`, `"bootstrap": "null"`), []string{"packages_script_staging.bootstrap", `"null"`, "jq"}},
		{"string null packages", specEdit(`"bootstrap": "iproute2"`, `"bootstrap": "null"`), []string{"packages.bootstrap", `"null"`}},

		// Staging commands.
		{"staging unknown verb", specEdit(`"erase toybox"`, `"update toybox"`), []string{"packages_script_staging.appliance", `unknown command "update"`, "erase NAME"}},
		{"staging without packages", specEdit(`"erase toybox"`, `"erase"`), []string{"packages_script_staging.appliance", "erase needs at least one package name"}},
		{"staging with option", specEdit(`"erase toybox"`, `"install -y toybox"`), []string{"packages_script_staging.appliance", `option "-y" is not allowed`}},
		{"staging shell", specEdit(`"erase toybox"`, `"erase toybox; rm -rf /"`), []string{"packages_script_staging.appliance", "is not a package name"}},

		// JSON syntax.
		{"trailing comma", specEdit(`"init": "/bin/init",`, `"init": "/bin/init",,`), []string{spec + ":5:22", "not valid JSON", "invalid character ','"}},
		{"duplicate key", specEdit(`"kernel": "linux-esx",`, `"kernel": "linux-esx", "kernel": "linux",`), []string{spec + ":4:26", `duplicate key "kernel"`}},
		{"trailing data", set("repo-spec.json", validSpec+"{}"), []string{spec, "unexpected data after the top-level value"}},
		{"not an object", set("repo-spec.json", `["x"]`), []string{spec, "expected a JSON object, got an array"}},
		{"empty file", set("repo-spec.json", ``), []string{spec, "not valid JSON"}},
		{"no spec", set("repo-spec.json", "\x00delete"), []string{spec, "no such file"}},

		// releasever.
		{"underivable releasever", specEdit(`"name": "test-3.1"`, `"name": "ci"`), []string{"name: cannot derive releasever from \"ci\"", `add a "releasever" field`}},
		{"bad releasever", specEdit(`"name": "test-3.1",`, `"name": "test-3.1", "releasever": "3 1",`), []string{"releasever: \"3 1\": expected a version"}},

		// Keys.
		{"key file missing", func(f map[string]string) {
			f["VMWARE-RPM-GPG-KEY"] = "\x00delete"
			specEdit(`"gpgkeys": {
    "VMWARE-RPM-GPG-KEY": "36E4 7E1C C4DC C5E8 152D  115C C0B5 E0AB 66FD 4949"
  }`, `"description": "x"`)(f)
		}, []string{"test.repo", "gpgkey file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY", "key file", "VMWARE-RPM-GPG-KEY is missing", "installed at /etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY in the image"}},
		{"fingerprint mismatch", specEdit(`36E4 7E1C C4DC C5E8 152D  115C C0B5 E0AB 66FD 4949`, `771B18D3D7BAA28734333C424344591E1964C5FC`), []string{"VMWARE-RPM-GPG-KEY", "fingerprint does not match the pin", vmwareFPR, "771B18D3D7BAA28734333C424344591E1964C5FC"}},
		{"key file is not a key", set("VMWARE-RPM-GPG-KEY", "hello"), []string{"VMWARE-RPM-GPG-KEY", "OpenPGP packet"}},
		{"https key without pin", set("test.repo", strings.Replace(validRepo, "gpgcheck=1", "gpgcheck=1\ngpgkey=https://example.invalid/KEY-X", 1)), []string{"test.repo", "gpgkey https://example.invalid/KEY-X", "needs a pinned fingerprint"}},
		{"http key", set("test.repo", validRepo+"gpgkey=http://example.invalid/K\n"), []string{"gpgkey http://example.invalid/K", "expected file:///path-in-image or https://"}},
		{"relative file key", set("test.repo", validRepo+"gpgkey=file://etc/K\n"), []string{"gpgkey file://etc/K", "expected file:///absolute/path"}},
		{"unknown variable", set("test.repo", validRepo+"gpgkey=file:///etc/$contentdir/K\n"), []string{"unknown variable"}},
		{"unused pin", specEdit(`"VMWARE-RPM-GPG-KEY": "36E4`, `"OTHER-KEY": "771B18D3D7BAA28734333C424344591E1964C5FC", "VMWARE-RPM-GPG-KEY": "36E4`), []string{"gpgkeys.OTHER-KEY", "no gpgkey= line"}},
		{"no repo file", set("test.repo", "\x00delete"), []string{"no *.repo file"}},

		// Kernel.
		{"kernel rpm missing", specEdit(`"kernel": "linux-esx"`, `"kernel": "rpms/kernel-1.rpm"`), []string{"kernel", "ends in .rpm but", "rpms/kernel-1.rpm is not a file"}},

		// Scripts.
		{"init.sh does not parse", set("init.sh", "drivers=(nfs)\ninstall-entropy() {\n  cp a b\n"), []string{"init.sh:2:", "reached EOF"}},
		{"init.sh unbalanced quote", set("init.sh", "drivers=(\"nfs)\n"), []string{"init.sh:1:10", "without closing quote"}},
		{"init.sh missing", set("init.sh", "\x00delete"), []string{"init.sh: required file is missing"}},
		{"init.sh drivers expansion", set("init.sh", "x=nfs\ndrivers=($x lockd)\n"), []string{"init.sh:2:10", "drivers: element is not a plain module name"}},
		{"init.sh bad module name", set("init.sh", "drivers=('nfs;reboot')\n"), []string{"init.sh:1:10", `"nfs;reboot" is not a kernel module name`}},
		{"init.sh half legacy", set("init.sh", "drivers=(nfs)\ninstall-entropy() { :; }\n"), []string{"init.sh defines only one of install-entropy and install-iptables"}},
		{"base.sh does not parse", set("base.sh", "if true; then\n"), []string{"base.sh:1:10", "must be followed by a statement list"}},
		{"staging.sh does not parse", set("staging.sh", "rm -f $(\n"), []string{"staging.sh:", "reached EOF"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeDef(t, c.edit)
			d, err := repos.Load(dir)
			if err == nil {
				t.Fatalf("loaded: %+v", d.Spec)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			if !strings.HasPrefix(msg, "repos: ") {
				t.Errorf("error does not start with the package name: %s", msg)
			}
			if !strings.Contains(msg, dir) {
				t.Errorf("error does not name the definition folder %s: %s", dir, msg)
			}
		})
	}
}

func TestSpecErrorType(t *testing.T) {
	_, err := repos.ParseSpec("x/repo-spec.json", []byte(`{"name": 1}`))
	var se *repos.SpecError
	if !errors.As(err, &se) {
		t.Fatalf("%T %v is not a *SpecError", err, err)
	}
	if se.File != "x/repo-spec.json" || se.Field != "name" || se.Line != 1 || se.Col != 10 {
		t.Errorf("%+v", se)
	}
	// All problems are reported at once.
	if n := strings.Count(err.Error(), "required field is missing"); n != 4 {
		t.Errorf("want 4 missing fields reported, got %d:\n%v", n, err)
	}
}

func TestReleasever(t *testing.T) {
	for _, c := range []struct{ name, rv, want string }{
		{"photon-2.0", "", "2.0"},
		{"photon-1.0-passthrough", "", "1.0"}, // cut -d- -f2
		{"centos-6.9", "", "6.9"},
		{"centos-7", "", "7"},
		{"ci", "3.0", "3.0"},
		{"photon-2.0", "2", "2"},
	} {
		spec := strings.Replace(validSpec, `"name": "test-3.1",`, `"name": "`+c.name+`",`, 1)
		if c.rv != "" {
			spec = strings.Replace(spec, `"init":`, `"releasever": "`+c.rv+`", "init":`, 1)
		}
		s, err := repos.ParseSpec("repo-spec.json", []byte(spec))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := s.ReleaseverOrDerived(); got != c.want {
			t.Errorf("%s (releasever %q): got %q, want %q", c.name, c.rv, got, c.want)
		}
	}
}

func TestTetherSection(t *testing.T) {
	dir := writeDef(t, specEdit(`"init": "/bin/init",`, `"init": "/bin/init",
  "tether": {
    "entropy":  { "binary": "/usr/sbin/haveged", "args": "-w 2048 -F" },
    "extra":    [ "/usr/lib/libfoo.so.1" ]
  },`))
	d, err := repos.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := d.Tether()
	if p.Mode != repos.TetherSpec || len(p.Entropy) != 1 || p.Entropy[0] != (repos.Command{Binary: "/usr/sbin/haveged", Args: "-w 2048 -F"}) ||
		p.Iptables == nil || p.Iptables.Binary != repos.DefaultIptables || !slices.Equal(p.Extra, []string{"/usr/lib/libfoo.so.1"}) {
		t.Errorf("plan = %+v", p)
	}
	tree := map[string]bool{"/usr/sbin/haveged": true, "/sbin/iptables": true, "/usr/lib/libfoo.so.1": true}
	if _, err := p.Resolve(func(p string) bool { return tree[p] }); err != nil {
		t.Error(err)
	}
	delete(tree, "/usr/lib/libfoo.so.1")
	if _, err := p.Resolve(func(p string) bool { return tree[p] }); err == nil || !strings.Contains(err.Error(), "tether.extra: /usr/lib/libfoo.so.1 is not in the image") {
		t.Errorf("missing extra: %v", err)
	}
}

func TestTetherPrecedence(t *testing.T) {
	legacyInit := "drivers=(nfs)\ninstall-entropy() { :; }\nfunction install-iptables { :; }\n"
	cases := []struct {
		name     string
		edit     func(map[string]string)
		mode     string
		legacy   bool
		entropy  string // binary chosen when the tree has both rngd and haveged
		treeHave []string
	}{
		{"defaults, haveged preferred", nil, repos.TetherDefault, false, "/usr/sbin/haveged", []string{"/usr/sbin/haveged", "/sbin/rngd", "/sbin/iptables"}},
		{"defaults, rngd when no haveged", nil, repos.TetherDefault, false, "/sbin/rngd", []string{"/sbin/rngd", "/sbin/iptables"}},
		{"legacy init.sh", set("init.sh", legacyInit), repos.TetherLegacy, true, "", nil},
		{"tether section wins over init.sh functions", func(f map[string]string) {
			f["init.sh"] = legacyInit
			specEdit(`"init": "/bin/init",`, `"init": "/bin/init", "tether": {},`)(f)
		}, repos.TetherSpec, false, "/sbin/rngd", []string{"/sbin/rngd", "/sbin/iptables"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := repos.Load(writeDef(t, c.edit))
			if err != nil {
				t.Fatal(err)
			}
			p := d.Tether()
			if p.Mode != c.mode || d.Init.Legacy != c.legacy {
				t.Fatalf("mode %q legacy %v", p.Mode, d.Init.Legacy)
			}
			r, err := p.Resolve(func(p string) bool { return slices.Contains(c.treeHave, p) })
			if err != nil {
				t.Fatal(err)
			}
			if c.entropy != "" && (len(r.Entropy) != 1 || r.Entropy[0].Binary != c.entropy) {
				t.Errorf("entropy %+v, want %s", r.Entropy, c.entropy)
			}
			// bash is needed only by legacy definitions.
			err = d.CheckLegacyShell(func(string) bool { return false })
			if c.legacy != (err != nil) {
				t.Errorf("CheckLegacyShell without bash: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), "init.sh") {
				t.Errorf("error does not name init.sh: %v", err)
			}
			if err := d.CheckLegacyShell(func(p string) bool { return p == "/bin/bash" }); err != nil {
				t.Error(err)
			}
		})
	}
	// No entropy daemon at all.
	d, err := repos.Load(writeDef(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Tether().Resolve(func(string) bool { return false }); !errors.Is(err, repos.ErrNoEntropy) {
		t.Errorf("want ErrNoEntropy, got %v", err)
	}
}

func TestKernelFile(t *testing.T) {
	dir := writeDef(t, func(f map[string]string) {
		f["rpms/kernel-1.0-1.x86_64.rpm"] = "not really an rpm: repos does not read it"
		specEdit(`"kernel": "linux-esx"`, `"kernel": "rpms/kernel-1.0-1.x86_64.rpm"`)(f)
	})
	d, err := repos.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.KernelFile != "rpms/kernel-1.0-1.x86_64.rpm" {
		t.Errorf("KernelFile = %q", d.KernelFile)
	}
	// VIC's rule: a kernel value that is not a file is a package spec.
	d, err = repos.Load(writeDef(t, specEdit(`"kernel": "linux-esx"`, `"kernel": "kernel-2.6.32-754.el6"`)))
	if err != nil {
		t.Fatal(err)
	}
	if d.KernelFile != "" || d.Spec.Kernel != "kernel-2.6.32-754.el6" {
		t.Errorf("KernelFile %q Kernel %q", d.KernelFile, d.Spec.Kernel)
	}
}

// A kernel RPM file by absolute host path: a file is a file, a missing
// .rpm is an error naming the path, and a relative path may not leave the
// folder. The effective definition names the file by its SHA-256 (as
// sha256sum computes it), and a definition recorded without its file
// takes the path and digest as given.
func TestKernelFileAbsolute(t *testing.T) {
	testrepo.NeedTools(t, "sha256sum")
	rpm := filepath.Join(t.TempDir(), "linux-6.1.rpm")
	if err := os.WriteFile(rpm, []byte("not really an rpm: repos does not read it"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := repos.Load(writeDef(t, specEdit(`"kernel": "linux-esx"`, `"kernel": "`+rpm+`"`)))
	if err != nil {
		t.Fatal(err)
	}
	if d.KernelFile != rpm || d.KernelLabel() != rpm {
		t.Errorf("KernelFile %q, label %q, want %q", d.KernelFile, d.KernelLabel(), rpm)
	}
	eff, err := d.EffectiveDefinition()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sha256sum", rpm).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(string(out))[0]; eff.Kernel.File != rpm || eff.Kernel.SHA256 != want || eff.Kernel.Package != "" {
		t.Errorf("effective kernel %+v, want file %s sha256 %s", eff.Kernel, rpm, want)
	}
	f, err := d.OpenKernel()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	missing := filepath.Join(t.TempDir(), "gone.rpm")
	_, err = repos.Load(writeDef(t, specEdit(`"kernel": "linux-esx"`, `"kernel": "`+missing+`"`)))
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing kernel file: %v", err)
	}
	_, err = repos.Load(writeDef(t, specEdit(`"kernel": "linux-esx"`, `"kernel": "../kernel.rpm"`)))
	if err == nil || !strings.Contains(err.Error(), "leaves the definition folder") {
		t.Errorf("kernel outside the folder: %v", err)
	}
	// An absolute path that is no file and no .rpm is a package spec (a
	// file some package provides), as VIC reads it.
	d, err = repos.Load(writeDef(t, specEdit(`"kernel": "linux-esx"`, `"kernel": "/boot/vmlinuz-provider"`)))
	if err != nil || d.KernelFile != "" {
		t.Errorf("a path provide: KernelFile %q, %v", d.KernelFile, err)
	}

	// Recorded without its file (an ISO's /boot/vicroot/definition).
	dir := writeDef(t, specEdit(`"kernel": "linux-esx"`, `"kernel": "rpms/k.rpm"`))
	d, err = repos.LoadFSWith(os.DirFS(dir), "iso:/boot/vicroot/definition", false, repos.LoadOptions{KernelFile: "rpms/k.rpm", KernelSHA256: "ab12"})
	if err != nil {
		t.Fatal(err)
	}
	if eff, err := d.EffectiveDefinition(); err != nil || eff.Kernel.SHA256 != "ab12" {
		t.Errorf("recorded kernel: %+v, %v", eff.Kernel, err)
	}
	if _, err := d.OpenKernel(); err == nil || !strings.Contains(err.Error(), "ab12") {
		t.Errorf("opening a recorded kernel file: %v", err)
	}
	if _, err := repos.LoadFSWith(os.DirFS(dir), "rec", false, repos.LoadOptions{KernelFile: "other.rpm"}); err == nil || !strings.Contains(err.Error(), "other.rpm") {
		t.Errorf("a record naming another kernel file: %v", err)
	}
}

// gpgFingerprints asks gpg (the oracle) for the primary fingerprints of a
// key file.
func gpgFingerprints(t *testing.T, file string) []string {
	t.Helper()
	testrepo.NeedTools(t, "gpg")
	cmd := exec.Command("gpg", "--batch", "--with-colons", "--show-keys", file)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg --show-keys %s: %v", file, err)
	}
	var fps []string
	prevPub := false
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, ":")
		if f[0] == "fpr" && prevPub {
			fps = append(fps, f[9])
		}
		prevPub = f[0] == "pub"
	}
	return fps
}

func TestFingerprintsAgainstGPG(t *testing.T) {
	fx := testrepo.Fixtures(t)
	for _, c := range []struct {
		file string
		want []string // independently known; gpg must agree too
	}{
		// Expired 2017, RSA-1024, SHA-1 self-signature: still gives its fingerprint.
		{"vmware-vic/VMWARE-RPM-GPG-KEY", []string{vmwareFPR}},
		// Two keys in one file (RSA-4096 and DSA-1024).
		{"distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release", []string{"567E347AD0044ADE55BA8A5F199E2F91FD431D51", "43A6E49C4A38F4BE9ABF2A5345689C882FA658E0"}},
		{"rpm-software-management-rpm/keys/rpm.org-rsa-2048-test.pub", []string{"771B18D3D7BAA28734333C424344591E1964C5FC"}},
		{"rpm-software-management-rpm/keys/alice.asc", []string{"B6542F92F30650C36B6F41BCB3A771BFEB04E625"}},
	} {
		p := filepath.Join(fx, c.file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := repos.Fingerprints(b)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.file, got, c.want)
		}
		if g := gpgFingerprints(t, p); !slices.Equal(got, g) {
			t.Errorf("%s: got %q, gpg says %q", c.file, got, g)
		}
		// The same key in binary form, as gpg --dearmor writes it.
		testrepo.NeedTools(t, "gpg")
		bin, err := exec.Command("gpg", "--dearmor", "--batch", "-o", "-", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		if gb, err := repos.Fingerprints(bin); err != nil || !slices.Equal(gb, c.want) {
			t.Errorf("%s dearmored: %q, %v", c.file, gb, err)
		}
	}
}

func TestCheckPin(t *testing.T) {
	fx := testrepo.Fixtures(t)
	vmw, _ := os.ReadFile(filepath.Join(fx, "vmware-vic/VMWARE-RPM-GPG-KEY"))
	rh, _ := os.ReadFile(filepath.Join(fx, "distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release"))
	if _, err := repos.CheckPin(vmw, []string{vmwareFPR}); err != nil {
		t.Error(err)
	}
	if _, err := repos.CheckPin(vmw, []string{"771B18D3D7BAA28734333C424344591E1964C5FC"}); !errors.Is(err, repos.ErrFingerprintMismatch) {
		t.Errorf("want mismatch, got %v", err)
	}
	// A pinned file must not smuggle in a second, unpinned key.
	if _, err := repos.CheckPin(rh, []string{"567E347AD0044ADE55BA8A5F199E2F91FD431D51"}); !errors.Is(err, repos.ErrFingerprintMismatch) || !strings.Contains(err.Error(), "43A6E49C4A38F4BE9ABF2A5345689C882FA658E0") {
		t.Errorf("want mismatch naming the DSA key, got %v", err)
	}
	if _, err := repos.CheckPin(rh, []string{"567E347AD0044ADE55BA8A5F199E2F91FD431D51", "43A6E49C4A38F4BE9ABF2A5345689C882FA658E0"}); err != nil {
		t.Error(err)
	}
	// Both keys concatenated as two armor blocks.
	both := append(append([]byte{}, vmw...), rh...)
	if fps, err := repos.Fingerprints(both); err != nil || len(fps) != 3 || fps[0] != vmwareFPR {
		t.Errorf("two blocks: %q %v", fps, err)
	}
	for _, bad := range [][]byte{nil, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"), vmw[:200]} {
		if _, err := repos.Fingerprints(bad); err == nil {
			t.Errorf("Fingerprints(%q) succeeded", bad)
		}
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	for in, want := range map[string]string{
		"36E4 7E1C C4DC C5E8 152D  115C C0B5 E0AB 66FD 4949": vmwareFPR,
		"0x36e47e1cc4dcc5e8152d115cc0b5e0ab66fd4949":         vmwareFPR,
		"66FD4949": "",
		"36E47E1CC4DCC5E8152D115CC0B5E0AB66FD494G": "",
		"": "",
	} {
		got, err := repos.NormalizeFingerprint(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("%q: got %q, %v", in, got, err)
		}
	}
}

func TestGPGKeyValues(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{validRepo, []string{"file:///etc/pki/rpm-gpg/VMWARE-RPM-GPG-KEY"}},
		{"[a]\ngpgkey = file:///a, file:///b\n[b]\nGPGKEY=file:///a\n", []string{"file:///a", "file:///b"}},
		{"[a]\ngpgkey=file:///a\n  file:///c\n\tfile:///d\nbaseurl=x\n  not-a-key\n", []string{"file:///a", "file:///c", "file:///d"}},
		{"[a]\n#gpgkey=file:///x\n; gpgkey=file:///y\ngpgcheck=1\n", nil},
		{"[a]\r\ngpgkey=file:///crlf\r\n", []string{"file:///crlf"}},
		{"gpgkeyx=file:///no\n", nil},
	} {
		if got := repos.GPGKeyValues([]byte(c.in)); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseInit(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      string
		drivers []string
		vars    map[string]string
		funcs   []string
	}{
		// The layout VIC's photon-2.0 init.sh uses: quoted names, backslashes, a tab.
		{"vic layout", "#!/bin/bash\ndrivers=(\n    \"nf_nat_redirect\" \\\n    \"xt_REDIRECT\" \\\n   \t\"nf_reject_ipv4\" \\\n    \"nfsv3\" \\\n    \"lockd\" \\\n)\n" +
			"install-entropy () {\n    mkdir -p $1/{bin,lib64}\n    cat - > $1/bin/entropy <<ENTROPY\n#!/bin/sh\nx \"\\$@\"\nENTROPY\n}\ninstall-iptables () {\n  :\n}\n",
			[]string{"nf_nat_redirect", "xt_REDIRECT", "nf_reject_ipv4", "nfsv3", "lockd"}, nil, []string{"install-entropy", "install-iptables"}},
		{"no drivers", "echo hi\n", []string{}, nil, nil},
		{"empty drivers", "drivers=()\n", []string{}, nil, nil},
		{"append and declare", "declare -a drivers=(a b)\ndrivers+=(c)\n", []string{"a", "b", "c"}, nil, nil},
		{"reassigned", "drivers=(a)\ndrivers=(b)\n", []string{"b"}, nil, nil},
		{"scalar", "drivers='a b'\n", []string{"a", "b"}, nil, nil},
		{"vars", "ma=/usr/lib/x86_64-linux-gnu\nq=\"quoted value\"\ns='single'\ncmd=$(uname -r)\nexport E=1\nx=1 true\n", []string{},
			map[string]string{"ma": "/usr/lib/x86_64-linux-gnu", "q": "quoted value", "s": "single", "E": "1"}, nil},
		{"only top level", "f() { drivers=(inner); v=1; }\nif true; then drivers=(cond); fi\n", []string{}, nil, []string{"f"}},
		{"function keyword", "function install-entropy { :; }\n", []string{}, nil, []string{"install-entropy"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := repos.ParseInit("init.sh", []byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Drivers, c.drivers) {
				t.Errorf("drivers %q, want %q", s.Drivers, c.drivers)
			}
			if len(s.Vars) != len(c.vars) {
				t.Errorf("vars %q, want %q", s.Vars, c.vars)
			}
			for k, v := range c.vars {
				if s.Vars[k] != v {
					t.Errorf("var %s = %q, want %q", k, s.Vars[k], v)
				}
			}
			if !slices.Equal(s.Functions, c.funcs) {
				t.Errorf("functions %q, want %q", s.Functions, c.funcs)
			}
		})
	}
}

func TestStagingCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		verb string
		pkgs []string
		err  string
	}{
		{"", "", nil, ""},
		{"erase toybox", "erase", []string{"toybox"}, ""},
		{"remove  a   b", "remove", []string{"a", "b"}, ""},
		{"install bash", "install", []string{"bash"}, ""},
		{"  ", "", nil, "only white space"},
		{"null", "", nil, "jq"},
		{"upgrade", "", nil, `unknown command "upgrade"`},
		{"install", "", nil, "needs at least one package"},
		{"erase -y toybox", "", nil, `option "-y"`},
		{"erase $(x)", "", nil, "is not a package name"},
	} {
		got, err := repos.ParseStagingCommand(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if c.verb == "" {
			if got != nil {
				t.Errorf("%q: want skip, got %+v", c.in, got)
			}
			continue
		}
		if got.Verb != c.verb || !slices.Equal(got.Packages, c.pkgs) {
			t.Errorf("%q: got %+v", c.in, got)
		}
		if again, err := repos.ParseStagingCommand(got.String()); err != nil || again.String() != got.String() {
			t.Errorf("%q: String() does not round-trip: %v", c.in, err)
		}
	}
}

func TestNotFound(t *testing.T) {
	_, err := repos.Load("photon-9.9")
	if !errors.Is(err, repos.ErrNotFound) || !strings.Contains(err.Error(), "photon-2.0") {
		t.Errorf("got %v", err)
	}
	// A folder that is not a definition.
	_, err = repos.Load(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "repo-spec.json") {
		t.Errorf("got %v", err)
	}
}

func TestEffectiveIsDeterministic(t *testing.T) {
	dir := writeDef(t, nil)
	var prev []byte
	for range 3 {
		d, err := repos.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Effective()
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil && !bytes.Equal(prev, b) {
			t.Fatal("Effective differs between loads")
		}
		prev = b
	}
}
