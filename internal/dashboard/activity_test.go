package dashboard

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func req(at time.Time, model, deployment string, status int, failed bool) Request {
	return Request{Time: at, RequestID: "req-" + strconv.FormatInt(at.UnixNano(), 10), Model: model, Deployment: deployment,
		Status: status, Latency: 40 * time.Millisecond, TTFT: 10 * time.Millisecond, PromptTokens: 3, CompletionTokens: 4, CostUSD: 0.5, Failed: failed}
}

// Spans older than 15 minutes leave the series, and a ring slot reused
// for a new span starts from zero.
func TestActivityForgetsOldSpans(t *testing.T) {
	a := NewActivity()
	a.Record(req(t0, "chat", "primary", 200, false))
	a.Record(req(t0.Add(5*time.Second), "chat", "primary", 502, true))
	s := a.Snapshot(t0.Add(5 * time.Second))
	chat := s.Models["chat"]
	last := Buckets - 1
	if chat.Requests[last] != 2 || chat.Errors[last] != 1 || chat.Tokens[last] != 14 || chat.LatencyMS[last] != 40 || chat.TTFTMS[last] != 10 {
		t.Errorf("at t0: span %d, %d errors, %d tokens, %v ms, TTFT %v ms", chat.Requests[last], chat.Errors[last], chat.Tokens[last], chat.LatencyMS[last], chat.TTFTMS[last])
	}
	if s.Times[last] != t0.Unix() || s.Times[0] != t0.Unix()-(Buckets-1)*BucketSeconds {
		t.Errorf("times %d..%d", s.Times[0], s.Times[last])
	}

	a.Record(req(t0.Add(15*time.Minute), "chat", "primary", 200, false)) // same ring slot as t0, 90 spans later
	s = a.Snapshot(t0.Add(15 * time.Minute))
	chat = s.Models["chat"]
	var total int64
	for _, n := range chat.Requests {
		total += n
	}
	if total != 1 || chat.Requests[last] != 1 || chat.Errors[last] != 0 {
		t.Errorf("15 minutes on: %d requests in the window (want 1, t0's are gone), last span %d with %d errors", total, chat.Requests[last], chat.Errors[last])
	}
	if sm := chat.Summary; sm.Requests != 1 || sm.ErrorRate != 0 || sm.PerMinute != 0.2 {
		t.Errorf("summary %+v", sm)
	}
	if _, ok := a.Snapshot(t0.Add(time.Hour)).Models["chat"]; ok {
		t.Error("an hour on, chat still has a series")
	}
	if _, err := json.Marshal(s); err != nil {
		t.Errorf("the snapshot does not encode: %v", err) // NaN gaps must be null
	}
}

// The recent requests keep the last RecentSize, newest first.
func TestActivityRecentRing(t *testing.T) {
	a := NewActivity()
	for i := range RecentSize + 5 {
		a.Record(req(t0.Add(time.Duration(i)*time.Millisecond), "chat", "", 200, false))
	}
	s := a.Snapshot(t0)
	if s.Total != RecentSize+5 || len(s.Recent) != RecentSize {
		t.Fatalf("total %d, %d recent", s.Total, len(s.Recent))
	}
	newest, oldest := s.Recent[0].Time, s.Recent[RecentSize-1].Time
	if !newest.Equal(t0.Add((RecentSize+4)*time.Millisecond)) || !oldest.Equal(t0.Add(5*time.Millisecond)) {
		t.Errorf("recent runs from %v to %v", newest, oldest)
	}
	if len(s.Deployments) != 0 {
		t.Errorf("a request with no deployment made deployment series: %v", s.Deployments)
	}
}

func TestFloatsEncodeNaNAsNull(t *testing.T) {
	b, err := json.Marshal(Floats{1.5, nan(), 0})
	if err != nil || string(b) != "[1.5,null,0]" {
		t.Errorf("got %s, %v", b, err)
	}
}

func nan() float64 { var z float64; return z / z }

// BenchmarkRecord is the cost Activity adds to every request.
func BenchmarkRecord(b *testing.B) {
	a := NewActivity()
	r := req(t0, "chat", "primary", 200, false)
	a.Record(r)
	b.ReportAllocs()
	for b.Loop() {
		a.Record(r)
	}
}

// Past maxSeries, new names are counted nowhere visible and cost nothing.
func TestActivityBoundsSeries(t *testing.T) {
	a := NewActivity()
	for i := range maxSeries + 10 {
		a.Record(req(t0, "m"+strconv.Itoa(i), "", 200, false))
	}
	if n := len(a.Snapshot(t0).Models); n != maxSeries {
		t.Errorf("%d series, want %d", n, maxSeries)
	}
	r := req(t0, "one-more", "", 200, false)
	if allocs := testing.AllocsPerRun(100, func() { a.Record(r) }); allocs != 0 {
		t.Errorf("Record past the bound: %v allocations", allocs)
	}
}
