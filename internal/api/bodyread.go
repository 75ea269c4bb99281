package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"aigateway/internal/bodyio"
	"aigateway/internal/openai"
)

// Defaults for reading request bodies. A body must start arriving within
// DefaultBodyReadTimeout and then keep up an average of DefaultBodyMinRate:
// a 32 MiB body may take about 34 minutes, a trickle of one byte a second
// is cut after 10 s. Without a deadline, connections that send a body one
// byte at a time hold a file descriptor and a goroutine each, for ever.
const (
	DefaultBodyReadTimeout = 10 * time.Second
	DefaultBodyMinRate     = 16 << 10 // bytes per second
)

// readBody reads the request body within the size limit and the read
// deadline, and answers the client itself when that fails (413 too large,
// 408 too slow). It returns nil when it has answered or the client left.
func (s *Server) readBody(w *logWriter, r *http.Request, rec *record) []byte {
	rc := http.NewResponseController(w)
	pr := &pacedReader{r: r.Body, rc: rc, start: time.Now(), grace: s.bodyTimeout, rate: s.bodyRate}
	// The read deadline must not outlive the body, or the server's
	// background read (which notices a client that leaves during a stream)
	// would hit it and cancel the request. net/http clears it when the body
	// reaches EOF, and ReadAll never reads past EOF; after an error the
	// connection is closed.
	body, err := bodyio.ReadAll(pr, r.ContentLength, s.maxBody)
	if err == nil {
		return body
	}
	var tooBig *bodyio.TooLargeError
	switch {
	case errors.As(err, &tooBig):
		w.Header().Set("Connection", "close") // do not read the rest of a huge body
		s.writeError(w, rec, http.StatusRequestEntityTooLarge, &openai.Error{
			Type: openai.TypeInvalidRequest, Code: "request_too_large",
			Message: "The request body exceeds the gateway's limit of " + formatBytes(s.maxBody)})
	case errors.Is(err, os.ErrDeadlineExceeded):
		rec.err = err
		w.Header().Set("Connection", "close")
		s.writeError(w, rec, http.StatusRequestTimeout, &openai.Error{
			Type: openai.TypeInvalidRequest, Code: "request_timeout",
			Message: "The request body arrived too slowly; the gateway needs it to start within " +
				s.bodyTimeout.String() + " and then to average at least " + formatBytes(s.bodyRate) + " per second"})
	default:
		rec.status, rec.err = statusClientClosed, err // the client stopped sending
	}
	return nil
}

// pacedReader sets the connection's read deadline before each read to
// start + grace + (bytes so far) / rate, so that a slow but honest client
// always makes it and a trickling one is cut. When the connection does not
// support deadlines (an HTTP/2 stream on an old transport, a test
// recorder), reads are not paced.
type pacedReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	n     int64
	off   bool // deadlines are not supported
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if !p.off {
		allowed := p.grace
		if p.rate > 0 {
			allowed += time.Duration(float64(p.n) / float64(p.rate) * float64(time.Second))
		}
		if err := p.rc.SetReadDeadline(p.start.Add(allowed)); err != nil {
			p.off = true
		}
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}
