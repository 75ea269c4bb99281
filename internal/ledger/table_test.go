package ledger

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseGroupBy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "key", want: []string{"key"}},
		{in: "day,model, KEY", want: []string{"key", "model", "day"}},
		{in: "model,day", want: []string{"model", "day"}},
		{in: "user", wantErr: `group by "user": unknown column (want key, model, day or hour)`},
		{in: "key,", wantErr: `group by "": unknown column (want key, model, day or hour)`},
		{in: "key,key", wantErr: `group by "key": given twice`},
	} {
		got, err := ParseGroupBy(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("ParseGroupBy(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseGroupBy(%q): %v", tc.in, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseGroupBy(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestWriteUsage(t *testing.T) {
	s := func(v string) *string { return &v }
	rows := []Row{
		{Key: s("team-a"), Day: s("2026-04-01"), Requests: 12, PromptTokens: 3400, CompletionTokens: 560, CostUSD: 0.01234567},
		{Key: s(""), Day: s("2026-04-02"), Requests: 1, PromptTokens: 5, CompletionTokens: 6, CostUSD: 12},
	}
	var b bytes.Buffer
	if err := WriteUsage(&b, []string{"key", "day"}, rows); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"KEY     DAY         REQUESTS  PROMPT_TOKENS  COMPLETION_TOKENS  COST_USD\n" +
		"team-a  2026-04-01  12        3400           560                $0.012346\n" +
		"-       2026-04-02  1         5              6                  $12.000000\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteUsage (-want +got):\n%s", diff)
	}

	b.Reset()
	if err := WriteUsage(&b, nil, []Row{{Requests: 2, CostUSD: 0.5}}); err != nil {
		t.Fatal(err)
	}
	want = "" +
		"REQUESTS  PROMPT_TOKENS  COMPLETION_TOKENS  COST_USD\n" +
		"2         0              0                  $0.500000\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteUsage totals (-want +got):\n%s", diff)
	}
}

func TestWriteRequests(t *testing.T) {
	recs := []Record{{
		Time: time.Date(2026, 4, 1, 9, 30, 0, 123e6, time.FixedZone("X", 3600)), RequestID: "r1", Key: "team-a",
		Model: "evil\x1b[2Jmodel\tx", Deployment: "", Endpoint: "/v1/chat/completions", Status: 200,
		PromptTokens: 10, CompletionTokens: 20, CachedTokens: 3, ReasoningTokens: 4, CostUSD: 0.00012,
		LatencyMS: 812.34, TTFBMS: 95.06, Stream: true, Outcome: OutcomeCompleted, Estimated: false,
	}}
	var b bytes.Buffer
	if err := WriteRequests(&b, recs); err != nil {
		t.Fatal(err)
	}
	// The escape sequence and tab from a client's model name are quoted,
	// not sent to the terminal; the time is shown in UTC.
	want := "" +
		"TIME                     REQUEST_ID  KEY     MODEL                  DEPLOYMENT  ENDPOINT              STATUS  OUTCOME    PROMPT  COMPLETION  CACHED  REASONING  COST_USD   LATENCY_MS  TTFB_MS  STREAM  ESTIMATED\n" +
		"2026-04-01 08:30:00.123  r1          team-a  \"evil\\x1b[2Jmodel\\tx\"  -           /v1/chat/completions  200     completed  10      20          3       4          $0.000120  812.3       95.1     yes     no\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteRequests (-want +got):\n%s", diff)
	}
}
