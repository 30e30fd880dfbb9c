package rootfs_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rootfs/hook"
)

// The state VIC's base.sh leaves before a repo hook runs, plus files the
// hooks below touch. daemon has Debian's ids, because the oracle's chown
// reads the host's account files while the tree's chown reads the tree's.
const hookSetup = `mkdir -p rootfs/etc rootfs/usr/lib rootfs/usr/bin
ln -s /lib rootfs/lib64
echo UTC > rootfs/etc/localtime
printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\n' > rootfs/etc/passwd
printf 'root:x:0:\ndaemon:x:1:\n' > rootfs/etc/group
printf 'PermitRootLogin no\n#Port 22\nUseDNS yes\n' > rootfs/etc/sshd_config
`

var hookCases = []struct{ name, script string }{
	// VIC's photon-2.0 base.sh: /var/run is %ghost in Photon's filesystem.
	{"photon-2.0 base.sh", `mkdir -p rootfs/{run,var}
ln -s /run rootfs/var/run
`},
	// VIC's centos-6.9 base.sh.
	{"centos-6.9 base.sh", `rm -f rootfs/lib64
mkdir rootfs/{dev,lib64}
mknod -m 666 rootfs/dev/null c 1 3
`},
	// VIC's centos-6.9 staging.sh.
	{"centos-6.9 staging.sh", `rm -f rootfs/etc/localtime
`},
	{"applets", `ROOT=$(rootfs_dir $PKGDIR)
install -d -m 0750 $ROOT/opt/app
install -m 0644 $ROOT/etc/passwd $ROOT/opt/app/passwd.copy
cp -a $ROOT/etc $ROOT/etc.bak
cp $ROOT/etc/group $ROOT/opt/app/
mv $ROOT/opt/app/group $ROOT/opt/app/group.moved
chmod u+x,go-r $ROOT/opt/app/group.moved
chmod -R g+w $ROOT/etc.bak
chown daemon:daemon $ROOT/opt/app/passwd.copy
chown -R 2:2 $ROOT/etc.bak
touch $ROOT/opt/app/stamp
ln -sf ../etc/passwd $ROOT/usr/pw
ln -s /usr/bin $ROOT/bin
ln $ROOT/etc/group $ROOT/etc/group.hard
echo "$(basename /a/b/c.sh .sh) $(dirname /a/b/c.sh)" > $ROOT/opt/app/names
echo more >> $ROOT/opt/app/names
readlink $ROOT/usr/pw > $ROOT/opt/app/link
cat $ROOT/etc/group $ROOT/opt/app/names > $ROOT/opt/app/cat
sed -i 's/^PermitRootLogin no/PermitRootLogin yes/' $ROOT/etc/sshd_config
sed -i -e '/^#Port/d' $ROOT/etc/sshd_config
sed -i 's/\(Use\)DNS yes/\1DNS no/g' $ROOT/etc/sshd_config
mknod $ROOT/opt/app/fifo p
if [ -d $ROOT/opt/app ] && [ ! -e $ROOT/nonexistent ]; then touch $ROOT/opt/app/tested; fi
test -L $ROOT/usr/pw && echo yes > $ROOT/opt/app/islink
for f in $ROOT/etc/*; do echo "$f" >> $ROOT/opt/app/glob; done
rm -r $ROOT/etc.bak/group
rm -rf $ROOT/usr/lib
cd $ROOT/etc && touch fromcd && ln -s fromcd rel && cd ../opt
install -m 600 ../etc/fromcd app/
cd "$PKGDIR"
touch rootfs/back-in-pkgdir
`},
}

// TestHooksMatchBash runs each hook twice: with real bash and coreutils on
// a real directory (the oracle), and with RunHook on a tree; the results
// must be equal.
func TestHooksMatchBash(t *testing.T) {
	testrepo.NeedRoot(t)
	testrepo.NeedTools(t, "bash")
	for _, c := range hookCases {
		t.Run(c.name, func(t *testing.T) {
			pkg := t.TempDir()
			prelude := "rootfs_dir() { echo \"$1/rootfs\"; }\nset -e\n"
			cmd := exec.Command("bash", "-c", prelude+hookSetup+c.script)
			cmd.Dir = pkg
			cmd.Env = append(os.Environ(), "PKGDIR="+pkg)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			tr := newRoot()
			ctx := context.Background()
			if err := tr.RunHook(ctx, "setup.sh", []byte(hookSetup), hook.Env{}); err != nil {
				t.Fatal(err)
			}
			// A PKGDIR like VIC's mktemp one, to show the path is virtual.
			var stderr strings.Builder
			if err := tr.RunHook(ctx, c.name, []byte(c.script), hook.Env{PkgDir: "/tmp/tmp.XYZ", Stderr: &stderr}); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			want := diskSnapshot(t, filepath.Join(pkg, "rootfs"))
			// glob lists host paths; compare it without the PKGDIR prefix.
			if e, ok := want["opt/app/glob"]; ok {
				data, _ := os.ReadFile(filepath.Join(pkg, "rootfs/opt/app/glob"))
				got, _ := tr.ReadFile("opt/app/glob")
				if strings.ReplaceAll(string(data), pkg, "/tmp/tmp.XYZ") != string(got) {
					t.Errorf("glob output: bash %q, tree %q", data, got)
				}
				delete(want, "opt/app/glob")
				_ = e
			}
			got := treeSnapshot(t, tr)
			delete(got, "opt/app/glob")
			reportDiffs(t, diffSnapshots(want, got, nil))
		})
	}
}

func TestHookErrors(t *testing.T) {
	cases := []struct {
		name, script string
		line         uint
		unknown      bool
	}{
		{"unknown command", "mkdir -p rootfs/a\ncurl http://example.com\n", 2, true},
		{"absolute command path", "/usr/sbin/useradd x\n", 1, true},
		{"outside the tree", "touch rootfs/a\nrm -rf /etc\n", 2, false},
		{"dot-dot outside the tree", "cat rootfs/../../../etc/passwd\n", 1, false},
		{"failing applet", "\n\nrm rootfs/missing\n", 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newRoot()
			err := tr.RunHook(context.Background(), "base.sh", []byte(c.script), hook.Env{})
			var he *hook.Error
			if !errors.As(err, &he) {
				t.Fatalf("error %v is not a *HookError", err)
			}
			if he.Script != "base.sh" || he.Line != c.line {
				t.Errorf("error names %s line %d, want base.sh line %d (%v)", he.Script, he.Line, c.line, err)
			}
			if errors.Is(err, hook.ErrUnknownCommand) != c.unknown {
				t.Errorf("errors.Is(ErrUnknownCommand) = %v, want %v (%v)", !c.unknown, c.unknown, err)
			}
		})
	}
}

// Symlinks in the tree, even absolute or dotted ones, resolve inside it.
func TestHookSymlinksStayInTree(t *testing.T) {
	tr := newRoot()
	script := `mkdir -p rootfs/etc
ln -s / rootfs/escape
ln -s ../../../.. rootfs/up
touch rootfs/escape/etc/a rootfs/up/etc/b
echo hi > rootfs/up/up/escape/etc/c
`
	if err := tr.RunHook(context.Background(), "h.sh", []byte(script), hook.Env{}); err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(tr, "etc/a", "etc/b", "etc/c", "escape", "up"); err != nil {
		t.Fatal(err)
	}
	data, err := tr.ReadFile("etc/c")
	if err != nil || string(data) != "hi\n" {
		t.Fatalf("etc/c = %q, %v", data, err)
	}
}

func TestHookReadsDefinitionFolder(t *testing.T) {
	tr := newRoot()
	repo := fstest.MapFS{"key.asc": {Data: []byte("KEY\n"), Mode: 0o644}}
	script := `mkdir -p rootfs/etc/pki
cp $REPODIR/key.asc rootfs/etc/pki/
cat $REPODIR/key.asc >> rootfs/etc/pki/both
`
	if err := tr.RunHook(context.Background(), "h.sh", []byte(script), hook.Env{RepoFS: repo}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"etc/pki/key.asc", "etc/pki/both"} {
		if data, err := tr.ReadFile(f); err != nil || string(data) != "KEY\n" {
			t.Errorf("%s = %q, %v", f, data, err)
		}
	}
	err := tr.RunHook(context.Background(), "h.sh", []byte("echo x > $REPODIR/key.asc\n"), hook.Env{RepoFS: repo})
	if err == nil {
		t.Error("writing into the definition folder succeeded")
	}
}
