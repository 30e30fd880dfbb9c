package rpmrepo

import "fmt"

// ParsePrimaryReference exposes the encoding/xml reference parser to the
// external tests.
var ParsePrimaryReference = parsePrimaryXML
var ParseFilelistsReference = parseFilelistsXML

// PackageFromHeader exposes the header-to-Package reader to the fuzz test.
var PackageFromHeader = packageFromHeader

// ReadKeyRing reads key files given as bytes (named "key file #N" in
// errors). See ReadKeyFiles.
func ReadKeyRing(armored ...[]byte) (*KeyRing, error) {
	files := make([]KeyFile, len(armored))
	for i, d := range armored {
		files[i] = KeyFile{Name: fmt.Sprintf("key file #%d", i+1), Data: d}
	}
	return ReadKeyFiles(files...)
}

// FullReads is how many cache entries were read in full so far.
func FullReads() int64 { return fullReads.Load() }

// StampSuffix names a cache entry's stamp beside it.
const StampSuffix = stampSuffix

// VerifyRPMFile is VerifyRPM on a file.
func VerifyRPMFile(path string, kr *KeyRing, gpgcheck bool) (*Verification, error) {
	v, _, _, err := verifyRPMFile(path, nil, kr, gpgcheck)
	return v, err
}
