package mockllm

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxRecorded bounds the requests kept for Requests.
const maxRecorded = 1000

// maxBodyBytes bounds a request body; larger bodies get 413.
const maxBodyBytes = 32 << 20

// Options configures a Server. The zero value is a usable mock.
type Options struct {
	// Models is listed by GET /v1/models. Nil or empty means ["mock-model"].
	Models []string
	// APIKey, if set, is required in each protocol's own way: OpenAI
	// "Authorization: Bearer <APIKey>" (else 401 invalid_api_key), Anthropic
	// "x-api-key" (else 401 authentication_error), Gemini "x-goog-api-key"
	// or the "key" query parameter (else 400 API_KEY_INVALID, as Google
	// answers). Empty means no credentials are checked.
	APIKey string
	// Chunks is the default number of content chunks in a reply. Zero or
	// negative means 3. The "chunks" directive overrides it.
	Chunks int
	// ChunkDelay is the default wait before each body chunk (streams) or
	// ChunkDelay×chunks before the body (non-stream). Zero means none.
	ChunkDelay time.Duration
	// Record keeps received requests (the last 1000) for Requests.
	Record bool
	// ChunkHook, when set, is called before body chunk i is written; tests
	// use it to pause a stream. It receives the request context and must
	// return when ctx is done.
	ChunkHook func(ctx context.Context, i int)
	// Script, when set, is called for every request whose body passed
	// validation, before any directive step runs. seq is the 1-based
	// request number on this server and d is the directive (the X-Mock
	// header or the body's "mock" object; never nil), which Script may
	// modify: e.g. fail the first request and let the retry succeed.
	// It may be called concurrently.
	Script func(seq int64, r *http.Request, d *Directive)
	// Now gives the "created" timestamp. Nil means time.Now.
	Now func() time.Time
}

// withDefaults returns a copy of o with zero values replaced by defaults.
func (o Options) withDefaults() Options {
	if len(o.Models) == 0 {
		o.Models = []string{"mock-model"}
	}
	if o.Chunks <= 0 {
		o.Chunks = 3
	}
	if o.ChunkDelay < 0 {
		o.ChunkDelay = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Request is a request the Server received (see Options.Record).
type Request struct {
	Method string
	Path   string      // r.URL.Path, e.g. "/v1beta/models/m:streamGenerateContent"
	Query  string      // r.URL.RawQuery without "?", e.g. "alt=sse"; "" if none
	Header http.Header // a clone
	Body   []byte
}

// Stats are counters since the Server was created. Every request ends as
// exactly one of Completed, Canceled or Aborted, so once idle
// Requests == Completed + Canceled + Aborted.
type Stats struct {
	Requests  int64 // requests received
	InFlight  int64 // handlers still running
	Completed int64 // handlers that wrote their whole response (errors included)
	Canceled  int64 // handlers that saw the client go away before they finished
	Aborted   int64 // handlers that cut the connection on purpose (cut_after)
}

// Server is the mock upstream; it is an http.Handler safe for concurrent use.
type Server struct {
	opts Options

	requests  atomic.Int64
	inFlight  atomic.Int64
	completed atomic.Int64
	canceled  atomic.Int64
	aborted   atomic.Int64

	idleMu sync.Mutex
	idleCh chan struct{} // closed when InFlight drops to 0; nil if nobody waits

	recMu   sync.Mutex
	rec     []Request // ring buffer of at most maxRecorded
	recNext int       // next slot to overwrite once rec is full

	bufs sync.Pool // *[]byte response buffers

	issued signatures // Gemini thought signatures sent

	modelList []byte // precomputed GET /v1/models body
}

// New returns a Server configured by opts.
func New(opts Options) *Server {
	s := &Server{opts: opts.withDefaults()}
	s.bufs.New = func() any {
		b := make([]byte, 0, 2048)
		return &b
	}
	s.modelList = appendModelList(nil, s.opts.Models)
	return s
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:  s.requests.Load(),
		InFlight:  s.inFlight.Load(),
		Completed: s.completed.Load(),
		Canceled:  s.canceled.Load(),
		Aborted:   s.aborted.Load(),
	}
}

// Requests returns the recorded requests, oldest first. It is empty unless
// Options.Record is set.
func (s *Server) Requests() []Request {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	out := make([]Request, 0, len(s.rec))
	out = append(out, s.rec[s.recNext:]...)
	return append(out, s.rec[:s.recNext]...)
}

// WaitIdle blocks until no handler is running or ctx is done. The counters
// in Stats are final for every request whose handler has returned.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.idleMu.Lock()
		if s.inFlight.Load() == 0 {
			s.idleMu.Unlock()
			return nil
		}
		if s.idleCh == nil {
			s.idleCh = make(chan struct{})
		}
		ch := s.idleCh
		s.idleMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) leave() {
	if s.inFlight.Add(-1) != 0 {
		return
	}
	s.idleMu.Lock()
	if s.idleCh != nil {
		close(s.idleCh)
		s.idleCh = nil
	}
	s.idleMu.Unlock()
}

func (s *Server) record(r *http.Request, body []byte) {
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	s.recMu.Lock()
	if len(s.rec) < maxRecorded {
		s.rec = append(s.rec, req)
	} else {
		s.rec[s.recNext] = req
		s.recNext = (s.recNext + 1) % maxRecorded
	}
	s.recMu.Unlock()
}

// errCanceled means the client went away; the handler stops writing.
var errCanceled = errors.New("mockllm: client went away")

// call is the state of one request, shared by the protocol handlers.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	body []byte
	seq  int64
	fail errorWriter
}

// A handler serves one routed request. It returns nil once it has written
// a complete response and errCanceled if the client went away first.
type handler func(c *call) error

// apiError is a protocol-neutral error; each protocol's errorWriter renders
// it in its own shape and fills in an empty Type from the status.
type apiError struct {
	Type, Message, Param, Code string
}

type errorWriter func(w http.ResponseWriter, status int, e apiError)

// An authChecker tells why r's credentials do not match key; status 0
// means they do. It is only called when Options.APIKey is set.
type authChecker func(r *http.Request, key string) (status int, e apiError)

type route struct {
	method string
	serve  handler
	fail   errorWriter
	auth   authChecker
	// begin, if set, runs before anything is written, e.g. to set headers
	// every response of the protocol carries.
	begin func(h http.Header, seq int64)
}

// route finds the handler for path. Each protocol file contributes a
// routing function. A protocol may claim an unknown path of its own
// namespace (found false, fail and auth set) so that its 404 has the
// protocol's shape; other unknown paths get the OpenAI one.
func (s *Server) route(path string) (route, bool) {
	for _, find := range [...]func(string) (route, bool){geminiRoute, anthropicRoute} {
		if rt, found := find(path); found || rt.fail != nil {
			return rt, found
		}
	}
	rt, found := openaiRoute(path)
	if rt.fail == nil {
		rt.fail, rt.auth = writeOpenAIError, checkOpenAIKey
	}
	return rt, found
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	seq := s.requests.Add(1)
	s.inFlight.Add(1)
	outcome := &s.aborted // a panic (cut_after) leaves it here
	defer func() {
		outcome.Add(1)
		s.leave()
	}()
	if s.serve(w, r, seq) != nil {
		outcome = &s.canceled
	} else {
		outcome = &s.completed
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, seq int64) error {
	rt, found := s.route(r.URL.Path)
	fail := rt.fail
	if rt.begin != nil {
		rt.begin(w.Header(), seq)
	}
	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, http.StatusRequestEntityTooLarge, apiError{Message: "request body too large"})
			return nil
		}
		return errCanceled
	}
	if s.opts.Record {
		s.record(r, body)
	}
	if s.opts.APIKey != "" {
		if status, e := rt.auth(r, s.opts.APIKey); status != 0 {
			fail(w, status, e)
			return nil
		}
	}
	if !found {
		fail(w, http.StatusNotFound, apiError{Message: "Invalid URL (" + r.Method + " " + r.URL.Path + ")"})
		return nil
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		fail(w, http.StatusMethodNotAllowed, apiError{Message: "Method " + r.Method + " not allowed for " + r.URL.Path})
		return nil
	}
	return rt.serve(&call{s: s, w: w, r: r, body: body, seq: seq, fail: fail})
}

// checkOpenAIKey wants "Authorization: Bearer <key>".
func checkOpenAIKey(r *http.Request, key string) (int, apiError) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	msg := ""
	switch {
	case !ok || got == "":
		msg = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	case !keyEqual(got, key):
		msg = "Incorrect API key provided."
	default:
		return 0, apiError{}
	}
	return http.StatusUnauthorized, apiError{Type: "invalid_request_error", Message: msg, Code: "invalid_api_key"}
}

func keyEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	rd := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if n := r.ContentLength; n > 0 && n <= maxBodyBytes {
		b := make([]byte, n)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(rd)
}

// getBuf returns a pooled buffer; give it back with putBuf.
func (s *Server) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Server) putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return // do not pin huge buffers
	}
	*b = (*b)[:0]
	s.bufs.Put(b)
}

// sseWriter writes server-sent events, flushing after each one.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE sends and flushes the 200 headers of an event stream, so the
// client sees the response start even if the first event is delayed.
func (c *call) startSSE() (*sseWriter, error) {
	return c.startStream("text/event-stream")
}

// startStream is startSSE for any streamed content type.
func (c *call) startStream(contentType string) (*sseWriter, error) {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: c.w, rc: http.NewResponseController(c.w)}
	return sw, sw.flush()
}

// send writes one complete event (it must end with a blank line) and
// flushes it.
func (sw *sseWriter) send(event []byte) error {
	if _, err := sw.w.Write(event); err != nil {
		return errCanceled
	}
	return sw.flush()
}

func (sw *sseWriter) flush() error {
	if err := sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return errCanceled
	}
	return nil
}
