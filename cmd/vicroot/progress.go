package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/vicroot/vicroot/rpmrepo"
)

// progress reports a build's stages and its downloads: a spinner per stage
// and a bar per download on a terminal, plain lines otherwise.
type progress interface {
	Stage(string)
	rpmrepo.Progress
	// Count: done of total packages are verified (check --packages).
	Count(done, total int)
	Close() error
}

func newProgress(w io.Writer) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))}
	}
	return &lineProgress{w: w, every: 5 * time.Second}
}

// downloadName is what a progress line calls a download: its file name.
func downloadName(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.Path != "" {
		return path.Base(pu.Path)
	}
	return u
}

type lineProgress struct {
	mu    sync.Mutex
	w     io.Writer
	every time.Duration // between two lines about one download
	// lastCount is when Count last wrote a line.
	lastCount time.Time
}

func (l *lineProgress) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

func (l *lineProgress) Stage(name string) { l.printf("vicroot: %s\n", name) }

func (l *lineProgress) Close() error { return nil }

// Count writes a line at the start, at the end, and every l.every between.
func (l *lineProgress) Count(done, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if done != 0 && done != total && now.Sub(l.lastCount) < l.every {
		return
	}
	l.lastCount = now
	fmt.Fprintf(l.w, "vicroot: verified %d of %d packages\n", done, total)
}

func (l *lineProgress) StartDownload(u string, total int64) rpmrepo.Transfer {
	now := time.Now()
	return &lineTransfer{l: l, name: downloadName(u), total: total, start: now, last: now}
}

// lineTransfer writes a line when a download ends, and one every
// l.every while it runs.
type lineTransfer struct {
	l           *lineProgress
	name        string
	total, done int64
	start, last time.Time
}

func (t *lineTransfer) Progress(done int64) {
	t.done = done
	if now := time.Now(); now.Sub(t.last) >= t.l.every {
		t.last = now
		t.l.printf("vicroot: fetching %s: %s\n", t.name, transferStatus(t.done, t.total, now.Sub(t.start)))
	}
}

func (t *lineTransfer) Done(err error) {
	el := time.Since(t.start)
	if err != nil {
		t.l.printf("vicroot: fetching %s failed after %s\n", t.name, sizeText(t.done))
		return
	}
	t.l.printf("vicroot: fetched %s: %d bytes in %s (%s/s)\n", t.name, t.done, el.Round(time.Millisecond), sizeText(rate(t.done, el)))
}

func rate(done int64, el time.Duration) int64 {
	if el <= 0 {
		return 0
	}
	return int64(float64(done) / el.Seconds())
}

// transferStatus: bytes done (of total), rate and time left.
func transferStatus(done, total int64, el time.Duration) string {
	r := rate(done, el)
	if total <= 0 {
		return fmt.Sprintf("%s, %s/s", sizeText(done), sizeText(r))
	}
	eta := "unknown"
	if r > 0 {
		eta = (time.Duration(float64(total-done)/float64(r)) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("%s of %s (%d%%), %s/s, ETA %s", sizeText(done), sizeText(total), done*100/total, sizeText(r), eta)
}

// sizeText writes n bytes in binary units, as the bars do.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

type barProgress struct {
	mu    sync.Mutex
	p     *mpb.Progress
	stage *mpb.Bar
	count *mpb.Bar // packages verified (check --packages)
}

// Count shows a bar of the packages verified, with the rate and ETA.
func (b *barProgress) Count(done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.count == nil {
		b.count = b.p.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name("verified", decor.WC{W: 12, C: decor.DindentRight}), decor.CountersNoUnit("%d / %d", decor.WC{W: 14})),
			mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	}
	b.count.SetCurrent(int64(done))
}

func (b *barProgress) Stage(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stage != nil {
		b.stage.SetTotal(1, true)
	}
	b.stage = b.p.AddSpinner(1, mpb.PrependDecorators(decor.Name(name, decor.WC{W: 12, C: decor.DindentRight}), decor.Elapsed(decor.ET_STYLE_GO)))
}

func (b *barProgress) StartDownload(u string, total int64) rpmrepo.Transfer {
	known := total > 0
	if !known {
		total = 0
	}
	bar := b.p.AddBar(total, mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(downloadName(u), decor.WC{W: 32, C: decor.DindentRight}), decor.CountersKibiByte("% .1f / % .1f", decor.WC{W: 22})),
		mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WC{W: 12}), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	return &barTransfer{bar: bar, known: known}
}

type barTransfer struct {
	bar   *mpb.Bar
	known bool
}

func (t *barTransfer) Progress(done int64) {
	if !t.known {
		t.bar.SetTotal(done+1, false)
	}
	t.bar.SetCurrent(done)
}

func (t *barTransfer) Done(err error) {
	if err != nil {
		t.bar.Abort(true)
		return
	}
	t.bar.SetTotal(-1, true)
}

func (b *barProgress) Close() error {
	b.mu.Lock()
	if b.stage != nil {
		b.stage.SetTotal(1, true)
	}
	if b.count != nil && !b.count.Completed() {
		b.count.Abort(false)
	}
	b.mu.Unlock()
	b.p.Wait()
	return nil
}
