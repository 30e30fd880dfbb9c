package testrepo

import (
	"strings"
	"testing"
)

func TestParseBigManifest(t *testing.T) {
	good := bigHeader + "\n" +
		"bigdata-001-1.0-1.ph2.x86_64.rpm\tbigdata-001\tlibs\t12\t20000000\t6000000\n" +
		"bigdata-002-1.0-1.ph2.x86_64.rpm\tbigdata-002\tmodules\t300\t20100000\t19000000\n"
	pkgs, err := ParseBigManifest("m.tsv", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []BigPackage{
		{File: "bigdata-001-1.0-1.ph2.x86_64.rpm", Name: "bigdata-001", Kind: "libs", Files: 12, Installed: 20000000, Size: 6000000},
		{File: "bigdata-002-1.0-1.ph2.x86_64.rpm", Name: "bigdata-002", Kind: "modules", Files: 300, Installed: 20100000, Size: 19000000},
	}
	if len(pkgs) != len(want) {
		t.Fatalf("got %d packages, want %d", len(pkgs), len(want))
	}
	for i := range want {
		if pkgs[i] != want[i] {
			t.Errorf("row %d: got %+v, want %+v", i, pkgs[i], want[i])
		}
	}
	for _, c := range []struct{ in, msg string }{
		{"", "header"},
		{"file\tname\n", "header"},
		{bigHeader + "\n", "no packages"},
		{bigHeader + "\na\tb\tlibs\t1\t2\n", "5 fields"},
		{bigHeader + "\na\tb\tfirmware\t1\t2\t3\n", "kind"},
		{bigHeader + "\na\tb\tlibs\t1\t-2\t3\n", "non-negative"},
		{bigHeader + "\na\tb\tlibs\tx\t2\t3\n", "non-negative"},
		{bigHeader + "\nd/a\tb\tlibs\t1\t2\t3\n", "slash"},
		{bigHeader + "\n\tb\tlibs\t1\t2\t3\n", "empty"},
	} {
		_, err := ParseBigManifest("m.tsv", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "m.tsv: ") {
			t.Errorf("%q: got error %v, want one naming m.tsv and containing %q", c.in, err, c.msg)
		}
	}
}

func FuzzParseBigManifest(f *testing.F) {
	f.Add([]byte(bigHeader + "\nbigdata-001-1.0-1.ph2.x86_64.rpm\tbigdata-001\tlibs\t12\t20000000\t6000000\n"))
	f.Add([]byte(bigHeader + "\n"))
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseBigManifest("m.tsv", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "m.tsv: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(pkgs) == 0 {
			t.Fatal("no error and no packages")
		}
		for _, p := range pkgs {
			if p.Installed < 0 || p.Size < 0 || p.Files < 0 || (p.Kind != "libs" && p.Kind != "modules") {
				t.Fatalf("accepted a bad row: %+v", p)
			}
		}
	})
}
