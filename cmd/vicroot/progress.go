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

// progress reports a build's stages: a spinner per stage on a terminal,
// plain lines otherwise.
type progress interface {
	Stage(string)
	Close() error
}

func newProgress(w io.Writer) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))}
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

func (l *lineProgress) Close() error { return nil }

type barProgress struct {
	mu    sync.Mutex
	p     *mpb.Progress
	stage *mpb.Bar
}

func (b *barProgress) Stage(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stage != nil {
		b.stage.SetTotal(1, true)
	}
	b.stage = b.p.AddSpinner(1, mpb.PrependDecorators(decor.Name(name, decor.WC{W: 12, C: decor.DindentRight}), decor.Elapsed(decor.ET_STYLE_GO)))
}

func (b *barProgress) Close() error {
	b.mu.Lock()
	if b.stage != nil {
		b.stage.SetTotal(1, true)
	}
	b.mu.Unlock()
	b.p.Wait()
	return nil
}
