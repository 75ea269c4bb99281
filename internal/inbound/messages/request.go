package messages

import (
	"net/http"
	"sync"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

// Request is a parsed Messages request (or count_tokens request). It keeps
// the client's body and reads it again for each conversion: a request is
// converted at most once per attempt, and a passthrough never.
type Request struct {
	body []byte
	doc  gjson.Result // the body's object, aliasing body

	model                string
	modelStart, modelEnd int
	maxTokens            int64
	maxStart, maxEnd     int
	stream               bool
	count                bool // POST /v1/messages/count_tokens
	header               http.Header

	estimateOnce sync.Once
	estimate     int64
}

var _ inbound.Request = (*Request)(nil)

// Model implements inbound.Request.
func (r *Request) Model() string { return r.model }

// Stream implements inbound.Request.
func (r *Request) Stream() bool { return r.stream }

// CountTokens reports whether the request is a count_tokens request.
func (r *Request) CountTokens() bool { return r.count }

// Native implements inbound.Request: the body as received, with the spans
// of model and max_tokens, and the anthropic-version and anthropic-beta
// headers to forward.
func (r *Request) Native() *adapter.NativeRequest {
	op := adapter.NativeGenerate
	if r.count {
		op = adapter.NativeCountTokens
	}
	return &adapter.NativeRequest{
		Protocol: adapter.ProtocolMessages, Op: op, Stream: r.stream, Body: r.body,
		ModelStart: r.modelStart, ModelEnd: r.modelEnd,
		MaxTokensStart: r.maxStart, MaxTokensEnd: r.maxEnd, MaxTokens: r.maxTokens,
		Header: r.header,
	}
}

// EstimateInputTokens is the gateway's estimate of the request's input
// tokens, for count_tokens on upstreams that cannot count and for the
// message_start of a converted stream whose upstream reports usage only at
// the end. It is one token per 4 bytes of the body (adapter.EstimateTokens:
// JSON keys and escapes make it lean high, which is the safe side for a
// client that sizes what it sends by it), except that each image counts
// 1,600 tokens instead of its base64 bytes: Anthropic's documented cost of
// an image of about 1.15 megapixels, the size it scales larger ones to.
// It is never 0.
func (r *Request) EstimateInputTokens() int64 {
	r.estimateOnce.Do(func() { r.estimate = estimateTokens(r.doc, len(r.body)) })
	return r.estimate
}

// imageTokens is the estimate of one image (see EstimateInputTokens).
const imageTokens = 1600

func estimateTokens(doc gjson.Result, size int) int64 {
	var images int64
	var imageBytes int
	count := func(block gjson.Result) {
		if block.Get("type").Str == "image" {
			images++
			imageBytes += len(block.Raw)
		}
	}
	doc.Get("messages").ForEach(func(_, m gjson.Result) bool {
		m.Get("content").ForEach(func(_, b gjson.Result) bool {
			count(b)
			if b.Get("type").Str == "tool_result" {
				b.Get("content").ForEach(func(_, inner gjson.Result) bool {
					count(inner)
					return true
				})
			}
			return true
		})
		return true
	})
	n := adapter.EstimateTokens(size-imageBytes) + images*imageTokens
	if n < 1 {
		n = 1
	}
	return n
}
