package pipeline

import (
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"
)

// stages reports the start of each stage to the log and to Progress, and
// its end to the log with what it cost: its wall time, the CPU time
// (user and system) the whole process spent meanwhile, and their ratio,
// the cores it kept busy. Work that overlaps a stage (the fetch, which
// runs beside install) counts in that stage's CPU time.
type stages struct {
	log      *slog.Logger
	progress Progress

	mu    sync.Mutex // start is called from the ISO writer too
	first usage      // when the first stage started
	cur   string     // the stage under way
	since usage      // when it started
}

// usage is a moment of the process: the wall clock and the CPU time used
// so far.
type usage struct {
	wall time.Time
	cpu  time.Duration
}

func now() usage {
	u := usage{wall: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return u
}

func newStages(opts Options) *stages {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &stages{log: log, progress: opts.Progress}
}

// start ends the stage under way and starts the named one.
func (s *stages) start(name string) {
	s.mu.Lock()
	u := now()
	if s.cur == "" {
		s.first = u
	}
	s.endLocked(u)
	s.cur, s.since = name, u
	s.mu.Unlock()
	s.log.Info("stage", "name", name)
	if s.progress != nil {
		s.progress.Stage(name)
	}
}

// finish ends the stage under way and logs what all of them cost.
func (s *stages) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == "" {
		return
	}
	u := now()
	s.endLocked(u)
	s.log.Info("stages done", cost(s.first, u)...)
}

func (s *stages) endLocked(u usage) {
	if s.cur == "" {
		return
	}
	s.log.Info("stage done", append([]any{"name", s.cur}, cost(s.since, u)...)...)
	s.cur = ""
}

// cost is the log attributes of the span from a to b: wall=0.71s
// cpu=1.21s cores=1.70.
func cost(a, b usage) []any {
	wall, cpu := b.wall.Sub(a.wall).Seconds(), (b.cpu - a.cpu).Seconds()
	cores := 0.0
	if wall > 0 {
		cores = cpu / wall
	}
	return []any{"wall", fmt.Sprintf("%.2fs", wall), "cpu", fmt.Sprintf("%.2fs", cpu), "cores", fmt.Sprintf("%.2f", cores)}
}
