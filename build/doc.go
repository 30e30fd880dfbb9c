// Package build is the vicroot pipeline: from a repo definition to VIC's
// bootstrap ISO (and its lock, manifest, SBOM and report), readable top to
// bottom in Build. Each stage is a package of its own — repos, rpmrepo,
// resolver, rootfs, initramfs — and build only passes values between them
// and adds VIC's layout (repos/vic).
package build
