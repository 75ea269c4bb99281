package ledger

import (
	"fmt"
	"strings"
)

// Group columns, in the order Usage returns and sorts them.
const (
	GroupKey   = "key"
	GroupModel = "model"
	GroupDay   = "day"
	GroupHour  = "hour"
)

var groupOrder = [...]string{GroupKey, GroupModel, GroupDay, GroupHour}

// ParseGroupBy reads a comma-separated list of group columns such as
// "model,key" (the form of ?group_by= and --group-by) and returns them in
// column order: key, model, day, hour. "" means no grouping: one row of totals.
// An unknown or repeated name is an error naming it.
func ParseGroupBy(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return normalizeGroupBy(strings.Split(s, ","))
}

// normalizeGroupBy validates names and puts them in column order. Usage
// calls it too, because the names end up in SQL text.
func normalizeGroupBy(names []string) ([]string, error) {
	var seen [len(groupOrder)]bool
	for _, raw := range names {
		name := strings.ToLower(strings.TrimSpace(raw))
		i := groupIndex(name)
		if i < 0 {
			return nil, fmt.Errorf("group by %q: unknown column (want key, model, day or hour)", raw)
		}
		if seen[i] {
			return nil, fmt.Errorf("group by %q: given twice", raw)
		}
		seen[i] = true
	}
	out := make([]string, 0, len(names))
	for i, name := range groupOrder {
		if seen[i] {
			out = append(out, name)
		}
	}
	return out, nil
}

func groupIndex(name string) int {
	for i, g := range groupOrder {
		if g == name {
			return i
		}
	}
	return -1
}
