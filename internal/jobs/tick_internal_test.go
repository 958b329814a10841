package jobs

import (
	"testing"
	"time"
)

// The scheduler ticks on the minute, and a tick inserted a little early
// (River's 100ms margin) or late stands for the minute it was due.
func TestTicksAreOnTheMinute(t *testing.T) {
	s := tickSchedule{DefaultTick}
	at := func(v string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	if got := s.Next(at("2025-03-04T10:17:42.5Z")); !got.Equal(at("2025-03-04T10:18:00Z")) {
		t.Errorf("next tick after 10:17:42.5 is %s", got)
	}
	if got := s.Next(at("2025-03-04T10:18:00Z")); !got.Equal(at("2025-03-04T10:19:00Z")) {
		t.Errorf("next tick after 10:18:00 is %s", got)
	}
	for _, now := range []string{"2025-03-04T10:17:59.9Z", "2025-03-04T10:18:00Z", "2025-03-04T10:18:20Z"} {
		if got := s.tickAt(at(now)); !got.Equal(at("2025-03-04T10:18:00Z")) {
			t.Errorf("inserted at %s, the tick is %s; want 10:18:00", now, got)
		}
	}
}
