// Package dashboard is the gateway's live dashboard: the page served at /ui
// (plain HTML, JavaScript and CSS with a vendored uPlot, embedded in the
// binary) and Activity, the in-memory record of the last minutes of traffic
// that the page charts. The dashboard watches and never edits: the config
// file stays the one source of truth.
package dashboard

import (
	"math"
	"strconv"
	"sync"
	"time"
)

const (
	// BucketSeconds is the width of one point of the charts.
	BucketSeconds = 10
	// Buckets is how many are kept: 15 minutes.
	Buckets = 90
	// RecentSize is how many finished requests the recent table shows.
	RecentSize = 100
	// SummaryBuckets is the window of the table's figures: 5 minutes.
	SummaryBuckets = 30
	// maxSeries bounds the series kept, so that a config reloaded with new
	// names again and again cannot grow memory for ever. Series are
	// configured ids and names only, never a client's raw input.
	maxSeries = 4096
)

// Request is one finished model request, as Activity records it.
type Request struct {
	Time       time.Time
	RequestID  string
	Key        string // the key's name; empty when the gateway is open
	Model      string // the configured model asked for, or "unknown"
	Deployment string // the deployment that answered last; empty when none was tried
	Endpoint   string
	Status     int
	Latency    time.Duration
	// TTFB is the time to the first byte sent to the client; TTFT is the
	// same for a stream (zero for other requests), the time to first
	// token the charts show.
	TTFB, TTFT       time.Duration
	PromptTokens     int64
	CompletionTokens int64
	CostUSD          float64
	Stream           bool
	// Failed is an error in the error rate: a 5xx, or a 200 stream that
	// broke off. A 4xx or a client that went away (499) is not.
	Failed bool
}

// bucket sums the requests that ended within one BucketSeconds span.
type bucket struct {
	slot       int64 // unix seconds / BucketSeconds; identifies the span
	requests   int64
	errors     int64
	latencySum float64 // milliseconds
	latencyMax float64
	ttftSum    float64
	ttftCount  int64
	tokens     int64
	cost       float64
}

func (b *bucket) add(r *Request) {
	b.requests++
	if r.Failed {
		b.errors++
	}
	ms := millis(r.Latency)
	b.latencySum += ms
	b.latencyMax = max(b.latencyMax, ms)
	if r.TTFT > 0 {
		b.ttftSum += millis(r.TTFT)
		b.ttftCount++
	}
	b.tokens += r.PromptTokens + r.CompletionTokens
	b.cost += r.CostUSD
}

// series is a ring of buckets for one model or one deployment.
type series struct {
	buckets [Buckets]bucket
}

func (s *series) add(slot int64, r *Request) {
	b := &s.buckets[slot%Buckets]
	if b.slot != slot {
		*b = bucket{slot: slot}
	}
	b.add(r)
}

// Activity keeps the last 15 minutes of traffic in 10-second buckets, by
// model and by deployment, and the last 100 requests. Record is cheap (one
// mutex, array writes, no allocation once a series exists) so that it can
// run on every request. The zero value is not usable: call NewActivity.
type Activity struct {
	mu          sync.Mutex
	models      map[string]*series
	deployments map[string]*series
	recent      [RecentSize]Request
	next        int   // where the next request goes in recent
	total       int64 // requests recorded since start
	overflow    series
}

// NewActivity returns an empty Activity.
func NewActivity() *Activity {
	return &Activity{models: map[string]*series{}, deployments: map[string]*series{}}
}

// Record adds a finished request. r.Time is when it ended.
func (a *Activity) Record(r Request) {
	slot := r.Time.Unix() / BucketSeconds
	a.mu.Lock()
	a.lookup(a.models, r.Model).add(slot, &r)
	if r.Deployment != "" {
		a.lookup(a.deployments, r.Deployment).add(slot, &r)
	}
	a.recent[a.next] = r
	a.next = (a.next + 1) % RecentSize
	a.total++
	a.mu.Unlock()
}

// lookup returns name's series, making it when there is room; past
// maxSeries a new name shares the overflow series, which is never shown,
// so that Record never fails nor allocates.
func (a *Activity) lookup(m map[string]*series, name string) *series {
	if s, ok := m[name]; ok {
		return s
	}
	if len(a.models)+len(a.deployments) >= maxSeries {
		return &a.overflow
	}
	s := new(series)
	m[name] = s
	return s
}

// Snapshot is what the dashboard's page reads: the series over the last
// Buckets spans, oldest first, ending with the span now is in.
type Snapshot struct {
	// Times are the start of each span, in unix seconds.
	Times       []int64           `json:"times"`
	Models      map[string]Series `json:"models"`
	Deployments map[string]Series `json:"deployments"`
	// Recent are the latest requests, newest first.
	Recent []RequestJSON `json:"recent"`
	// Total counts every request recorded since the gateway started.
	Total int64 `json:"total"`
}

// Series is one model's or deployment's traffic. The per-span slices are
// aligned with Snapshot.Times; an average over a span without requests is
// null.
type Series struct {
	Requests   []int64 `json:"requests"`
	Errors     []int64 `json:"errors"`
	LatencyMS  Floats  `json:"latency_ms"` // average
	TTFTMS     Floats  `json:"ttft_ms"`    // average, streams only
	Tokens     []int64 `json:"tokens"`
	CostUSD    Floats  `json:"cost_usd"`
	Summary    Summary `json:"summary"`
	hasTraffic bool
}

// Summary is a series over the last SummaryBuckets spans (5 minutes), for
// the table.
type Summary struct {
	Requests     int64   `json:"requests"`
	PerMinute    float64 `json:"per_minute"`
	ErrorRate    float64 `json:"error_rate"` // 0..1
	AvgLatencyMS float64 `json:"avg_latency_ms"`
	MaxLatencyMS float64 `json:"max_latency_ms"`
	AvgTTFTMS    float64 `json:"avg_ttft_ms"`
	Tokens       int64   `json:"tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// RequestJSON is a recent request as the page reads it.
type RequestJSON struct {
	Time             time.Time `json:"time"`
	RequestID        string    `json:"request_id"`
	Key              string    `json:"key"`
	Model            string    `json:"model"`
	Deployment       string    `json:"deployment"`
	Endpoint         string    `json:"endpoint"`
	Status           int       `json:"status"`
	LatencyMS        float64   `json:"latency_ms"`
	TTFBMS           float64   `json:"ttfb_ms"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	CostUSD          float64   `json:"cost_usd"`
	Stream           bool      `json:"stream"`
	Failed           bool      `json:"failed"`
}

// Floats is a slice of numbers whose NaNs encode as JSON null, the gaps
// uPlot leaves in a line.
type Floats []float64

// MarshalJSON writes f as an array, NaN as null.
func (f Floats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(f)*8)
	b = append(b, '[')
	for i, v := range f {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, ']'), nil
}

// Snapshot copies the state at now.
func (a *Activity) Snapshot(now time.Time) Snapshot {
	last := now.Unix() / BucketSeconds
	first := last - Buckets + 1
	snap := Snapshot{Times: make([]int64, Buckets), Models: map[string]Series{}, Deployments: map[string]Series{}}
	for i := range Buckets {
		snap.Times[i] = (first + int64(i)) * BucketSeconds
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, s := range a.models {
		if out := s.export(first, last); out.hasTraffic {
			snap.Models[name] = out
		}
	}
	for name, s := range a.deployments {
		if out := s.export(first, last); out.hasTraffic {
			snap.Deployments[name] = out
		}
	}
	n := min(a.total, RecentSize)
	snap.Recent = make([]RequestJSON, 0, n)
	for i := range int(n) {
		r := &a.recent[(a.next-1-i+2*RecentSize)%RecentSize]
		snap.Recent = append(snap.Recent, RequestJSON{Time: r.Time.UTC(), RequestID: r.RequestID, Key: r.Key, Model: r.Model,
			Deployment: r.Deployment, Endpoint: r.Endpoint, Status: r.Status, LatencyMS: millis(r.Latency), TTFBMS: millis(r.TTFB),
			PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, CostUSD: r.CostUSD, Stream: r.Stream, Failed: r.Failed})
	}
	snap.Total = a.total
	return snap
}

// export reads the spans first..last of s; spans older than the ring
// holds, or not written since they were last reused, count as empty.
func (s *series) export(first, last int64) Series {
	out := Series{Requests: make([]int64, Buckets), Errors: make([]int64, Buckets), LatencyMS: make(Floats, Buckets),
		TTFTMS: make(Floats, Buckets), Tokens: make([]int64, Buckets), CostUSD: make(Floats, Buckets)}
	var ttftSum, latencySum float64
	var ttftCount int64
	for i := range Buckets {
		slot := first + int64(i)
		b := &s.buckets[slot%Buckets]
		out.LatencyMS[i], out.TTFTMS[i] = math.NaN(), math.NaN()
		if b.slot != slot || b.requests == 0 {
			continue
		}
		out.hasTraffic = true
		out.Requests[i], out.Errors[i], out.Tokens[i], out.CostUSD[i] = b.requests, b.errors, b.tokens, b.cost
		out.LatencyMS[i] = b.latencySum / float64(b.requests)
		if b.ttftCount > 0 {
			out.TTFTMS[i] = b.ttftSum / float64(b.ttftCount)
		}
		if slot > last-SummaryBuckets {
			sm := &out.Summary
			sm.Requests += b.requests
			sm.ErrorRate += float64(b.errors)
			sm.MaxLatencyMS = max(sm.MaxLatencyMS, b.latencyMax)
			sm.Tokens += b.tokens
			sm.CostUSD += b.cost
			latencySum += b.latencySum
			ttftSum += b.ttftSum
			ttftCount += b.ttftCount
		}
	}
	if sm := &out.Summary; sm.Requests > 0 {
		sm.PerMinute = float64(sm.Requests) / (SummaryBuckets * BucketSeconds / 60)
		sm.ErrorRate /= float64(sm.Requests)
		sm.AvgLatencyMS = latencySum / float64(sm.Requests)
		if ttftCount > 0 {
			sm.AvgTTFTMS = ttftSum / float64(ttftCount)
		}
	}
	return out
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
