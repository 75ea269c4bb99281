// Package responses is the OpenAI Responses API (POST /v1/responses, GET
// /v1/responses/{id}) in front of any deployment: Codex, opencode and the
// OpenAI SDKs' Responses clients. A request is converted to Chat
// Completions for the deployment and the answer back to a Responses
// object or event stream, unless the deployment serves /responses itself
// (an openai_compat entry with "responses": "native"), in which case it
// passes through.
//
// Responses the client lets the gateway store (store true or absent) are
// kept in a Store, so that previous_response_id and GET work; store: false
// (what Codex sends) is stateless: the client replays the conversation,
// reasoning items included, by their encrypted_content.
package responses

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// Options configure a Dialect.
type Options struct {
	// Store keeps stored responses; nil means a MemoryStore with its
	// defaults.
	Store Store
	// Now is the clock for created_at; nil means time.Now.
	Now func() time.Time
	// NewID returns a fresh random id suffix (response and item ids are
	// built from it); nil means 24 random hex digits.
	NewID func() string
}

// Dialect is the Responses protocol. It is safe for concurrent use.
type Dialect struct {
	store Store
	now   func() time.Time
	newID func() string
}

// New returns the Responses dialect.
func New(o Options) *Dialect {
	d := &Dialect{store: o.Store, now: o.Now, newID: o.NewID}
	if d.store == nil {
		d.store = NewMemoryStore(MemoryOptions{})
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.newID == nil {
		d.newID = randomID
	}
	return d
}

func randomID() string {
	var b [12]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b[:])
}

// Protocol implements inbound.Dialect.
func (d *Dialect) Protocol() adapter.Protocol { return adapter.ProtocolResponses }

// Parse implements inbound.Dialect.
func (d *Dialect) Parse(body []byte, r *http.Request) (inbound.Request, error) {
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	return d.parse(ctx, body)
}

// WriteError implements inbound.Dialect: the OpenAI error body, which is
// the Responses API's too.
func (d *Dialect) WriteError(w http.ResponseWriter, e *inbound.Error) {
	openai.WriteError(w, e.Status, &openai.Error{Message: e.Message, Type: e.Type, Param: e.Param, Code: e.Code})
}

// StreamError implements inbound.Dialect: a response.failed event for a
// stream that failed before a Stream existed to report it (the stream's own
// Fail numbers its events and names its response; prefer it).
func (d *Dialect) StreamError(e *inbound.Error) []adapter.Chunk {
	h := header{id: "resp_" + d.newID(), created: d.now().Unix()}
	return []adapter.Chunk{{Event: evFailed, Data: h.appendFailed(nil, 0, e, nil, usage{})}}
}

// StreamEnd implements inbound.Dialect: a Responses stream ends with its
// terminal event, without OpenAI Chat's [DONE].
func (d *Dialect) StreamEnd() []byte { return nil }

// Get implements inbound.Getter: a stored response object, for GET
// /v1/responses/{id}.
func (d *Dialect) Get(ctx context.Context, id string) ([]byte, bool, error) {
	s, ok, err := d.store.Get(ctx, id)
	if err != nil || !ok {
		return nil, ok, err
	}
	return s.Response, true, nil
}

var (
	_ inbound.Dialect = (*Dialect)(nil)
	_ inbound.Getter  = (*Dialect)(nil)
)
