package api

import (
	"errors"
	"io"
	"net/http"

	"aigateway/internal/adapter"
	"aigateway/internal/bodyio"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// inference serves chat completions, completions and embeddings: read the
// body once, peek at model and stream, resolve the model, send, relay.
func (s *Server) inference(w *logWriter, r *http.Request, rec *record, op adapter.Op) {
	body, err := bodyio.ReadAll(r.Body, r.ContentLength, s.maxBody)
	if err != nil {
		var tooBig *bodyio.TooLargeError
		if errors.As(err, &tooBig) {
			w.Header().Set("Connection", "close") // do not read the rest of a huge body
			openai.WriteError(w, http.StatusRequestEntityTooLarge, &openai.Error{
				Type: openai.TypeInvalidRequest, Code: "request_too_large",
				Message: "The request body exceeds the gateway's limit of " + formatBytes(s.maxBody)})
			return
		}
		rec.status, rec.err = statusClientClosed, err // the client stopped sending
		return
	}
	rec.bytesIn = len(body)
	f, perr := openai.Peek(body)
	if perr != nil {
		openai.WriteError(w, http.StatusBadRequest, perr)
		return
	}
	rec.model = f.Model
	if op == adapter.OpEmbedding {
		f.Stream = false // embeddings never stream
	}
	rec.stream = f.Stream
	if op == adapter.OpChat && !f.MessagesOK {
		e := &openai.Error{Type: openai.TypeInvalidRequest, Param: "messages", Code: "missing_required_parameter",
			Message: `"messages" is required and must be a non-empty array`}
		if f.HasMessages {
			e.Code = "invalid_value"
		}
		openai.WriteError(w, http.StatusBadRequest, e)
		return
	}
	m, err := s.router.Resolve(f.Model)
	if err != nil {
		s.fail(w, r, rec, err)
		return
	}
	rec.upstream = m.Upstream
	resp, err := m.Adapter.Send(r.Context(), &adapter.Request{Op: op, Body: body, Fields: f, RequestID: rec.id})
	if err != nil {
		s.fail(w, r, rec, err)
		return
	}
	if resp.Stream != nil {
		s.relay(w, r, rec, resp.Stream)
		return
	}
	rec.usage = resp.Usage
	writeJSON(w, http.StatusOK, resp.Body)
}

// fail answers a request that failed before any byte of the response was
// written. A client that went away gets nothing and is logged as 499.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rec *record, err error) {
	rec.err = err
	if r.Context().Err() != nil {
		rec.status = statusClientClosed
		return
	}
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		openai.WriteError(w, http.StatusInternalServerError, &openai.Error{
			Type: openai.TypeServer, Code: "internal_error", Message: "internal gateway error; see the gateway log for request " + rec.id})
		return
	}
	for k, v := range ae.Header {
		w.Header()[k] = v
	}
	if ae.Body != nil {
		writeJSON(w, ae.Status, ae.Body)
		return
	}
	openai.WriteError(w, ae.Status, &ae.Err)
}

var (
	sseContentType = []string{"text/event-stream"}
	noCache        = []string{"no-cache"}
	no             = []string{"no"}
	doneEvent      = []byte("data: [DONE]\n\n")
)

// relay writes a stream to the client event by event. It flushes whenever
// the next chunk is not already at hand, so every event reaches the client
// as soon as it arrived, and events that arrived together share one write.
// It sends [DONE] only when the upstream finished; otherwise the last event
// is an error the client can see.
func (s *Server) relay(w *logWriter, r *http.Request, rec *record, st adapter.Stream) {
	defer func() {
		st.Close()
		rec.usage = st.Usage()
	}()
	h := w.Header()
	h["Content-Type"] = sseContentType
	h["Cache-Control"] = noCache
	h["X-Accel-Buffering"] = no // keep nginx in front of us from buffering
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, 1024)
	for {
		data, err := st.Next()
		if err == io.EOF {
			if _, err := w.Write(doneEvent); err != nil {
				rec.status, rec.err = statusClientClosed, err
			}
			w.Flush()
			return
		}
		if err != nil {
			rec.err = err
			if r.Context().Err() != nil {
				rec.status = statusClientClosed
				return
			}
			e := &openai.Error{Type: openai.TypeServer, Code: "stream_error", Message: "the stream failed: internal gateway error"}
			var ae *adapter.Error
			if errors.As(err, &ae) {
				e = &ae.Err
			}
			buf = sse.AppendEvent(buf[:0], nil, e.AppendJSON(nil))
			w.Write(buf) //nolint:errcheck // last write either way
			w.Flush()
			return
		}
		buf = sse.AppendEvent(buf[:0], nil, data)
		if _, err := w.Write(buf); err != nil {
			rec.status, rec.err = statusClientClosed, err
			return
		}
		if !st.Buffered() {
			w.Flush()
		}
	}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}
