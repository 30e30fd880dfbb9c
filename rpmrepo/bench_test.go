package rpmrepo_test

import (
	"bufio"
	"bytes"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// debDep converts one Debian relation ("foo (>= 1.2-3) | bar") to a
// primary.xml rpm:entry; alternatives become a rich dependency.
func debDep(s string) string {
	alts := strings.Split(s, "|")
	if len(alts) > 1 {
		var names []string
		for _, a := range alts {
			n, _, _ := strings.Cut(strings.TrimSpace(a), " ")
			n, _, _ = strings.Cut(n, ":")
			names = append(names, n)
		}
		return fmt.Sprintf(`<rpm:entry name="(%s)"/>`, html.EscapeString(strings.Join(names, " or ")))
	}
	s = strings.TrimSpace(s)
	name, rest, _ := strings.Cut(s, " ")
	name, _, _ = strings.Cut(name, ":")
	rest = strings.Trim(strings.TrimSpace(rest), "()")
	if rest == "" || strings.HasPrefix(rest, "[") {
		return fmt.Sprintf(`<rpm:entry name="%s"/>`, html.EscapeString(name))
	}
	op, ver, _ := strings.Cut(rest, " ")
	flags := map[string]string{">=": "GE", "<=": "LE", "=": "EQ", ">>": "GT", "<<": "LT", ">": "GT", "<": "LT"}[op]
	if flags == "" {
		return fmt.Sprintf(`<rpm:entry name="%s"/>`, html.EscapeString(name))
	}
	epoch := "0"
	if e, v, ok := strings.Cut(ver, ":"); ok {
		epoch, ver = e, v
	}
	rel := ""
	if i := strings.LastIndex(ver, "-"); i > 0 {
		ver, rel = ver[:i], ver[i+1:]
	}
	r := ""
	if rel != "" {
		r = fmt.Sprintf(` rel="%s"`, html.EscapeString(rel))
	}
	return fmt.Sprintf(`<rpm:entry name="%s" flags="%s" epoch="%s" ver="%s"%s/>`, html.EscapeString(name), flags, epoch, html.EscapeString(ver), r)
}

// genPrimary writes a primary.xml made from Debian's package lists (apt
// has fetched them), mapping Depends/Pre-Depends/Provides/... to rpm:entry.
func genPrimary(b *testing.B, out string) int {
	lists, _ := filepath.Glob("/var/lib/apt/lists/*_Packages*")
	if len(lists) == 0 {
		if testrepo.Required() {
			b.Fatal("no /var/lib/apt/lists/*_Packages*")
		}
		b.Skip("no apt package lists")
	}
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var pkgs int
	// The body goes to a side file (the header needs the count first), so
	// the benchmark process stays small: a child's ru_maxrss starts from
	// its parent's RSS at fork.
	bf, err := os.Create(out + ".body")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(out + ".body")
	body := bufio.NewWriterSize(bf, 1<<20)
	for _, l := range lists {
		lf, err := os.Open(l)
		if err != nil {
			b.Fatal(err)
		}
		var r io.Reader = lf
		if strings.HasSuffix(l, ".lz4") {
			r = lz4.NewReader(lf)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		st := map[string]string{}
		last := ""
		flush := func() {
			if st["Package"] == "" {
				return
			}
			pkgs++
			ver := st["Version"]
			epoch := "0"
			if e, v, ok := strings.Cut(ver, ":"); ok {
				epoch, ver = e, v
			}
			rel := "0"
			if i := strings.LastIndex(ver, "-"); i > 0 {
				ver, rel = ver[:i], ver[i+1:]
			}
			e := html.EscapeString
			fmt.Fprintf(body, "<package type=\"rpm\">\n  <name>%s</name>\n  <arch>%s</arch>\n  <version epoch=\"%s\" ver=\"%s\" rel=\"%s\"/>\n", e(st["Package"]), e(st["Architecture"]), epoch, e(ver), e(rel))
			fmt.Fprintf(body, "  <checksum type=\"sha256\" pkgid=\"YES\">%s</checksum>\n  <summary>%s</summary>\n  <description>%s</description>\n", st["SHA256"], e(st["Description"]), e(st["Description"]))
			fmt.Fprintf(body, "  <packager>%s</packager>\n  <url>%s</url>\n  <time file=\"1700000000\" build=\"1700000000\"/>\n", e(st["Maintainer"]), e(st["Homepage"]))
			fmt.Fprintf(body, "  <size package=\"%s\" installed=\"%s\" archive=\"%s\"/>\n  <location href=\"%s\"/>\n  <format>\n", st["Size"], st["Installed-Size"], st["Size"], e(st["Filename"]))
			fmt.Fprintf(body, "    <rpm:license>GPL</rpm:license>\n    <rpm:vendor>Debian</rpm:vendor>\n    <rpm:group>%s</rpm:group>\n    <rpm:buildhost>debian</rpm:buildhost>\n    <rpm:sourcerpm>%s.src.rpm</rpm:sourcerpm>\n    <rpm:header-range start=\"4504\" end=\"20000\"/>\n", e(st["Section"]), e(st["Package"]))
			prov := fmt.Sprintf(`<rpm:entry name="%s" flags="EQ" epoch="%s" ver="%s" rel="%s"/>`, e(st["Package"]), epoch, e(ver), e(rel))
			for _, sec := range []struct{ tag, field string }{
				{"provides", "Provides"}, {"requires", "Depends"}, {"requires", "Pre-Depends"}, {"conflicts", "Conflicts"},
				{"obsoletes", "Replaces"}, {"recommends", "Recommends"}, {"suggests", "Suggests"}, {"enhances", "Enhances"},
			} {
				v := st[sec.field]
				if v == "" && sec.field != "Provides" {
					continue
				}
				fmt.Fprintf(body, "    <rpm:%s>\n", sec.tag)
				if sec.field == "Provides" {
					fmt.Fprintf(body, "      %s\n", prov)
				}
				for _, d := range strings.Split(v, ",") {
					if strings.TrimSpace(d) == "" {
						continue
					}
					dep := debDep(d)
					if sec.field == "Pre-Depends" {
						dep = strings.Replace(dep, "/>", ` pre="1"/>`, 1)
					}
					fmt.Fprintf(body, "      %s\n", dep)
				}
				fmt.Fprintf(body, "    </rpm:%s>\n", sec.tag)
			}
			fmt.Fprintf(body, "    <file>/usr/bin/%s</file>\n  </format>\n</package>\n", e(st["Package"]))
			clear(st)
		}
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				flush()
				continue
			}
			if line[0] == ' ' {
				continue // description continuation
			}
			k, v, ok := strings.Cut(line, ": ")
			if ok {
				st[k], last = v, k
			}
		}
		_ = last
		flush()
		lf.Close()
	}
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%d\">\n", pkgs)
	if err := body.Flush(); err != nil {
		b.Fatal(err)
	}
	if _, err := bf.Seek(0, io.SeekStart); err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(w, bf); err != nil {
		b.Fatal(err)
	}
	bf.Close()
	fmt.Fprintf(w, "</metadata>\n")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return pkgs
}

// TestHelperParsePrimary is run as a child process by
// BenchmarkPrimaryVsRpmmd2solv so its peak RSS is the parse's alone.
func TestHelperParsePrimary(t *testing.T) {
	path := os.Getenv("VICROOT_BENCH_PRIMARY")
	if path == "" {
		return // only meaningful as BenchmarkPrimaryVsRpmmd2solv's child
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if os.Getenv("VICROOT_BENCH_MODE") == "rpmmd2solv" {
		// Run from this small process, so rpmmd2solv's ru_maxrss (which
		// starts from its parent's RSS at fork) is its own.
		c := exec.Command("rpmmd2solv")
		c.Stdin = f
		t0 := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("rpmmd2solv: %v\n%s", err, out)
		}
		el := time.Since(t0)
		fmt.Printf("RESULT 0 %d %d\n", el.Nanoseconds(), c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
		return
	}
	start := time.Now()
	var pkgs []*rpmrepo.Package
	if err := rpmrepo.ParsePrimary(bufio.NewReaderSize(f, 1<<16), path, func(p *rpmrepo.Package) error {
		pkgs = append(pkgs, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	// VmHWM is this process image's own peak RSS (ru_maxrss would include
	// the parent's RSS at fork).
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var hwm int64
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			hwm, _ = strconv.ParseInt(strings.Fields(l)[1], 10, 64)
		}
	}
	fmt.Printf("RESULT %d %d %d\n", len(pkgs), el.Nanoseconds(), hwm)
	runtime.KeepAlive(pkgs)
}

// BenchmarkPrimaryVsRpmmd2solv parses a ~60,000-package primary.xml
// generated from Debian's package lists, in a child process (keeping every
// Package, as Open does), and runs libsolv's rpmmd2solv on the same file.
// Reported: our time and peak RSS, rpmmd2solv's, and the time ratio.
func BenchmarkPrimaryVsRpmmd2solv(b *testing.B) {
	testrepo.NeedTools(b, "rpmmd2solv")
	path := filepath.Join(b.TempDir(), "primary.xml")
	n := genPrimary(b, path)
	st, _ := os.Stat(path)
	b.Logf("primary.xml: %d packages, %d bytes", n, st.Size())
	runtime.GC()
	debug.FreeOSMemory()
	b.ResetTimer()
	var ours, theirs time.Duration
	var oursRSS, theirsRSS int64
	helper := func(mode string) (int, time.Duration, int64) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperParsePrimary$", "-test.count=1")
		cmd.Env = append(os.Environ(), "VICROOT_BENCH_PRIMARY="+path, "VICROOT_BENCH_MODE="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("helper: %v\n%s", err, out)
		}
		i := bytes.Index(out, []byte("RESULT "))
		if i < 0 {
			b.Fatalf("helper printed no result:\n%s", out)
		}
		f := strings.Fields(string(out[i:]))
		cnt, _ := strconv.Atoi(f[1])
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		rss, _ := strconv.ParseInt(f[3], 10, 64)
		return cnt, time.Duration(ns), rss
	}
	for b.Loop() {
		cnt, d, rss := helper("parse")
		if cnt != n {
			b.Fatalf("parsed %d packages, generated %d", cnt, n)
		}
		ours += d
		oursRSS = max(oursRSS, rss)
		_, d, rss = helper("rpmmd2solv")
		theirs += d
		theirsRSS = max(theirsRSS, rss)
	}
	k := float64(b.N)
	b.ReportMetric(ours.Seconds()/k, "parse-s")
	b.ReportMetric(theirs.Seconds()/k, "rpmmd2solv-s")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "time-ratio")
	b.ReportMetric(float64(oursRSS)/1024, "parse-peakRSS-MB")
	b.ReportMetric(float64(theirsRSS)/1024, "rpmmd2solv-peakRSS-MB")
}
