// Package ledger records every request's usage and cost, in an embedded
// SQLite file or in PostgreSQL, and reads it back grouped.
package ledger

import (
	"context"
	"time"
)

// Record is one request in the ledger.
type Record struct {
	Time             time.Time // when the request arrived, UTC
	RequestID        string
	Key              string // the gateway key's name; "" when the gateway is open
	Model            string // the model id the client asked for
	Deployment       string // the entry that answered (last attempt); "" when none
	Endpoint         string // the path, e.g. /v1/chat/completions
	Status           int    // HTTP status the client got (499: client gone)
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	ReasoningTokens  int64
	CostUSD          float64
	LatencyMS        float64
	TTFBMS           float64 // time to first byte; 0 when nothing was written
	Stream           bool
	Outcome          string // one of the Outcome* constants
	Estimated        bool   // some token count is the gateway's estimate
}

// How a request ended.
const (
	OutcomeCompleted     = "completed"
	OutcomeClientGone    = "client_gone"
	OutcomeUpstreamError = "upstream_error"
	OutcomeLimited       = "limited"
	OutcomeRejected      = "rejected" // the gateway refused it: bad request, model not allowed, unknown model
	OutcomeGatewayError  = "gateway_error"
)

// Store keeps records.
type Store interface {
	// Insert writes records in one transaction.
	Insert(ctx context.Context, records []Record) error
	// Usage sums records grouped as q says.
	Usage(ctx context.Context, q Query) ([]Row, error)
	// Requests returns the newest records, newest first.
	Requests(ctx context.Context, limit int) ([]Record, error)
	// Spent sums the cost of key's records since from, to seed budgets at
	// start.
	Spent(ctx context.Context, key string, since time.Time) (float64, error)
	Close() error
}

// Query selects and groups records for Usage.
type Query struct {
	GroupBy []string  // any of "key", "model", "day", "hour", in that order of columns
	From    time.Time // inclusive; zero: the beginning
	To      time.Time // exclusive; zero: now and later
}

// Row is one group of Usage. Only the grouped fields are set.
type Row struct {
	Key              *string `json:"key,omitempty"`
	Model            *string `json:"model,omitempty"`
	Day              *string `json:"day,omitempty"`  // YYYY-MM-DD, UTC
	Hour             *string `json:"hour,omitempty"` // YYYY-MM-DDTHH:00:00Z, UTC
	Requests         int64   `json:"requests"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
}
