package api

import (
	"net/http"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// writeError answers with e in the error shape of the API the client
// speaks: OpenAI's, or the inbound dialect's.
func (s *Server) writeError(w http.ResponseWriter, rec *record, status int, e *openai.Error) {
	if rec.dialect == nil {
		openai.WriteError(w, status, e)
		return
	}
	rec.dialect.WriteError(w, inboundError(status, e))
}

// writeUpstreamError answers with an upstream's failure: its own error
// body when the client speaks that body's protocol, else its Err in the
// client's shape.
func (s *Server) writeUpstreamError(w http.ResponseWriter, rec *record, ae *adapter.Error) {
	for k, v := range ae.Header {
		w.Header()[k] = v
	}
	if ae.Body != nil && sameShape(rec.dialect, ae.BodyProtocol) {
		writeJSON(w, ae.Status, ae.Body)
		return
	}
	s.writeError(w, rec, ae.Status, &ae.Err)
}

// sameShape reports whether an error body of protocol p has the error
// shape of dialect d (nil: OpenAI's). Responses errors have OpenAI's.
func sameShape(d inbound.Dialect, p adapter.Protocol) bool {
	openAIShape := func(p adapter.Protocol) bool { return p == adapter.ProtocolChat || p == adapter.ProtocolResponses }
	if d == nil {
		return openAIShape(p)
	}
	dp := d.Protocol()
	return dp == p || (openAIShape(dp) && openAIShape(p))
}

func inboundError(status int, e *openai.Error) *inbound.Error {
	return &inbound.Error{Status: status, Type: e.Type, Code: e.Code, Param: e.Param, Message: e.Message}
}
