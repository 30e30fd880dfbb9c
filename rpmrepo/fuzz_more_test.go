package rpmrepo

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// mirrorListSeed is a yum mirror list as mirrorlist.centos.org served it.
const mirrorListSeed = `http://mirror.example.org/centos/6.9/os/x86_64/
http://ftp.example.net/pub/centos/6.9/os/x86_64/
# a comment
https://mirrors.example.com/centos/6.9/os/x86_64/

ftp://ftp.example.edu/centos/6.9/os/x86_64/
`

// metalinkSeed has the shape of the metalinks mirrors.fedoraproject.org
// serves (namespaces, hashes, preferences).
const metalinkSeed = `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="Thu, 05 Dec 2024 10:00:00 GMT" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1733392800</mm0:timestamp>
   <size>6107</size>
   <verification>
    <hash type="md5">0b6f0a2a7c2d3c0a0c6b63a3e6f0a1b2</hash>
    <hash type="sha256">3b8d0f5bcb5d9d7c1f1b0ec8e8b1a7c2d6f1f0e0d9a8b7c6d5e4f3a2b1c0d9e8</hash>
   </verification>
   <resources maxconnections="1">
    <url protocol="https" type="https" location="US" preference="100">https://mirror.example.org/fedora/linux/releases/41/Everything/x86_64/os/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="DE" preference="99">http://ftp.example.de/fedora/releases/41/Everything/x86_64/os/repodata/repomd.xml</url>
    <url protocol="rsync" type="rsync" location="DE" preference="99">rsync://ftp.example.de/fedora/releases/41/Everything/x86_64/os/repodata/repomd.xml</url>
   </resources>
  </file>
 </files>
</metalink>
`

// checkBases: every base URL a mirror list or metalink gives is one a
// fetch can use: a known scheme, no white space or control characters.
func checkBases(t *testing.T, bases []string) {
	for _, b := range bases {
		if !hasScheme(b) {
			t.Fatalf("base %q has no http/https/file/ftp scheme", b)
		}
		if strings.IndexFunc(b, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			t.Fatalf("base %q holds white space or a control character", b)
		}
	}
}

func FuzzMirrorList(f *testing.F) {
	f.Add([]byte(mirrorListSeed))
	f.Add([]byte("# mirrors\nhttp://127.0.0.1:1/dead/\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bases := parseMirrorList(b)
		checkBases(t, bases)
		for _, u := range bases {
			if !strings.Contains(string(b), u) {
				t.Fatalf("base %q is not in the list", u)
			}
		}
	})
}

func FuzzMetalink(f *testing.F) {
	f.Add([]byte(metalinkSeed))
	f.Fuzz(func(t *testing.T, b []byte) {
		bases := parseMetalink(b)
		checkBases(t, bases)
	})
}

func TestMirrorListAndMetalinkSeeds(t *testing.T) {
	if got := parseMirrorList([]byte(mirrorListSeed)); len(got) != 4 {
		t.Errorf("mirror list: %q", got)
	}
	got := parseMetalink([]byte(metalinkSeed))
	want := []string{"https://mirror.example.org/fedora/linux/releases/41/Everything/x86_64/os/", "http://ftp.example.de/fedora/releases/41/Everything/x86_64/os/"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("metalink: %q, want %q", got, want)
	}
	// A line with white space inside is no URL.
	if got := parseMirrorList([]byte("http://a.example/ b/\nhttp://c.example/\x00/\n")); len(got) != 0 {
		t.Errorf("mirror list with broken lines: %q", got)
	}
}

// FuzzParseFlags: the flags attribute of an rpm:entry. An accepted value
// reads back from its String; a refused one is named in the error.
func FuzzParseFlags(f *testing.F) {
	for _, s := range flagNames {
		f.Add(s)
	}
	f.Add("eq")
	f.Add("EQ ")
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFlags(s)
		if err != nil {
			if fl != FlagsNone || !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("refused %q: flags %v, error %v", s, fl, err)
			}
			return
		}
		if fl.String() != s {
			t.Fatalf("%q read as %v", s, fl)
		}
		if fl.Op() == "?" {
			t.Fatalf("%q has no operator", s)
		}
	})
}
