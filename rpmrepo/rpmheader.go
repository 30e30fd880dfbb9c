package rpmrepo

import "github.com/vicroot/vicroot/internal/rpmhdr"

// The .rpm lead and headers are read by internal/rpmhdr, the bounded header
// reader rootfs installs with too; verification needs only these tags.

// ErrMalformedRPM is wrapped by every error about an .rpm file whose lead
// or headers cannot be read.
var ErrMalformedRPM = rpmhdr.ErrMalformed

// Signature header tags (rpmtag.h, RPMSIGTAG_*) and the main header's
// payload digest tags.
const (
	sigTagSize          = 1000
	sigTagPGP           = 1002
	sigTagMD5           = 1004
	sigTagGPG           = 1005
	sigTagDSAHeader     = 267
	sigTagRSAHeader     = 268
	sigTagSHA1Header    = 269
	sigTagLongSize      = 270
	sigTagSHA256Header  = 273
	tagPayloadDigest    = 5092
	tagPayloadDigestAlg = 5093
)
