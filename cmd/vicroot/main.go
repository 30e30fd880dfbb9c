// Command vicroot builds VIC's bootstrap and appliance ISOs from a repo
// definition: one static binary, no root, byte-for-byte reproducible.
//
// Each subcommand lives in its own file and only parses flags, reports
// progress and maps errors to exit codes; the work is done by the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailure = 1 // the operation failed (bad input, unresolvable, verification failed)
	exitUsage   = 2 // the command line was wrong
	exitDiffers = 3 // verify/diff: the images differ
)

// usageError marks errors that are the command line's fault.
type usageError struct{ error }

// exitError carries an exit code chosen by a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "vicroot:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}
