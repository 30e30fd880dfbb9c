package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
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
// returns ttyS1's and ttyS0's output as soon as done says so, ttyS1 shows
// systemd's emergency path, or timeout passes (qemu runs under timeout).
func bootUntil(t *testing.T, iso string, timeout time.Duration, done func(ttyS1, ttyS0 string) bool) (string, string, bool) {
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
	read := func() (string, string) {
		b1, _ := os.ReadFile(s1)
		b0, _ := os.ReadFile(s0)
		return string(b1), strings.ReplaceAll(string(b0), "\r\n", "\n")
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			o1, o0 := read()
			return o1, o0, done(o1, o0)
		case <-tick.C:
			o1, o0 := read()
			if done(o1, o0) || emergencyRE.MatchString(o1) {
				cancel()
				<-exited
				o1, o0 = read()
				return o1, o0, done(o1, o0)
			}
		}
	}
}

// fmtSeconds is d in whole seconds, as timeout(1) takes it.
func fmtSeconds(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) }

// diagSection is one section of the stand-in vic-init's diagnostics.
type diagSection struct {
	out     string
	exit    int
	stderr  int
	present bool
}

var diagEndRE = regexp.MustCompile(`^vicroot-diag-end (\S+) exit=(-?\d+) stderr=(\d+)$`)

// parseDiag reads the framed sections testdata/vicdaemon writes.
func parseDiag(s string) map[string]diagSection {
	secs := map[string]diagSection{}
	cur, body := "", []string(nil)
	for _, l := range strings.Split(s, "\n") {
		if n, ok := strings.CutPrefix(l, "vicroot-diag-begin "); ok {
			cur, body = n, nil
			continue
		}
		if m := diagEndRE.FindStringSubmatch(l); m != nil && m[1] == cur {
			exit, _ := strconv.Atoi(m[2])
			n, _ := strconv.Atoi(m[3])
			secs[cur] = diagSection{out: strings.Join(body, "\n"), exit: exit, stderr: n, present: true}
			cur = ""
			continue
		}
		if cur != "" {
			body = append(body, l)
		}
	}
	return secs
}

// unitProps parses `systemctl show` output for several units (blocks
// separated by blank lines) into properties by unit Id.
func unitProps(s string) map[string]map[string]string {
	units := map[string]map[string]string{}
	for _, block := range strings.Split(s, "\n\n") {
		props := map[string]string{}
		for _, l := range strings.Split(block, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				props[k] = v
			}
		}
		if id := props["Id"]; id != "" {
			units[id] = props
		}
	}
	return units
}

// vaChanges are the files `rpm -Va` reports in the booted appliance, each
// with the VIC step that changes it; every one must be reported.
var vaChanges = map[string]string{
	"/etc/passwd":          "appliance.sh: useradd vicadmin; staging: login shells :/bin/bash -> :/bin/false",
	"/etc/group":           "appliance.sh: groupadd vicadmin and vic, usermod -a -G vic vicadmin",
	"/etc/shadow":          "staging: root's password hash; appliance.sh: useradd vicadmin",
	"/etc/ssh/sshd_config": "staging: sed PermitRootLogin yes",
	"/etc/sudoers":         "staging: the vicadmin line appended",
	// Missing:
	"/usr/lib/systemd/system/sshd@.service": "staging: rm sshd@.service",
	// At boot:
	"/etc/iproute2/rt_tables": "nat-setup (nat.service): echo 201 bridge.out >> /etc/iproute2/rt_tables",
}

// vaMissing are reported missing by path pattern: the kernel VIC's base
// step moves to the ISO's /boot, and the modules the kernel step
// decompresses (the .ko is in the image, the packaged .ko.xz is not).
var vaMissing = []*regexp.Regexp{
	regexp.MustCompile(`^/boot/vmlinuz-[^/]+$`),
	regexp.MustCompile(`^/lib/modules/[^/]+/kernel/.*\.ko\.xz$`),
}

// The appliance boots: systemd is PID 1 straight from the initramfs (not
// in initrd mode: that, and the emergency path, fail the test at once), vic.target
// is reached, and the stand-in vic-init runs under systemd and announces
// itself on ttyS1. Then the stand-in's diagnostics (vicroot.diagnostics=,
// read from ttyS0) show, as the booted image's own systemctl and rpm see
// it: vic-init running, nat.service and permissions.service succeeded (VIC's
// scripts under the /bin/sh bash ships, after toybox's erase); sshd neither
// started nor enabled, though its package's preset enabled it (VIC's step
// removed the link); getty@tty1 started with VIC's override
// (`systemctl show`: its ExecStart and drop-in); `rpm -qa` lists
// exactly the planned packages plus one gpg-pubkey, with empty stderr; `rpm
// -Va` reports exactly the files VIC's steps change (vaChanges, vaMissing).
func TestApplianceBoots(t *testing.T) {
	repo := testrepo.Dir(t)
	def := definition(t, repo, nil, nil)
	out := t.TempDir()
	// systemd logs to the kernel log (not rate-limited), which the
	// console (ttyS1 too) prints down to info.
	iso := buildISO(t, repo, def, out, "--target", "appliance", "--boot-arg", "loglevel=7", "--boot-arg", "printk.devkmsg=on",
		"--boot-arg", "systemd.log_target=kmsg", "--boot-arg", "systemd.log_level=info",
		"--boot-arg", "vicroot.diagnostics=/dev/ttyS0")
	if filepath.Base(iso) != "appliance-testrepo-2.0.iso" {
		t.Fatalf("built %s", iso)
	}
	var report struct {
		Packages []string `json:"packages"`
	}
	if data, err := os.ReadFile(iso + ".report.json"); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(data, &report); err != nil || len(report.Packages) == 0 {
		t.Fatalf("report.json: %v (%d packages)", err, len(report.Packages))
	}

	ttyS1, ttyS0, ok := bootUntil(t, iso, 240*time.Second, func(_, s0 string) bool {
		return strings.Contains(s0, "vicroot-diag-done")
	})
	defer func() {
		if t.Failed() {
			t.Logf("ttyS1:\n%s\nttyS0:\n%s", ttyS1, ttyS0)
		}
	}()
	if m := emergencyRE.FindString(ttyS1); m != "" {
		t.Fatalf("the boot took systemd's emergency path (%q)", m)
	}
	if !ok {
		t.Fatalf("the stand-in vic-init's diagnostics never finished")
	}
	requireLines(t, "ttyS1", ttyS1, "vicroot-stand-in vic-init running as pid ", " under systemd",
		"Reached target vic.target - vSphere Integrated Containers")
	diag := parseDiag(ttyS0)
	sec := func(name string) diagSection {
		s := diag[name]
		if !s.present {
			t.Errorf("diagnostics: no section %s", name)
		}
		return s
	}
	if got := strings.TrimSpace(sec("pid1").out); got != "systemd" {
		t.Errorf("PID 1 is %q", got)
	}
	if st := sec("system-state"); st.out != "running" {
		t.Errorf("systemctl is-system-running: %q (failed units: %q)", st.out, diag["failed"].out)
	}

	units := unitProps(sec("units").out)
	want := func(unit string, props ...string) {
		t.Helper()
		for i := 0; i+1 < len(props); i += 2 {
			if got := units[unit][props[i]]; got != props[i+1] {
				t.Errorf("%s: %s=%q, want %q", unit, props[i], got, props[i+1])
			}
		}
	}
	want("vic.target", "ActiveState", "active")
	want("vic-init.service", "ActiveState", "active", "SubState", "running")
	want("nat.service", "ActiveState", "active", "SubState", "exited", "Result", "success", "ExecMainStatus", "0")
	want("permissions.service", "ActiveState", "active", "SubState", "exited", "Result", "success", "ExecMainStatus", "0")
	want("sshd.service", "ActiveState", "inactive")
	want("sshd.socket", "ActiveState", "inactive")
	// getty@tty1 was started (getty.target, enabled by the preset), with
	// VIC's ExecStart from its drop-in. (In the test image, which has no
	// /bin/login, its agetty exits with status 1 and Restart=always
	// restarts it.)
	getty := units["getty@tty1.service"]
	if !strings.Contains(getty["ExecStart"], "argv[]=/usr/bin/agetty -a root --noclear tty1 38400 linux ") ||
		!strings.Contains(getty["DropInPaths"], "/usr/lib/systemd/system/getty@tty1.service.d/override.conf") {
		t.Errorf("getty@tty1 runs without VIC's override: ExecStart=%s DropInPaths=%s", getty["ExecStart"], getty["DropInPaths"])
	}
	if strings.Contains(getty["ExecStart"], "start_time=[n/a]") {
		t.Errorf("getty@tty1 was never started: %s", getty["ExecStart"])
	}
	if enabled := strings.Fields(sec("enabled").out); !slices.Equal(enabled, []string{"disabled", "disabled", "enabled"}) {
		t.Errorf("systemctl is-enabled sshd.service sshd.socket getty@tty1.service: %v", enabled)
	}
	for _, p := range strings.Split(sec("processes").out, "\n") {
		if strings.Contains(p, "sshd") {
			t.Errorf("sshd runs: %s", p)
		}
	}

	qa := sec("rpm-qa")
	if qa.exit != 0 || qa.stderr != 0 {
		t.Errorf("rpm -qa in the image: exit %d, %d bytes on stderr: %s", qa.exit, qa.stderr, diag["rpm-qa.stderr"].out)
	}
	var got, keys []string
	for _, l := range strings.Fields(qa.out) {
		if strings.HasPrefix(l, "gpg-pubkey-") {
			keys = append(keys, l)
		} else {
			got = append(got, l)
		}
	}
	planned := slices.Clone(report.Packages)
	sort.Strings(planned)
	sort.Strings(got)
	if !slices.Equal(got, planned) {
		t.Errorf("rpm -qa in the image:\n%s\nplanned:\n%s", strings.Join(got, "\n"), strings.Join(planned, "\n"))
	}
	if len(keys) != 1 {
		t.Errorf("gpg-pubkey entries %v, want one for the one key the image imports", keys)
	}

	va := sec("rpm-Va")
	if va.stderr != 0 {
		t.Errorf("rpm -Va wrote to stderr: %s", diag["rpm-Va.stderr"].out)
	}
	seen := map[string]bool{}
	missing := make([]int, len(vaMissing))
	for _, l := range strings.Split(va.out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		p := f[len(f)-1]
		if _, ok := vaChanges[p]; ok {
			seen[p] = true
			if strings.HasSuffix(p, ".service") != (f[0] == "missing") {
				t.Errorf("rpm -Va: %s", l)
			}
			continue
		}
		matched := false
		for i, re := range vaMissing {
			if f[0] == "missing" && re.MatchString(p) {
				missing[i]++
				matched = true
			}
		}
		if !matched {
			t.Errorf("rpm -Va reports a file no VIC step changes: %s", l)
		}
	}
	for p, why := range vaChanges {
		if !seen[p] {
			t.Errorf("rpm -Va does not report %s (%s)", p, why)
		}
	}
	for i, n := range missing {
		if n == 0 {
			t.Errorf("rpm -Va reports nothing missing like %s", vaMissing[i])
		}
	}
}
