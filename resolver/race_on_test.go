//go:build race

package resolver_test

// raceOn reports whether the race detector is on: the 63,000-package
// comparison with dnf takes minutes under it, so make test runs that test
// again without -race (see the Makefile's test target).
const raceOn = true
