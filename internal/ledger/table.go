package ledger

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
)

// WriteUsage prints rows as an aligned table with a header: the grouped
// columns, then requests, tokens and cost.
func WriteUsage(w io.Writer, groupBy []string, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var header []string
	for _, g := range groupBy {
		header = append(header, strings.ToUpper(g))
	}
	header = append(header, "REQUESTS", "PROMPT_TOKENS", "COMPLETION_TOKENS", "COST_USD")
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		var cells []string
		for _, g := range groupBy {
			var v *string
			switch g {
			case GroupKey:
				v = r.Key
			case GroupModel:
				v = r.Model
			case GroupDay:
				v = r.Day
			case GroupHour:
				v = r.Hour
			}
			cells = append(cells, cell(deref(v)))
		}
		cells = append(cells,
			strconv.FormatInt(r.Requests, 10),
			strconv.FormatInt(r.PromptTokens, 10),
			strconv.FormatInt(r.CompletionTokens, 10),
			dollars(r.CostUSD))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// WriteRequests prints records as an aligned table with a header, in the
// order given.
func WriteRequests(w io.Writer, recs []Record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tREQUEST_ID\tKEY\tMODEL\tDEPLOYMENT\tENDPOINT\tSTATUS\tOUTCOME\tPROMPT\tCOMPLETION\tCACHED\tREASONING\tCOST_USD\tLATENCY_MS\tTTFB_MS\tSTREAM\tESTIMATED")
	for _, r := range recs {
		fmt.Fprintln(tw, strings.Join([]string{
			r.Time.UTC().Format("2006-01-02 15:04:05.000"),
			cell(r.RequestID), cell(r.Key), cell(r.Model), cell(r.Deployment), cell(r.Endpoint),
			strconv.Itoa(r.Status), cell(r.Outcome),
			strconv.FormatInt(r.PromptTokens, 10), strconv.FormatInt(r.CompletionTokens, 10),
			strconv.FormatInt(r.CachedTokens, 10), strconv.FormatInt(r.ReasoningTokens, 10),
			dollars(r.CostUSD),
			strconv.FormatFloat(r.LatencyMS, 'f', 1, 64), strconv.FormatFloat(r.TTFBMS, 'f', 1, 64),
			yesNo(r.Stream), yesNo(r.Estimated),
		}, "\t"))
	}
	return tw.Flush()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func dollars(f float64) string { return "$" + strconv.FormatFloat(f, 'f', 6, 64) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// cell makes s safe for one table cell on a terminal: "-" when empty, and
// quoted when it holds anything unprintable. Model names come from clients,
// and an escape sequence in one must not reach the operator's terminal, nor a
// tab break the columns.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '\t' {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}
