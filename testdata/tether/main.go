// Command tether is vicroot's test stand-in for VIC's tether: the program a
// bootstrap image hands over to with `switch_root /mnt/containerfs
// /.tether/tether`. It does, for the end-to-end boot test, exactly what VIC's
// tether does that the seed's checks rely on, and then powers the VM off:
//
//  1. mounts /proc, /sys and /dev when they are absent;
//  2. starts the command in /.tether/opt/config/entropy.txt (split on single
//     spaces, as VIC does) in the background, waits about two seconds and
//     checks that it is still running;
//  3. lists the processes like `ps -ef`;
//  4. runs `/lib64/ld-linux-x86-64.so.2 /bin/iptables -L -v` chrooted into
//     /.tether with an empty environment, as VIC's tether does, and then
//     `/.tether/bin/iptables-wrapper -L -v`;
//  5. writes everything to /dev/ttyS1 (the tether.debug log; stdout when it
//     cannot be opened), one `VICROOT-TETHER-FAIL <step>: <reason>` line per
//     failed step, and a final `VICROOT-TETHER-OK` line only when every step
//     passed (otherwise `VICROOT-TETHER-FAILED <n>`);
//  6. powers off when it runs as PID 1.
//
// It is not VIC's tether: no vSphere guestinfo, no container lifecycle.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Markers the end-to-end test looks for.
const (
	markerOK     = "VICROOT-TETHER-OK"
	markerFail   = "VICROOT-TETHER-FAIL"
	markerFailed = "VICROOT-TETHER-FAILED"
)

// config holds the paths tether works on, so tests can point it elsewhere.
type config struct {
	TetherDir   string        // "/.tether"
	ProcDir     string        // "/proc"
	EntropyWait time.Duration // how long the entropy daemon must survive
	Mount       bool          // mount /proc, /sys, /dev when absent
	StopEntropy bool          // kill the entropy daemon at the end (not as PID 1)
}

func defaultConfig() config {
	return config{
		TetherDir:   "/.tether",
		ProcDir:     "/proc",
		EntropyWait: 2 * time.Second,
		Mount:       true,
	}
}

func main() {
	out, closeOut := openLog()
	c := defaultConfig()
	// Outside a VM (a chroot in tests) leave nothing running behind.
	c.StopEntropy = os.Getpid() != 1
	failed := run(context.Background(), c, out)
	closeOut()
	if os.Getpid() == 1 {
		syscall.Sync()
		// As PID 1 we must never exit (the kernel panics); power off instead.
		_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
		select {}
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// openLog opens the serial port VIC uses for the tether.debug log.
func openLog() (io.Writer, func()) {
	f, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		fmt.Fprintf(os.Stdout, "tether: /dev/ttyS1: %v; logging to stdout\n", err)
		return os.Stdout, func() {}
	}
	// Only the serial port: with console=ttyS1 stdout is the same port, and
	// writing both would print every line twice.
	return f, func() { f.Close() }
}

// run performs every step and returns the number that failed.
func run(ctx context.Context, c config, w io.Writer) int {
	// The entropy daemon keeps writing while the later steps run.
	out := &lockedWriter{w: w}
	failed := 0
	step := func(name string, err error) {
		if err != nil {
			failed++
			fmt.Fprintf(out, "%s %s: %v\n", markerFail, name, err)
		} else {
			fmt.Fprintf(out, "tether: %s: ok\n", name)
		}
	}

	if c.Mount {
		step("mount", mountBasics())
	}

	entropy, err := startEntropy(ctx, c, out)
	step("entropy start", err)
	if entropy != nil {
		time.Sleep(c.EntropyWait)
		step("entropy running", alive(c.ProcDir, entropy.Process.Pid))
	}

	fmt.Fprintln(out, "== ps -ef")
	step("ps", ps(c.ProcDir, out))

	fmt.Fprintln(out, "== chroot /.tether /lib64/ld-linux-x86-64.so.2 /bin/iptables -L -v")
	ipt := exec.CommandContext(ctx, "/lib64/ld-linux-x86-64.so.2", "/bin/iptables", "-L", "-v")
	ipt.Env = []string{} // VIC's tether runs it with an empty environment
	ipt.SysProcAttr = &syscall.SysProcAttr{Chroot: c.TetherDir}
	step("iptables chroot", runTo(ipt, out))

	fmt.Fprintln(out, "== /.tether/bin/iptables-wrapper -L -v")
	wrap := exec.CommandContext(ctx, filepath.Join(c.TetherDir, "bin/iptables-wrapper"), "-L", "-v")
	step("iptables-wrapper", runTo(wrap, out))

	if entropy != nil && c.StopEntropy {
		_ = entropy.Process.Kill()
	}
	if failed == 0 {
		fmt.Fprintln(out, markerOK)
	} else {
		fmt.Fprintf(out, "%s %d\n", markerFailed, failed)
	}
	return failed
}

// mountBasics mounts the kernel filesystems the later steps read, unless
// the bootstrap moved them in already.
func mountBasics() error {
	var errs []error
	for _, m := range []struct{ probe, dir, fstype string }{
		{"/proc/self", "/proc", "proc"},
		{"/sys/kernel", "/sys", "sysfs"},
		{"/dev/null", "/dev", "devtmpfs"},
	} {
		if _, err := os.Stat(m.probe); err == nil {
			continue
		}
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := syscall.Mount(m.fstype, m.dir, m.fstype, 0, ""); err != nil {
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.fstype, m.dir, err))
		}
	}
	return errors.Join(errs...)
}

// entropyArgs splits entropy.txt the way VIC's tether does: on single
// spaces, after dropping the trailing newline.
func entropyArgs(content string) ([]string, error) {
	line := strings.TrimRight(content, "\r\n")
	if strings.TrimSpace(line) == "" {
		return nil, errors.New("empty command")
	}
	if strings.Contains(line, "\n") {
		return nil, errors.New("more than one line")
	}
	return strings.Split(line, " "), nil
}

func startEntropy(ctx context.Context, c config, out io.Writer) (*exec.Cmd, error) {
	p := filepath.Join(c.TetherDir, "opt/config/entropy.txt")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	args, err := entropyArgs(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	fmt.Fprintf(out, "== entropy: %q\n", args)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait() }() // reap it if it exits
	return cmd, nil
}

// alive reports an error unless pid is a running (not zombie) process.
func alive(procDir string, pid int) error {
	b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	st, err := parseStat(string(b))
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	if st.state == "Z" || st.state == "X" {
		return fmt.Errorf("pid %d (%s) has exited", pid, st.comm)
	}
	return nil
}

type procStat struct {
	comm  string
	state string
	ppid  int
}

// parseStat reads the fields of /proc/<pid>/stat we need. comm may hold
// spaces and parentheses, so split at the last ')'.
func parseStat(s string) (procStat, error) {
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return procStat{}, fmt.Errorf("stat %q: no (comm)", s)
	}
	f := strings.Fields(s[close+1:])
	if len(f) < 2 {
		return procStat{}, fmt.Errorf("stat %q: too few fields", s)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("stat %q: ppid: %w", s, err)
	}
	return procStat{comm: s[open+1 : close], state: f[0], ppid: ppid}, nil
}

type proc struct {
	uid, pid, ppid int
	cmd            string
}

// processes reads every /proc/<pid>, sorted by pid.
func processes(procDir string) ([]proc, error) {
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return nil, err
	}
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(procDir, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue // it exited meanwhile
		}
		st, err := parseStat(string(b))
		if err != nil {
			return nil, err
		}
		p := proc{pid: pid, ppid: st.ppid, uid: uidOf(dir)}
		cl, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		p.cmd = strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " "))
		if p.cmd == "" {
			p.cmd = "[" + st.comm + "]" // kernel threads, as ps shows them
		}
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].pid < ps[j].pid })
	return ps, nil
}

func uidOf(dir string) int {
	f, err := os.Open(filepath.Join(dir, "status"))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				if n, err := strconv.Atoi(fs[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// ps prints the process list in `ps -ef`'s UID PID PPID CMD columns.
func ps(procDir string, out io.Writer) error {
	list, err := processes(procDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%-8s %5s %5s CMD\n", "UID", "PID", "PPID")
	for _, p := range list {
		fmt.Fprintf(out, "%-8d %5d %5d %s\n", p.uid, p.pid, p.ppid, p.cmd)
	}
	return nil
}

func runTo(cmd *exec.Cmd, out io.Writer) error {
	cmd.Stdout, cmd.Stderr = out, out
	return cmd.Run()
}

// lockedWriter serialises writes from the child processes' output copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
