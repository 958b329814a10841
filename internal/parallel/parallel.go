// Package parallel runs a loop's iterations on every core.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls fn(0) … fn(n-1), each exactly once, on as many goroutines as
// there are cores (GOMAXPROCS), and returns when every call has returned.
// fn must be safe to run concurrently for different i. With one core, or
// n < 2, the calls run in order on the calling goroutine.
//
// The goroutines take the next i from a shared counter: handing each i over
// a channel cost a fifth of the time of loading 10,000 spec files on two
// cores (BENCHMARKS.md).
func For(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
