// Package repos loads and validates repo definitions: the user's whole input
// to a build (repo-spec.json, the .repo files, keys, init.sh and the optional
// base.sh and staging.sh hooks), embedded samples (photon-2.0, photon-1.0,
// centos-6.9) included. It holds the VIC recipe's own files as assets. It
// knows nothing of XML, cpio or ISO bytes.
package repos
