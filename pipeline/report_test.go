package pipeline

import (
	"strings"
	"testing"
)

// The sidecar readers of inspect and verify take untrusted files: they
// never panic, and the manifest's digest line reads back.
func FuzzSidecarISOSum(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	f.Add(".mtree", string(mtreeNamingISO([]byte("#mtree\n. type=dir mode=0755\n"), sum)))
	f.Add(".mtree", "#mtree\n. type=dir\n# iso-sha256: late\n")
	f.Add(".lock.json", `{"version": 1, "iso_sha256": "`+sum+`", "packages": []}`)
	f.Add(".report.json", `{"iso": "x.iso", "sha256": "`+sum+`"}`)
	f.Add(".spdx.json", `{"packages": [{"SPDXID": "SPDXRef-Image", "checksums": [{"algorithm": "SHA256", "checksumValue": "`+sum+`"}]}]}`)
	f.Add(".spdx.json", `{"packages": [{"SPDXID": 7}]}`)
	f.Fuzz(func(t *testing.T, suffix, data string) {
		got := sidecarISOSum(suffix, []byte(data))
		if suffix == ".mtree" && got == "" {
			if again := sidecarISOSum(suffix, mtreeNamingISO([]byte(data), sum)); strings.HasPrefix(data, "#mtree\n") && again != sum {
				t.Fatalf("manifest naming %s reads back %q", sum, again)
			}
		}
	})
}

func TestSidecarISOSum(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	if got := sidecarISOSum(".mtree", mtreeNamingISO([]byte("#mtree\n./a type=file\n"), sum)); got != sum {
		t.Errorf("mtree: %q", got)
	}
	// A digest line after the first entry is not the header's.
	if got := sidecarISOSum(".mtree", []byte("#mtree\n./a type=file\n# iso-sha256: "+sum+"\n")); got != "" {
		t.Errorf("mtree with a late comment: %q", got)
	}
}
