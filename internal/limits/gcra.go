package limits

import (
	"math"
	"time"
)

// window is the span of every rate limit: n per minute may all come at once.
const window = time.Minute

// gcraTake checks whether cost units of a limit of n per window fit at now
// when the theoretical arrival time is tat (unix nanoseconds). It returns
// the TAT after taking them, or, refused, tat unchanged and the wait until
// they would fit. Admission counts at most n units, so that a cost above
// the whole limit still passes once the bucket is full; the TAT moves by
// the full cost.
func gcraTake(tat, now, n, cost int64) (next int64, ok bool, wait time.Duration) {
	tat = max(tat, now)
	t := float64(window) / float64(n)
	over := float64(tat-now) + float64(min(cost, n))*t - float64(window)
	if over > 0 {
		return tat, false, time.Duration(math.Ceil(over))
	}
	return tat + int64(float64(cost)*t), true, 0
}

// gcraCorrect moves tat by delta units of a limit of n (Settle's actual
// minus estimated tokens), never to before now.
func gcraCorrect(tat, now, n, delta int64) int64 {
	tat = max(tat, now) + int64(float64(delta)*float64(window)/float64(n))
	return max(tat, now)
}

// gcraWindow describes a limit of n whose TAT is tat, for the headers.
func gcraWindow(tat, now, n int64) Window {
	ahead := max(tat-now, 0)
	// The small epsilon keeps float error from turning 600 into 599.999.
	left := int64(math.Floor(float64(int64(window)-ahead)*float64(n)/float64(window) + 1e-9))
	return Window{Limit: n, Remaining: min(max(left, 0), n), Reset: time.Duration(ahead)}
}
