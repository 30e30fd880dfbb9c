package workers

import (
	"sync/atomic"
	"testing"
)

// TestEach: every index runs exactly once, never on more goroutines than
// asked, for n below, at and above the worker count, and for n = 0.
func TestEach(t *testing.T) {
	for _, c := range []struct{ n, workers int }{{0, 2}, {1, 4}, {5, 2}, {64, 3}, {10, 0}} {
		seen := make([]int32, c.n)
		var running, peak atomic.Int32
		Each(c.n, c.workers, func(i int) {
			r := running.Add(1)
			for {
				p := peak.Load()
				if r <= p || peak.CompareAndSwap(p, r) {
					break
				}
			}
			atomic.AddInt32(&seen[i], 1)
			running.Add(-1)
		})
		for i, s := range seen {
			if s != 1 {
				t.Errorf("n=%d workers=%d: index %d ran %d times", c.n, c.workers, i, s)
			}
		}
		if c.workers > 0 && int(peak.Load()) > c.workers {
			t.Errorf("n=%d workers=%d: %d calls at once", c.n, c.workers, peak.Load())
		}
	}
}
