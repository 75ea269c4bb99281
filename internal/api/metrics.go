package api

import (
	"context"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/config"
	"aigateway/internal/metrics"
	"aigateway/internal/registry"
)

// observe records a finished model request in the metrics, from the same
// record the ledger takes. Label values are configured ids and names only:
// a model the gateway does not serve counts as metrics.UnknownModel.
func (s *Server) observe(w *logWriter, rec *record, status int, costUSD float64) {
	if s.metrics == nil {
		return
	}
	s.metrics.RequestEnded()
	model := metrics.UnknownModel
	if _, ok := s.router.Registry().Lookup(rec.model); ok {
		model = rec.model
	}
	mr := metrics.Request{Operation: operationOf(rec.endpoint), Provider: rec.provider, Model: model, Deployment: rec.deployment,
		Endpoint: rec.endpoint, Status: status, Duration: time.Since(rec.start).Seconds(), InputTokens: rec.usage.PromptTokens,
		OutputTokens: rec.usage.CompletionTokens, CostUSD: costUSD}
	if rec.key != nil {
		mr.Key = rec.key.Name
	}
	if rec.stream && w.bytes > 0 {
		mr.TTFT = w.firstByte.Seconds()
	}
	s.metrics.Request(mr)
}

// operationOf is the GenAI operation name of an endpoint; the inbound
// APIs are chats.
func operationOf(endpoint string) string {
	switch endpoint {
	case "/v1/completions":
		return "text_completion"
	case "/v1/embeddings":
		return "embeddings"
	}
	return "chat"
}

// providerOf names what a deployment talks to, for gen_ai_provider_name:
// the protocol of a custom_http entry, else its adapter, in the
// conventions' well-known values where one applies (gcp.gemini is the
// Gemini API at generativelanguage.googleapis.com).
func providerOf(d *registry.Deployment) string {
	switch d.AdapterType {
	case config.AdapterOpenAICompat:
		return "openai"
	case config.AdapterProcess:
		return "process"
	}
	switch d.Protocol {
	case adapter.ProtocolMessages:
		return "anthropic"
	case adapter.ProtocolGemini:
		return "gcp.gemini"
	}
	return "template"
}

// attemptOutcome names how an upstream attempt ended, in a few fixed
// words: success; client_gone; retry, move_on or error by judge's step.
func attemptOutcome(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return "success"
	case ctx.Err() != nil:
		return "client_gone"
	}
	switch next, _ := judge(err); next {
	case stepRetry:
		return "retry"
	case stepMoveOn:
		return "move_on"
	}
	return "error"
}
