package vic_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/vic"
)

func TestIsolinuxConfig(t *testing.T) {
	// VIC's isos/ isolinux.cfg as its sed leaves it (less its stray space
	// before the tab and its missing final newline).
	want := "display boot.msg\n" +
		"default microcore\n" +
		"label microcore\n" +
		"\tkernel /boot/vmlinuz64\n" +
		"\tinitrd /boot/core.gz\n" +
		"\tappend rdinit=/bin/init loglevel=3 console=ttyS1,115200n8 console=tty0 quiet rcupdate.rcu_expedited=1 systemd.show_status=0 noreplace-smp cpu_init_udelay=0 vsyscall=emulate\n" +
		"F1 boot.msg\n"
	got, err := vic.IsolinuxConfig(vic.BootConfig{Init: "/bin/init"})
	if err != nil || string(got) != want {
		t.Errorf("IsolinuxConfig = %q, %v\nwant %q", got, err, want)
	}
	app, _ := vic.IsolinuxConfig(vic.BootConfig{Init: "/lib/systemd/systemd"})
	if !strings.Contains(string(app), "append rdinit=/lib/systemd/systemd loglevel=3 ") {
		t.Errorf("appliance config: %s", app)
	}
	test, _ := vic.IsolinuxConfig(vic.BootConfig{Init: "/init", Consoles: []string{"ttyS0"}, Extra: []string{"panic=-1"}})
	if !strings.Contains(string(test), "append rdinit=/init loglevel=3 console=ttyS0 quiet ") || !strings.Contains(string(test), " vsyscall=emulate panic=-1\n") {
		t.Errorf("test config: %s", test)
	}
	for _, bad := range []string{"", "bin/init", "/bin/my init"} {
		if _, err := vic.IsolinuxConfig(vic.BootConfig{Init: bad}); err == nil {
			t.Errorf("init %q accepted", bad)
		}
	}
	if msg := vic.BootMsg("v1.5.8"); !bytes.Contains(msg, []byte("vmware/vic - Virtual Container Host v1.5.8")) {
		t.Errorf("BootMsg: %q", msg)
	}
}
