package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// newProgress reports stages and downloads: bars on a terminal, plain
// lines otherwise.
func newProgress(w io.Writer) interface {
	Stage(string)
	Download(string, int64, int64)
	Close() error
} {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), bars: map[string]*mpb.Bar{}}
	}
	return &lineProgress{w: w}
}

type lineProgress struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineProgress) Stage(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "vicroot: %s\n", name)
}

func (l *lineProgress) Download(name string, done, total int64) {
	if done == total {
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintf(l.w, "vicroot: fetched %s (%d bytes)\n", name, total)
	}
}

func (l *lineProgress) Close() error { return nil }

type barProgress struct {
	mu    sync.Mutex
	p     *mpb.Progress
	bars  map[string]*mpb.Bar
	stage *mpb.Bar
}

func (b *barProgress) Stage(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stage != nil {
		b.stage.SetTotal(1, true)
	}
	b.stage = b.p.AddSpinner(1, mpb.PrependDecorators(decor.Name(name, decor.WC{W: 12, C: decor.DindentRight})))
}

func (b *barProgress) Download(name string, done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bar := b.bars[name]
	if bar == nil {
		bar = b.p.AddBar(total, mpb.PrependDecorators(decor.Name(name, decor.WC{W: 40, C: decor.DindentRight})),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f")), mpb.BarRemoveOnComplete())
		b.bars[name] = bar
	}
	bar.SetCurrent(done)
	if done >= total {
		bar.SetTotal(total, true)
		delete(b.bars, name)
	}
}

func (b *barProgress) Close() error {
	b.mu.Lock()
	if b.stage != nil {
		b.stage.SetTotal(1, true)
	}
	for _, bar := range b.bars {
		bar.Abort(true)
	}
	b.mu.Unlock()
	b.p.Wait()
	return nil
}
