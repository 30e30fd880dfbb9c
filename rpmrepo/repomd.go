package rpmrepo

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	dc "github.com/vicroot/vicroot/internal/decompress"
)

// ErrZchunk: the repository offers its metadata only as zchunk (.zck),
// which this package does not decode.
var ErrZchunk = errors.New("metadata only available as zchunk (.zck), which vicroot does not read; regenerate the repository with createrepo_c --no-zck or plain gz/xz/zst/bz2 metadata")

// RepoMD is a parsed repodata/repomd.xml.
type RepoMD struct {
	Revision string
	Data     []RepoMDData
}

// RepoMDData is one <data> record of repomd.xml.
type RepoMDData struct {
	Type         string
	Checksum     Checksum
	OpenChecksum Checksum
	Location     string
	Size         int64 // -1 when repomd.xml does not say
	OpenSize     int64 // -1 when repomd.xml does not say
}

type xmlRepoMD struct {
	XMLName  xml.Name `xml:"repomd"`
	Revision string   `xml:"revision"`
	Data     []struct {
		Type     string `xml:"type,attr"`
		Checksum struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"checksum"`
		OpenChecksum struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"open-checksum"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Size     string `xml:"size"`
		OpenSize string `xml:"open-size"`
	} `xml:"data"`
}

// ParseRepoMD reads repomd.xml. name is used in errors.
func ParseRepoMD(data []byte, name string) (*RepoMD, error) {
	var x xmlRepoMD
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("rpmrepo: %s: %w: %v", name, ErrMalformed, err)
	}
	md := &RepoMD{Revision: strings.TrimSpace(x.Revision)}
	for i, d := range x.Data {
		r := RepoMDData{
			Type:         d.Type,
			Checksum:     Checksum{Type: normSumType(d.Checksum.Type), Value: strings.ToLower(strings.TrimSpace(d.Checksum.Value))},
			OpenChecksum: Checksum{Type: normSumType(d.OpenChecksum.Type), Value: strings.ToLower(strings.TrimSpace(d.OpenChecksum.Value))},
			Location:     d.Location.Href,
			Size:         -1,
			OpenSize:     -1,
		}
		where := fmt.Sprintf("rpmrepo: %s: data #%d (%s)", name, i+1, d.Type)
		if r.Type == "" || r.Location == "" {
			return nil, fmt.Errorf("%s: %w: missing type or location href", where, ErrMalformed)
		}
		if err := r.Checksum.check(); err != nil {
			return nil, fmt.Errorf("%s: %w: checksum: %v", where, ErrMalformed, err)
		}
		for _, f := range []struct {
			s   string
			dst *int64
			n   string
		}{{d.Size, &r.Size, "size"}, {d.OpenSize, &r.OpenSize, "open-size"}} {
			if s := strings.TrimSpace(f.s); s != "" {
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil || v < 0 {
					return nil, fmt.Errorf("%s: %w: %s %q", where, ErrMalformed, f.n, s)
				}
				*f.dst = v
			}
		}
		md.Data = append(md.Data, r)
	}
	return md, nil
}

// Find returns the record of the given type ("primary", "filelists").
func (md *RepoMD) Find(typ string) (RepoMDData, bool) {
	for _, d := range md.Data {
		if d.Type == typ {
			return d, true
		}
	}
	return RepoMDData{}, false
}

// metadata returns the record to read for kind ("primary" or "filelists"):
// the plain XML record, or ErrZchunk when only "<kind>_zck" exists.
func (md *RepoMD) metadata(kind, name string) (RepoMDData, error) {
	if d, ok := md.Find(kind); ok {
		if strings.HasSuffix(d.Location, ".zck") {
			return d, fmt.Errorf("rpmrepo: %s: %s: %w", name, kind, ErrZchunk)
		}
		return d, nil
	}
	if _, ok := md.Find(kind + "_zck"); ok {
		return RepoMDData{}, fmt.Errorf("rpmrepo: %s: %s: %w", name, kind, ErrZchunk)
	}
	return RepoMDData{}, fmt.Errorf("rpmrepo: %s: %w: no %s record", name, ErrMalformed, kind)
}

func normSumType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "sha" {
		return "sha1"
	}
	return t
}

// newHash returns the hash for a checksum type.
func (c Checksum) newHash() (hash.Hash, error) {
	switch normSumType(c.Type) {
	case "sha256":
		return sha256.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "sha512":
		return sha512.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha224":
		return sha256.New224(), nil
	}
	return nil, fmt.Errorf("unsupported checksum type %q (want sha256, sha1, sha512)", c.Type)
}

// check validates the type and the hex length of the value.
func (c Checksum) check() error {
	h, err := c.newHash()
	if err != nil {
		return err
	}
	if len(c.Value) != 2*h.Size() {
		return fmt.Errorf("%s value %q has %d hex digits, want %d", c.Type, c.Value, len(c.Value), 2*h.Size())
	}
	if _, err := hex.DecodeString(c.Value); err != nil {
		return fmt.Errorf("%s value %q is not hex", c.Type, c.Value)
	}
	return nil
}

// decompress wraps r by the compression the file name says: .gz, .xz,
// .zst, .bz2 or none. .zck is ErrZchunk. An xz dictionary or zstd window
// over dc.UntrustedMaxMemory is refused (with repo_gpgcheck off the
// metadata is anyone's).
func decompress(r io.Reader, href string) (io.ReadCloser, error) {
	f := dc.ByName(href)
	switch f {
	case dc.Zchunk:
		return nil, ErrZchunk
	case dc.Lzma:
		f = dc.None // not a repodata compression: read as is, as before
	}
	return dc.NewReader(r, f, dc.Options{MaxMemory: dc.UntrustedMaxMemory})
}
