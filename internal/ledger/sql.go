package ledger

import (
	"fmt"
	"strings"
)

// recordColumns are the requests table's columns in Record order; both stores
// insert and select them in this order.
var recordColumns = []string{
	"time", "request_id", "key", "model", "deployment", "endpoint", "status",
	"prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
	"cost_usd", "latency_ms", "ttfb_ms", "stream", "outcome", "estimated",
}

// DefaultRequestsLimit is what Requests returns when asked for limit <= 0.
const DefaultRequestsLimit = 100

// dialect is what differs between the SQL of the two stores.
type dialect struct {
	dayExpr     string             // the UTC date of the time column as YYYY-MM-DD
	hourExpr    string             // the UTC hour of the time column as YYYY-MM-DDTHH:00:00Z
	placeholder func(n int) string // the n-th (1-based) parameter
}

// usageSQL builds the Usage query. groupBy must come from normalizeGroupBy:
// only known names reach the SQL text. The time bounds are parameters 1 and 2
// when present, in that order.
func usageSQL(d dialect, groupBy []string, hasFrom, hasTo bool) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, g := range groupBy {
		switch g {
		case GroupKey:
			b.WriteString("key, ")
		case GroupModel:
			b.WriteString("model, ")
		case GroupDay:
			b.WriteString(d.dayExpr + ", ")
		case GroupHour:
			b.WriteString(d.hourExpr + ", ")
		}
	}
	b.WriteString("COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0) FROM requests")
	n := 0
	var where []string
	if hasFrom {
		n++
		where = append(where, "time >= "+d.placeholder(n))
	}
	if hasTo {
		n++
		where = append(where, "time < "+d.placeholder(n))
	}
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if len(groupBy) > 0 {
		pos := make([]string, len(groupBy))
		for i := range groupBy {
			pos[i] = fmt.Sprint(i + 1)
		}
		list := strings.Join(pos, ", ")
		b.WriteString(" GROUP BY " + list)
		// Without grouping an aggregate always yields one row; no records
		// should mean no rows, as it does with grouping.
		b.WriteString(" HAVING COUNT(*) > 0 ORDER BY " + list)
	} else {
		b.WriteString(" HAVING COUNT(*) > 0")
	}
	return b.String()
}

// usageRowDest returns a Row and the scan destinations for one result row of
// usageSQL with groupBy.
func usageRowDest(groupBy []string) (*Row, []any) {
	r := &Row{}
	dest := make([]any, 0, len(groupBy)+4)
	for _, g := range groupBy {
		s := new(string)
		switch g {
		case GroupKey:
			r.Key = s
		case GroupModel:
			r.Model = s
		case GroupDay:
			r.Day = s
		case GroupHour:
			r.Hour = s
		}
		dest = append(dest, s)
	}
	dest = append(dest, &r.Requests, &r.PromptTokens, &r.CompletionTokens, &r.CostUSD)
	return r, dest
}
