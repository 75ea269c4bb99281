package mockllm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const fixedCreated = 1755000000

func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Unix(fixedCreated, 0) }
	}
	s := New(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

// send makes a request and returns the response with its body unread; the
// body is closed at cleanup. headers are name, value pairs.
func send(t *testing.T, ctx context.Context, hs *httptest.Server, method, path, body string, headers ...string) (*http.Response, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, hs.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := hs.Client().Do(req)
	if resp != nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

// fetch makes a request and reads the whole response body.
func fetch(t *testing.T, hs *httptest.Server, method, path, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	resp, err := send(t, context.Background(), hs, method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

func post(t *testing.T, hs *httptest.Server, path, body string) (*http.Response, []byte) {
	t.Helper()
	return fetch(t, hs, http.MethodPost, path, body)
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return m
}

// sseReader reads "data:" payloads of an event stream one event at a time.
type sseReader struct {
	br *bufio.Reader
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{br: bufio.NewReader(r)} }

// next returns the data of the next event. The mock writes exactly one
// "data: " line per event followed by a blank line; anything else is an
// error.
func (sr *sseReader) next() (string, error) {
	line, err := sr.br.ReadString('\n')
	if err != nil {
		if err == io.EOF && line != "" {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	data, ok := strings.CutPrefix(line, "data: ")
	if !ok || !strings.HasSuffix(data, "\n") {
		return "", errors.New("bad event line " + line)
	}
	blank, err := sr.br.ReadString('\n')
	if err != nil {
		return "", io.ErrUnexpectedEOF
	}
	if blank != "\n" {
		return "", errors.New("event not followed by a blank line: " + blank)
	}
	return strings.TrimSuffix(data, "\n"), nil
}

// all reads events until EOF or an error, which it returns (nil at EOF).
func (sr *sseReader) all() ([]string, error) {
	var out []string
	for {
		ev, err := sr.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

// streamEvents posts a streaming request and returns all events. It fails
// the test if the stream does not end cleanly.
func streamEvents(t *testing.T, hs *httptest.Server, path, body string) []string {
	t.Helper()
	resp, err := send(t, context.Background(), hs, http.MethodPost, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	evs, err := newSSEReader(resp.Body).all()
	if err != nil {
		t.Fatalf("reading stream: %v (events so far %q)", err, evs)
	}
	return evs
}

func waitIdle(t *testing.T, s *Server) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v (stats %+v)", err, s.Stats())
	}
	return s.Stats()
}
