package limits

import (
	"sync/atomic"
	"time"

	"aigateway/internal/config"
)

// budgetPeriod is the period a budget is counted in at some instant.
type budgetPeriod struct {
	id    string    // names it in state and Redis keys: "d2025-01-31", "w2025-01-27", "m2025-01", "total"
	start time.Time // the ledger is summed from here; zero for total
	end   time.Time // when the next one starts; zero for total
}

// lastPeriods caches the period of each kind last computed: every
// request of a key with a budget asks for it, and its id is a formatted
// date.
var lastPeriods [4]atomic.Pointer[budgetPeriod]

// periodAt returns the budget period of kind ("" means monthly) that holds
// now. Periods start at 00:00 UTC, weeks on Monday.
func periodAt(kind string, now time.Time) budgetPeriod {
	slot := &lastPeriods[periodSlot(kind)]
	if c := slot.Load(); c != nil && (c.end.IsZero() || (!now.Before(c.start) && now.Before(c.end))) {
		return *c
	}
	p := computePeriod(kind, now)
	slot.Store(&p)
	return p
}

// periodSlot is kind's index in lastPeriods.
func periodSlot(kind string) int {
	switch kind {
	case config.PeriodDaily:
		return 0
	case config.PeriodWeekly:
		return 1
	case config.PeriodTotal:
		return 2
	}
	return 3
}

func computePeriod(kind string, now time.Time) budgetPeriod {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch kind {
	case config.PeriodDaily:
		return budgetPeriod{"d" + day.Format(time.DateOnly), day, day.AddDate(0, 0, 1)}
	case config.PeriodWeekly:
		monday := day.AddDate(0, 0, -(int(day.Weekday())+6)%7)
		return budgetPeriod{"w" + monday.Format(time.DateOnly), monday, monday.AddDate(0, 0, 7)}
	case config.PeriodTotal:
		return budgetPeriod{id: "total"}
	default:
		first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return budgetPeriod{"m" + first.Format("2006-01"), first, first.AddDate(0, 1, 0)}
	}
}

// untilEnd is how long until p ends, the Retry of a budget refusal; 0 for
// total, which never ends.
func (p budgetPeriod) untilEnd(now time.Time) time.Duration {
	if p.end.IsZero() {
		return 0
	}
	return p.end.Sub(now)
}
