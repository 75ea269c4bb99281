package api

import (
	"errors"
	"net/http"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
	"aigateway/internal/registry"
)

// Dialects are the inbound APIs the server offers besides OpenAI's; a nil
// one is not served (404).
type Dialects struct {
	Messages  inbound.Dialect // POST /v1/messages, /v1/messages/count_tokens
	Responses inbound.Dialect // POST /v1/responses, GET /v1/responses/{id}
	Gemini    inbound.Dialect // /v1beta/models/{model}:generateContent and friends
}

// inboundAPI serves a request of an inbound API: parse it leniently,
// resolve the model, and attempt it like a chat completion (retries,
// fallbacks, breakers, keep-alives), each attempt passing through or
// converting as its deployment requires (see exchange).
func (s *Server) inboundAPI(w *logWriter, r *http.Request, rec *record, d inbound.Dialect, count bool) {
	rec.dialect = d
	if !s.authenticate(w, r, rec) {
		return // not recorded: the ledger is of the keys' requests
	}
	rec.endpoint = endpointOf(r)
	s.metrics.RequestStarted() // ended by account, which runs for every request with an endpoint
	body := s.readBody(w, r, rec)
	if body == nil {
		return
	}
	rec.bytesIn = len(body)
	x := &exchange{protocol: d.Protocol(), requestID: rec.id, log: s.log}
	var err error
	if count {
		c, ok := d.(inbound.Counter)
		if !ok {
			s.notFound(w, r, rec)
			return
		}
		x.counter = c
		x.in, err = c.ParseCount(body, r)
	} else {
		x.in, err = d.Parse(body, r)
	}
	if err != nil {
		var ie *inbound.Error
		if !errors.As(err, &ie) {
			ie = &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Message: err.Error()}
		}
		rec.err = err
		d.WriteError(w, ie)
		return
	}
	x.model = x.in.Model()
	x.stream = x.in.Stream() && !count
	x.jsonArray = x.stream && x.protocol == adapter.ProtocolGemini && r.URL.Query().Get("alt") != "sse"
	rec.model, rec.stream = x.model, x.stream
	if !s.permit(w, rec, x.model) {
		return
	}
	plan, err := s.router.Plan(x.model)
	if err != nil {
		s.fail(w, r, rec, err)
		return
	}
	if !count && !s.admit(r.Context(), w, rec, x.model, body, -1) {
		return
	}
	s.attempt(w, r, rec, plan, x)
}

// geminiMethod splits a Gemini API path, /v1beta/models/{model}:{method}
// (or /v1/...), into the model and the method; ok is false for another
// path.
func geminiMethod(path string) (model, method string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v1beta/models/")
	if !found {
		if rest, found = strings.CutPrefix(path, "/v1/models/"); !found {
			return "", "", false
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", "", false
	}
	switch method = rest[i+1:]; method {
	case "generateContent", "streamGenerateContent", "countTokens":
		// A model id may hold a colon itself (qwen3:8b): only these
		// methods make the path a call.
		return strings.TrimPrefix(rest[:i], "models/"), method, true
	}
	return "", "", false
}

// gemini serves the Gemini API's model methods.
func (s *Server) gemini(w *logWriter, r *http.Request, rec *record, method string) {
	d := s.dialects.Gemini
	rec.dialect = d
	switch method {
	case "generateContent", "streamGenerateContent":
		if allow(w, r, http.MethodPost) {
			s.inboundAPI(w, r, rec, d, false)
		}
	case "countTokens":
		if allow(w, r, http.MethodPost) {
			s.inboundAPI(w, r, rec, d, true)
		}
	default:
		s.notFound(w, r, rec)
	}
}

// listModels answers a model list in the dialect's format.
func (s *Server) listModels(w http.ResponseWriter, rec *record, l inbound.Lister) {
	reg := s.router.Registry()
	ids := reg.Listed()
	models := make([]inbound.Model, 0, len(ids))
	for _, id := range ids {
		if rec.key != nil && !rec.key.Allows(id) {
			continue
		}
		if m, err := s.router.Resolve(id); err == nil {
			models = append(models, modelInfo(m))
		}
	}
	writeJSON(w, http.StatusOK, l.ListModels(models, s.started))
}

// modelObject answers one model in the dialect's format.
func (s *Server) modelObject(w http.ResponseWriter, r *http.Request, rec *record, l inbound.Lister, id string) {
	rec.model = id
	if !s.permit(w, rec, id) {
		return
	}
	m, err := s.router.Resolve(id)
	if err != nil {
		s.fail(w, r, rec, err)
		return
	}
	writeJSON(w, http.StatusOK, l.ModelObject(modelInfo(m), s.started))
}

// modelInfo describes m for an inbound model list.
func modelInfo(m *registry.Model) inbound.Model {
	return inbound.Model{ID: m.ID, ContextWindow: m.ContextWindow, MaxOutputTokens: m.MaxOutputTokens}
}

// storedResponse serves GET /v1/responses/{id}.
func (s *Server) storedResponse(w http.ResponseWriter, r *http.Request, rec *record, g inbound.Getter, id string) {
	body, found, err := g.Get(r.Context(), id)
	switch {
	case err != nil:
		// The store's server is down (the memory store cannot fail): the
		// response may well be there once it is back, so a 503, which
		// SDKs retry, as for a previous_response_id in the same case.
		rec.err = err
		s.writeError(w, rec, http.StatusServiceUnavailable, &openai.Error{Type: openai.TypeUnavailable, Code: "store_unavailable",
			Param: "response_id", Message: "The stored responses cannot be read right now; try again. See the gateway log for request " + rec.id + "."})
	case !found:
		s.writeError(w, rec, http.StatusNotFound, &openai.Error{Type: openai.TypeInvalidRequest, Code: "not_found", Param: "response_id",
			Message: "No response found with id '" + id + "'."})
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

// notFound answers a path the gateway does not serve, in the error shape
// of the API the client speaks.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, rec *record) {
	s.writeError(w, rec, http.StatusNotFound, &openai.Error{
		Type: openai.TypeInvalidRequest, Code: "unknown_url",
		Message: "Unknown request URL: " + r.Method + " " + r.URL.Path + ". See the gateway's README for its endpoints."})
}

// anthropicClient reports whether a request comes from an Anthropic SDK,
// which sends anthropic-version on every request.
func anthropicClient(r *http.Request) bool {
	return len(r.Header["Anthropic-Version"]) > 0
}

// geminiClient reports whether a request comes from a Google Gen AI SDK,
// which sends x-goog-api-client (and x-goog-api-key) on every request. The
// Go SDK's default API version for the Gemini API is v1, so it lists
// models at /v1/models, where OpenAI clients list them too.
func geminiClient(r *http.Request) bool {
	return len(r.Header["X-Goog-Api-Client"]) > 0 || len(r.Header["X-Goog-Api-Key"]) > 0
}
