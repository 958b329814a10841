package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestForCallsEachIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		calls := make([]atomic.Int32, n)
		For(n, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Errorf("n=%d: fn(%d) called %d times, want 1", n, i, c)
			}
		}
	}
}

func TestForRunsOnSeveralGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	// Each call waits (up to 5 s) until both calls have started: run one
	// after the other, the first would wait in vain.
	var arrived atomic.Int32
	var together atomic.Int32
	For(2, func(int) {
		arrived.Add(1)
		deadline := time.Now().Add(5 * time.Second)
		for arrived.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if arrived.Load() == 2 {
			together.Add(1)
		}
	})
	if together.Load() != 2 {
		t.Fatal("the two calls did not run at the same time with GOMAXPROCS=2")
	}
}

func TestForOneCoreRunsInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var got []int
	For(5, func(i int) { got = append(got, i) })
	for i, v := range got {
		if v != i {
			t.Fatalf("calls %v, want 0..4 in order", got)
		}
	}
	if len(got) != 5 {
		t.Fatalf("%d calls, want 5", len(got))
	}
}
