// Package repos loads and validates repo definitions: the user's whole input
// to a build (repo-spec.json, the .repo files, keys or key pins, init.sh and
// the optional base.sh and staging.sh hooks), embedded samples (photon-2.0,
// photon-1.0, centos-6.9) included. The format is documented in README.md.
//
// It decides what a definition means — package sets, staging commands,
// releasever, which keys are trusted and where they are installed, the
// tether plan — but it does no network I/O and runs nothing: .repo syntax,
// fetching and signature checks are package rpmrepo's, running the hooks is
// package rootfs's. Subpackage vic holds the VIC recipe's own assets. It
// knows nothing of XML, cpio or ISO bytes.
package repos
