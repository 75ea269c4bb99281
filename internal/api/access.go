package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/config"
	"aigateway/internal/keys"
	"aigateway/internal/ledger"
	"aigateway/internal/limits"
	"aigateway/internal/openai"
	"aigateway/internal/registry"
)

// Ledger takes the record of every finished request; it must not block
// (ledger.Writer queues and writes in batches).
type Ledger interface {
	Add(ledger.Record)
}

// authenticate checks the client's gateway key when the config has keys,
// and remembers it in rec. It answers 401 in the client's API's error
// shape and returns false when the key is missing or unknown. The key
// itself is never logged or echoed: only its name is.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, rec *record) bool {
	ring := s.router.Registry().Keys()
	if ring.Open() {
		return true
	}
	presented, ok := keys.Presented(r)
	if !ok {
		rec.err = errMissingKey
		s.writeError(w, rec, http.StatusUnauthorized, &openai.Error{Type: openai.TypeInvalidRequest, Code: "missing_api_key",
			Message: "this gateway needs a key: send it as Authorization: Bearer <key> (OpenAI SDKs), x-api-key (Anthropic SDKs), x-goog-api-key or ?key= (Google SDKs)"})
		return false
	}
	k := ring.Lookup(presented)
	if k == nil {
		rec.err = errUnknownKey
		s.writeError(w, rec, http.StatusUnauthorized, &openai.Error{Type: openai.TypeInvalidRequest, Code: "invalid_api_key",
			Message: "the gateway key is not valid"})
		return false
	}
	rec.key = k
	return true
}

var (
	errMissingKey = errors.New("no gateway key")
	errUnknownKey = errors.New("unknown gateway key")
)

// permit answers 403 and returns false when the request's key may not use
// model.
func (s *Server) permit(w http.ResponseWriter, rec *record, model string) bool {
	if rec.key == nil || rec.key.Allows(model) {
		return true
	}
	rec.err = errors.New("model not allowed for key " + rec.key.Name)
	rec.outcome = ledger.OutcomeRejected
	s.writeError(w, rec, http.StatusForbidden, &openai.Error{Type: openai.TypeInvalidRequest, Param: "model", Code: "model_not_allowed",
		Message: "the gateway key " + strconv.Quote(rec.key.Name) + " may not use model " + strconv.Quote(truncateForLog(model, 256))})
	return false
}

// defaultReserveTokens is the output a request is assumed to produce,
// for its worst-case budget reservation, when it sets no limit and its
// model has no max_output_tokens.
const defaultReserveTokens = 4096

// admit takes the request's share of its key's limits: a request, its
// estimated tokens, a concurrency slot and its worst-case cost. Over a
// limit it answers 429 (or 503 when the shared limits cannot be checked
// and the gateway fails closed) and returns false. On success the ticket
// in rec is settled by account when the request ends, on every path.
// maxOut is the request's output limit when the caller knows it (0: none
// given), or -1 to read it from the body.
func (s *Server) admit(ctx context.Context, w http.ResponseWriter, rec *record, model string, body []byte, maxOut int64) bool {
	if rec.key == nil || s.limiter == nil {
		return true
	}
	lim := rec.key.Limits()
	if lim.None() {
		return true
	}
	ask := limits.Ask{Key: rec.key.Name, Limits: lim, Tokens: adapter.EstimateTokens(len(body))}
	if m, err := s.router.Resolve(model); err == nil && lim.BudgetUSD > 0 {
		if maxOut < 0 {
			maxOut = requestedOutput(body)
		}
		ask.CostUSD = worstCost(m, maxOut, ask.Tokens)
	}
	d, err := s.limiter.Admit(ctx, ask)
	if err != nil {
		s.log.Warn("checking limits failed; request admitted", "request_id", rec.id, "key", rec.key.Name, "error", err)
		return true
	}
	rateLimitHeaders(w.Header(), d)
	if d.Allowed {
		rec.ticket = d.Ticket
		return true
	}
	rec.outcome = ledger.OutcomeLimited
	rec.err = errors.New("limit reached: " + string(d.Reason))
	s.metrics.RateLimited(rec.key.Name, string(d.Reason))
	if d.Retry > 0 {
		w.Header()["Retry-After"] = []string{strconv.FormatInt(int64(math.Ceil(d.Retry.Seconds())), 10)}
	}
	status, e := http.StatusTooManyRequests, &openai.Error{Type: "requests", Code: "rate_limit_exceeded"}
	name := strconv.Quote(rec.key.Name)
	switch d.Reason {
	case limits.ReasonRequests:
		e.Message = "rate limit reached for gateway key " + name + ": " + itoa(lim.RPM) + " requests per minute"
	case limits.ReasonTokens:
		e.Type, e.Message = "tokens", "rate limit reached for gateway key "+name+": "+itoa(lim.TPM)+" tokens per minute"
	case limits.ReasonConcurrency:
		e.Message = "too many requests in flight for gateway key " + name + ": at most " + itoa(lim.MaxConcurrency) + " at once"
	case limits.ReasonBudget:
		e.Type, e.Code = "insufficient_quota", "insufficient_quota"
		e.Message = "gateway key " + name + " has used its budget of $" + strconv.FormatFloat(lim.BudgetUSD, 'f', -1, 64) + " for this period"
	default:
		status, e = http.StatusServiceUnavailable, &openai.Error{Type: openai.TypeUnavailable, Code: "limits_unavailable",
			Message: "the gateway cannot check the limits of gateway key " + name + " right now; try again shortly"}
	}
	s.writeError(w, rec, status, e)
	return false
}

// worstCost is the most a request may cost: its estimated prompt at the
// model's dearest input price plus its output limit at the dearest output
// price.
func worstCost(m *registry.Model, maxOut, promptTokens int64) float64 {
	var in, out float64
	var capTokens int64
	for _, d := range m.Deployments {
		if p := d.Price; p != nil {
			in, out = max(in, p.Input), max(out, p.Output)
		}
		if d.MaxOutputTokens > 0 {
			capTokens = max(capTokens, d.MaxOutputTokens)
		}
	}
	if in == 0 && out == 0 {
		return 0
	}
	if maxOut <= 0 {
		maxOut = capTokens
	}
	if maxOut <= 0 {
		maxOut = defaultReserveTokens
	}
	return (float64(promptTokens)*in + float64(maxOut)*out) / 1e6
}

// requestedOutput reads an inbound API request's output token limit in
// one pass over its top level: max_tokens (Anthropic),
// max_output_tokens (Responses) or generationConfig.maxOutputTokens
// (Gemini); 0: none given.
func requestedOutput(body []byte) int64 {
	var n int64
	gjson.ParseBytes(body).ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			n = value.Int()
		case "generationConfig":
			n = value.Get("maxOutputTokens").Int()
		default:
			return true
		}
		return n <= 0
	})
	return max(n, 0)
}

// rateLimitHeaders writes the x-ratelimit-* headers OpenAI clients read,
// for the per-minute limits the key has. The values share one string and
// one slice: this runs on every request of a limited key.
func rateLimitHeaders(h http.Header, d limits.Decision) {
	if d.Requests.Limit == 0 && d.Tokens.Limit == 0 {
		return
	}
	var buf [128]byte
	b := buf[:0]
	var ends [6]int
	for i, w := range [2]limits.Window{d.Requests, d.Tokens} {
		b = strconv.AppendInt(b, w.Limit, 10)
		ends[3*i] = len(b)
		b = strconv.AppendInt(b, max(w.Remaining, 0), 10)
		ends[3*i+1] = len(b)
		b = appendReset(b, w.Reset)
		ends[3*i+2] = len(b)
	}
	all := string(b)
	vals := make([]string, 6)
	start := 0
	for i, end := range ends {
		vals[i] = all[start:end]
		start = end
	}
	if d.Requests.Limit > 0 {
		h["X-Ratelimit-Limit-Requests"] = vals[0:1:1]
		h["X-Ratelimit-Remaining-Requests"] = vals[1:2:2]
		h["X-Ratelimit-Reset-Requests"] = vals[2:3:3]
	}
	if d.Tokens.Limit > 0 {
		h["X-Ratelimit-Limit-Tokens"] = vals[3:4:4]
		h["X-Ratelimit-Remaining-Tokens"] = vals[4:5:5]
		h["X-Ratelimit-Reset-Tokens"] = vals[5:6:6]
	}
}

// appendReset appends a reset time the way OpenAI writes it: "1s",
// "6m0s", "20ms".
func appendReset(b []byte, d time.Duration) []byte {
	switch {
	case d <= 0:
		return append(b, "0s"...)
	case d < time.Second:
		return append(strconv.AppendInt(b, max(d.Milliseconds(), 1), 10), "ms"...)
	}
	return append(b, d.Round(time.Millisecond).String()...)
}

// cost is what usage cost at price, in USD: cached prompt tokens at the
// cached price, the rest of the prompt at the input price, completion
// (reasoning included) at the output price.
func cost(p *config.Price, u adapter.Usage) float64 {
	if p == nil {
		return 0
	}
	cached := min(u.CachedTokens, u.PromptTokens)
	return (float64(u.PromptTokens-cached)*p.Input + float64(cached)*p.CachedInput + float64(u.CompletionTokens)*p.Output) / 1e6
}

// settle ends the request's hold on its key's limits with what it used.
// The handler settles as soon as the usage is known, before the answer's
// last byte, so that a client's next request sees it; account settles
// whatever is left, on every other path. Settling even when the client is
// gone matters: a leaked reservation would refuse the key's next requests.
func (s *Server) settle(ctx context.Context, rec *record) {
	if rec.ticket == nil {
		return
	}
	u := rec.usage
	s.limiter.Settle(context.WithoutCancel(ctx), rec.ticket, u.PromptTokens+u.CompletionTokens, cost(rec.price, u))
	rec.ticket = nil
}

// account ends a request's hold on its key's limits and writes its ledger
// record. It runs once per request, after the response, on every path.
func (s *Server) account(w *logWriter, r *http.Request) {
	rec := w.rec
	status := w.status
	if rec.status != 0 {
		status = rec.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	if rec.span != nil {
		defer s.endSpan(rec, status) // after settle: the span covers the whole request
	}
	if rec.endpoint == "" {
		return // not a model request: health, lists, admin
	}
	s.settle(r.Context(), rec)
	u := rec.usage
	c := cost(rec.price, u)
	s.observe(w, rec, status, c)
	s.recordActivity(w, rec, status, c)
	if s.ledger == nil {
		return
	}
	lr := ledger.Record{Time: rec.start.UTC(), RequestID: rec.id, Model: rec.model, Deployment: rec.deployment, Endpoint: rec.endpoint,
		Status: status, PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, CachedTokens: u.CachedTokens,
		ReasoningTokens: u.ReasoningTokens, CostUSD: c, LatencyMS: millis(time.Since(rec.start)), Stream: rec.stream,
		Outcome: outcome(rec, status), Estimated: u.Estimated}
	if rec.key != nil {
		lr.Key = rec.key.Name
	}
	if w.bytes > 0 {
		lr.TTFBMS = millis(w.firstByte)
	}
	s.ledger.Add(lr)
}

// outcome says how a request ended, for the ledger.
func outcome(rec *record, status int) string {
	var ae *adapter.Error
	switch {
	case rec.outcome != "":
		return rec.outcome
	case status == statusClientClosed:
		return ledger.OutcomeClientGone
	case status < 300 && rec.err == nil:
		return ledger.OutcomeCompleted
	case errors.As(rec.err, &ae) || (status < 300 && rec.attempts > 0):
		return ledger.OutcomeUpstreamError // an upstream's error, or a stream that broke off
	case status >= 500:
		return ledger.OutcomeGatewayError
	}
	return ledger.OutcomeRejected
}

// adminAllowed checks the admin key for /admin/*: Bearer admin_key when
// one is configured; open when the gateway has no keys at all (like every
// other endpoint); else refused, since a gateway key is not an admin key.
func (s *Server) adminAllowed(w http.ResponseWriter, r *http.Request) bool {
	reg := s.router.Registry()
	digest, set := reg.AdminDigest()
	if !set {
		if reg.Keys().Open() {
			return true
		}
		openai.WriteError(w, http.StatusForbidden, &openai.Error{Type: openai.TypeInvalidRequest, Code: "admin_disabled",
			Message: "the admin API needs an admin_key in models.json"})
		return false
	}
	presented, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	got := sha256.Sum256([]byte(strings.TrimSpace(presented)))
	if presented == "" || subtle.ConstantTimeCompare(got[:], digest[:]) != 1 {
		openai.WriteError(w, http.StatusUnauthorized, &openai.Error{Type: openai.TypeInvalidRequest, Code: "invalid_api_key",
			Message: "the admin API needs the admin key as Authorization: Bearer <admin_key>"})
		return false
	}
	return true
}

// endpointOf names a model request's endpoint for the ledger: its path,
// with a Gemini model path reduced to its method so that the ledger's
// endpoints are a short list.
func endpointOf(r *http.Request) string {
	if _, method, ok := geminiMethod(r.URL.Path); ok {
		return "/v1beta/models/{model}:" + method
	}
	return r.URL.Path
}
