package resolver_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rpmrepo"
)

// readTSV returns the data rows of a fixtures TSV (comments and the header
// row dropped).
func readTSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if header {
			header = false
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestVercmpUpstream checks every vector of rpm's own rpmvercmp.at (active
// and the "disabled" oddities, both confirmed against rpm 4.18's
// rpm.vercmp), in both directions.
func TestVercmpUpstream(t *testing.T) {
	dir := filepath.Join(testrepo.Fixtures(t), "rpm-software-management-rpm")
	n := 0
	for _, file := range []string{"rpmvercmp.tsv", "rpmvercmp-disabled.tsv"} {
		for _, row := range readTSV(t, filepath.Join(dir, file)) {
			if len(row) != 3 {
				t.Fatalf("%s: bad row %q", file, row)
			}
			want, err := strconv.Atoi(row[2])
			if err != nil {
				t.Fatalf("%s: bad expected value %q", file, row[2])
			}
			if got := resolver.Vercmp(row[0], row[1]); got != want {
				t.Errorf("%s: Vercmp(%q, %q) = %d, want %d", file, row[0], row[1], got, want)
			}
			if got := resolver.Vercmp(row[1], row[0]); got != -want {
				t.Errorf("%s: Vercmp(%q, %q) = %d, want %d (reversed)", file, row[1], row[0], got, -want)
			}
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d vectors read, want 103", n)
	}
}

func TestCompareEVR(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0-1", "1.0-1", 0},
		{"0:1.0-1", "1.0-1", 0}, // epoch defaults to 0
		{"1:1.0-1", "2.0-1", 1}, // epoch wins over version
		{"1.0-2", "1.0-10", -1},
		{"1.0", "1.0-10", 0}, // no release: any release
		{"1.0-10", "1.0", 0},
		{"01:1.0", "1:1.0", 0}, // epochs are numbers
		{"10:1", "9:1", 1},
		{"1.0~rc1-1", "1.0-1", -1},
	}
	for _, tt := range tests {
		if got := resolver.CompareEVR(resolver.ParseEVR(tt.a), resolver.ParseEVR(tt.b)); got != tt.want {
			t.Errorf("CompareEVR(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func dep(s string) rpmrepo.Dep {
	f := strings.Fields(s)
	d := rpmrepo.Dep{Name: f[0]}
	if len(f) == 3 {
		d.Flags = map[string]rpmrepo.Flags{"<": rpmrepo.FlagsLT, "<=": rpmrepo.FlagsLE, "=": rpmrepo.FlagsEQ, ">=": rpmrepo.FlagsGE, ">": rpmrepo.FlagsGT}[f[1]]
		d.EVR = resolver.ParseEVR(f[2])
	}
	return d
}

// TestSatisfies: cases worked out from rpm's rpmdsCompare rules.
func TestSatisfies(t *testing.T) {
	tests := []struct {
		provide, require string
		want             bool
	}{
		{"foo = 1.2-3", "foo", true},
		{"foo", "foo >= 9", true}, // unversioned provide matches any version
		{"foo = 1.2-3", "foo >= 1.2", true},
		{"foo = 1.2-3", "foo = 1.2", true}, // release-less requirement
		{"foo = 1.2-3", "foo = 1.2-4", false},
		{"foo = 1.2-3", "foo > 1.2", false},
		{"foo = 1.2-3", "foo > 1.2-2", true},
		{"foo = 1.2-3", "foo < 1.3", true},
		{"foo = 1.2-3", "foo < 1.2-3", false},
		{"foo = 1.2-3", "foo <= 1.2-3", true},
		{"foo = 1:1.0-1", "foo >= 2.0", true},
		{"foo = 1.0-1", "foo >= 0:1.0", true},
		{"foo >= 2", "foo < 3", true}, // ranges overlap
		{"foo >= 3", "foo < 3", false},
		{"foo < 3", "foo > 2", true},
		{"foo = 1.2-3", "bar = 1.2-3", false},
	}
	for _, tt := range tests {
		if got := resolver.Satisfies(dep(tt.provide), dep(tt.require)); got != tt.want {
			t.Errorf("Satisfies(%q, %q) = %v, want %v", tt.provide, tt.require, got, tt.want)
		}
	}
}
