package rpmrepo

// ParsePrimaryReference exposes the encoding/xml reference parser to the
// external tests.
var ParsePrimaryReference = parsePrimaryXML
var ParseFilelistsReference = parseFilelistsXML

// PackageFromHeader exposes the header-to-Package reader to the fuzz test.
var PackageFromHeader = packageFromHeader
