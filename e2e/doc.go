// Package e2e holds vicroot's end-to-end tests: they run the static
// vicroot binary (built with CGO_ENABLED=0, as shipped) against the real
// signed test repository and boot what it writes in qemu.
package e2e
