package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// The back-off doubles from twice the interval and stops at MaxPollBackoff.
func TestPollBackoffDoublesUpToFiveMinutes(t *testing.T) {
	p := &Poller{Interval: 20 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := &pollHealth{}
	var got []time.Duration
	for range 7 {
		p.observe(context.Background(), Stage{}, h, errors.New("unreachable"))
		got = append(got, h.backoff)
	}
	want := []time.Duration{40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("back-offs %v, want %v", got, want)
		}
	}
	p.observe(context.Background(), Stage{}, h, nil)
	p.observe(context.Background(), Stage{}, h, errors.New("unreachable"))
	if h.backoff != 40*time.Second {
		t.Fatalf("after a success the back-off starts again at %v, want 40s", h.backoff)
	}
}
