// Package workers runs f(0) … f(n-1) on a bounded number of goroutines:
// the one index queue the install's module step, the module decompressor
// and the package fetcher share.
package workers

import (
	"runtime"
	"sync"
)

// Each calls f for every index in [0, n), in order of start, on at most
// workers goroutines (GOMAXPROCS when workers <= 0), and returns when
// every call has returned. f must write only to what index i owns.
func Each(n, workers int, f func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	wg.Wait()
}
