package spec

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// The zones CRON_TZ= names are known wherever the binary runs, so an
	// expression is valid or not the same on every host.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// cronParser reads standard five-field cron expressions: minute, hour,
// day of month, month, day of week. Descriptors (@daily, @every 1h) are
// not five fields and are refused.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// ParseCron reads a Cron trigger's cronExpression: five fields (minute
// hour day-of-month month day-of-week) as standard cron writes them
// ("*/5 * * * *", "0 3 * * 1-5"), read by github.com/robfig/cron/v3, in
// UTC unless the expression starts with CRON_TZ=<IANA zone> (or TZ=).
// The error says what is wrong, for the field's problem.
func ParseCron(expr string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, errors.New("required: five fields, minute hour day-of-month month day-of-week, such as \"*/5 * * * *\"")
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		if !strings.ContainsAny(expr, " \t") {
			return nil, fmt.Errorf("%q names a time zone but no schedule: five fields follow it", expr)
		}
	} else {
		expr = "CRON_TZ=UTC " + expr
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("not a cron expression of five fields (minute hour day-of-month month day-of-week): %w", err)
	}
	// robfig/cron looks five years ahead: a date that never comes (30 2 for
	// February 30th) has no next time from any start.
	if s.Next(cronProbe).IsZero() {
		return nil, errors.New("never fires: no date matches its day-of-month, month and day-of-week")
	}
	return s, nil
}

// cronProbe is where ParseCron looks for a first firing time; fixed, so
// that whether an expression is valid never depends on the day.
var cronProbe = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// CronDue reports whether a schedule fires in the minute that holds at:
// a scheduler that ticks once a minute fires each matching minute once.
func CronDue(s cron.Schedule, at time.Time) bool {
	minute := at.Truncate(time.Minute)
	return s.Next(minute.Add(-time.Second)).Equal(minute)
}
