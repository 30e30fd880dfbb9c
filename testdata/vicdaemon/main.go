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
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
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
