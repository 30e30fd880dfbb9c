package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// emergencyRE matches systemd's initrd mode, and its emergency and rescue
// paths, on the console.
var emergencyRE = regexp.MustCompile(`(?i)Running in initrd|emergency mode|emergency\.(target|service)|emergency shell|rescue\.(target|service)|Failed to switch root|initrd\.target|Initrd Default Target`)

// bootUntil boots iso in qemu (TCG, console on ttyS1 as VIC sets it) and
// returns ttyS1's output as soon as done says so, the console shows
// systemd's emergency path, or timeout passes (qemu runs under timeout).
func bootUntil(t *testing.T, iso string, timeout time.Duration, done func(string) bool) (string, bool) {
	t.Helper()
	testrepo.NeedTools(t, "qemu-system-x86_64", "timeout")
	dir := t.TempDir()
	s0, s1 := filepath.Join(dir, "ttyS0"), filepath.Join(dir, "ttyS1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "timeout", "-k", "10", fmtSeconds(timeout),
		"qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "1",
		"-display", "none", "-no-reboot", "-nic", "none", "-monitor", "none",
		"-cdrom", iso, "-boot", "d", "-serial", "file:"+s0, "-serial", "file:"+s1)
	// Stop with SIGTERM, which timeout(1) passes on to qemu: a SIGKILL
	// would leave qemu running without its timeout.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(s1)
			return string(b), done(string(b))
		case <-tick.C:
			b, _ := os.ReadFile(s1)
			if done(string(b)) || emergencyRE.Match(b) {
				cancel()
				<-exited
				b, _ = os.ReadFile(s1)
				return string(b), done(string(b))
			}
		}
	}
}

// fmtSeconds is d in whole seconds, as timeout(1) takes it.
func fmtSeconds(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) }

// The appliance boots: systemd is PID 1 straight from the initramfs (not
// in initrd mode: that, and the emergency path, fail the test at once), vic.target
// is reached, and the stand-in vic-init runs under systemd and announces
// itself on ttyS1; sshd is not started.
func TestApplianceBoots(t *testing.T) {
	repo := testrepo.Dir(t)
	def := definition(t, repo, nil, nil)
	out := t.TempDir()
	// systemd logs to the kernel log (not rate-limited), which the
	// console (ttyS1 too) prints down to info.
	iso := buildISO(t, repo, def, out, "--target", "appliance", "--boot-arg", "loglevel=7", "--boot-arg", "printk.devkmsg=on",
		"--boot-arg", "systemd.log_target=kmsg", "--boot-arg", "systemd.log_level=info")
	if filepath.Base(iso) != "appliance-testrepo-2.0.iso" {
		t.Fatalf("built %s", iso)
	}
	ttyS1, ok := bootUntil(t, iso, 240*time.Second, func(s string) bool {
		return strings.Contains(s, "vicroot-stand-in vic-init running as pid ")
	})
	if m := emergencyRE.FindString(ttyS1); m != "" {
		t.Errorf("the boot took systemd's emergency path (%q)", m)
	}
	if !ok {
		t.Errorf("vic-init never announced itself")
	}
	requireLines(t, "ttyS1", ttyS1, "vicroot-stand-in vic-init running as pid ", " under systemd",
		"Reached target vic.target - vSphere Integrated Containers")
	if strings.Contains(ttyS1, "Secure Shell") || strings.Contains(ttyS1, "Started sshd") {
		t.Errorf("sshd was started")
	}
	if t.Failed() {
		t.Logf("ttyS1:\n%s", ttyS1)
	}
}
