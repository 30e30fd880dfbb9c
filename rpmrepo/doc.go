// Package rpmrepo reads yum repositories and verifies everything they serve.
//
// It owns .repo files, repomd.xml, the primary and filelists metadata in every
// compression yum uses, fetching over http(s) and file:// with retries, the
// content-addressed cache, checksums and OpenPGP (keys, RPM V3 and V4
// signatures, repomd.xml.asc). It does not decide which packages to install:
// that is package resolver's business.
package rpmrepo
