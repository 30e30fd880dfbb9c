// Command vicdaemon is vicroot's test stand-in for VIC's appliance daemons
// (vic-init, docker-engine-server, port-layer-server, vicadmin): one static
// binary installed under each name. It announces itself on the console
// (/dev/ttyS1, VIC's boot log; $VICDAEMON_CONSOLE names another, "-" is
// stdout, which is also the fallback) as
//
//	vicroot-stand-in NAME running as pid PID under PID1
//
// where PID1 is the name of process 1 (/proc/1/comm: "systemd" in the
// appliance), and then waits until it is told to stop (SIGTERM, SIGINT), as a daemon
// would; with the argument --once it exits after the announcement.
//
// Diagnostics, for the boot test only: when the kernel command line has
// vicroot.diagnostics=DEV and the stand-in runs as vic-init, it waits for
// systemd to finish starting up and then writes, to DEV, the output of a
// fixed list of read-only commands (systemctl show and is-enabled, rpm -qa,
// rpm -Va, the running processes), each section framed as
//
//	vicroot-diag-begin NAME
//	...stdout...
//	vicroot-diag-end NAME exit=STATUS stderr=N
//
// (a section NAME.stderr follows when the command wrote to stderr), and
// "vicroot-diag-done" last. Without that argument it does nothing more
// than announce itself: the production path is unchanged.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	name := filepath.Base(os.Args[0])
	var out io.Writer = os.Stdout
	console := os.Getenv("VICDAEMON_CONSOLE")
	if console == "" {
		console = "/dev/ttyS1"
	}
	if f, err := os.OpenFile(console, os.O_WRONLY, 0); console != "-" && err == nil {
		defer f.Close()
		out = f
	}
	pid1, _ := os.ReadFile("/proc/1/comm")
	fmt.Fprint(out, announcement(name, os.Getpid(), strings.TrimSpace(string(pid1))))
	if len(os.Args) > 1 && os.Args[1] == "--once" {
		return
	}
	if cmdline, err := os.ReadFile("/proc/cmdline"); err == nil && name == "vic-init" {
		if dev := diagnosticsDevice(string(cmdline)); dev != "" {
			if f, err := os.OpenFile(dev, os.O_WRONLY, 0); err == nil {
				diagnose(f)
				f.Close()
			} else {
				fmt.Fprintf(out, "vicroot-stand-in: diagnostics: %v\n", err)
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

// announcement is the line the stand-in writes when it starts.
func announcement(name string, pid int, pid1 string) string {
	if pid1 == "" {
		pid1 = "unknown"
	}
	return fmt.Sprintf("vicroot-stand-in %s running as pid %d under %s\n", name, pid, pid1)
}

// diagnosticsDevice returns the value of vicroot.diagnostics= on a kernel
// command line, or "".
func diagnosticsDevice(cmdline string) string {
	dev := ""
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "vicroot.diagnostics="); ok {
			dev = v
		}
	}
	return dev
}

// Units the boot test asks about: VIC's, sshd's and the gettys.
var diagUnits = []string{"vic.target", "vic-init.service", "nat.service", "permissions.service",
	"sshd.service", "sshd.socket", "getty@tty1.service"}

// diagCommands are the diagnostics, in order: none changes the image.
var diagCommands = []struct {
	name string
	argv []string
}{
	// Waits until the start-up jobs are done (running or degraded).
	{"system-state", []string{"/usr/bin/systemctl", "is-system-running", "--wait"}},
	{"units", append([]string{"/usr/bin/systemctl", "show", "--property=Id,ActiveState,SubState,Result,NRestarts,ExecMainStatus,ExecStart,DropInPaths"}, diagUnits...)},
	{"enabled", []string{"/usr/bin/systemctl", "is-enabled", "sshd.service", "sshd.socket", "getty@tty1.service"}},
	{"failed", []string{"/usr/bin/systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager"}},
	{"rpm-qa", []string{"/usr/bin/rpm", "-qa", "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\n"}},
	{"rpm-Va", []string{"/usr/bin/rpm", "-Va"}},
}

// diagnose writes the diagnostics to w.
func diagnose(w io.Writer) {
	pid1, _ := os.ReadFile("/proc/1/comm")
	section(w, "pid1", pid1, nil, 0)
	for _, c := range diagCommands {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		status := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else {
				status = -1
				fmt.Fprintf(&stderr, "%v\n", err)
			}
		}
		cancel()
		section(w, c.name, stdout.Bytes(), stderr.Bytes(), status)
	}
	section(w, "processes", []byte(processes()), nil, 0)
	fmt.Fprintln(w, "vicroot-diag-done")
}

// section writes one framed section, and its stderr as NAME.stderr.
func section(w io.Writer, name string, stdout, stderr []byte, status int) {
	frame := func(n string, b []byte) {
		fmt.Fprintf(w, "vicroot-diag-begin %s\n", n)
		w.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			fmt.Fprintln(w)
		}
	}
	frame(name, stdout)
	fmt.Fprintf(w, "vicroot-diag-end %s exit=%d stderr=%d\n", name, status, len(stderr))
	if len(stderr) > 0 {
		frame(name+".stderr", stderr)
		fmt.Fprintf(w, "vicroot-diag-end %s.stderr exit=0 stderr=0\n", name)
	}
}

// processes lists the command lines of the running processes, one a line,
// sorted (arguments joined by spaces).
func processes() string {
	ents, _ := os.ReadDir("/proc")
	var lines []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		lines = append(lines, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
