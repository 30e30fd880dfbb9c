// Package rpmrepo reads yum repositories and verifies everything they serve.
//
// It owns .repo files, repomd.xml, the primary and filelists metadata in every
// compression yum uses, fetching over http(s) and file:// with retries, the
// content-addressed cache, checksums and OpenPGP (keys, RPM V3 and V4
// signatures, repomd.xml.asc). It does not decide which packages to install:
// that is package resolver's business. It does not resolve gpgkey URLs to
// key files either (the repos stage does, then hands a KeyRing to Open).
//
// The flow a build uses:
//
//	cfgs, err := rpmrepo.ParseRepoFile("photon.repo", data, rpmrepo.Vars{"releasever": "2.0", "basearch": "x86_64", "arch": "x86_64"})
//	kr, err := rpmrepo.ReadKeyFiles(rpmrepo.KeyFile{Name: "VMWARE-RPM-GPG-KEY", Data: key})
//	repo, err := rpmrepo.Open(ctx, cfgs[0], rpmrepo.Options{Cache: &rpmrepo.Cache{Dir: dir}, KeyRing: kr})
//	pkgs := repo.Packages()          // primary.xml, verified against repomd
//	err = repo.LoadFilelists(ctx)    // only when a file dependency needs it
//	got, err := repo.Fetch(ctx, chosen)  // verified files in the cache
//
// Verification follows rpm: header and payload digests, V3 signatures
// (our code: RSA PKCS#1 v1.5 or DSA over the data and the V3 trailer) and
// V4 ones (ProtonMail go-crypto at packet level), the expiry of a primary
// key ignored with a warning, revoked or expired-at-signing subkeys
// refused, and an unsigned package (or one signed only by an unknown key)
// refused unless the repository has gpgcheck=0. The RPM lead and headers
// are read by internal/rpmhdr, the bounded reader rootfs installs with too, so malformed input
// is an error, never a panic.
package rpmrepo
