package messages

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// capture is a client request captured from a real client (see
// testdata/clients): its path, its anthropic-* headers and its body.
type capture struct {
	Name    string
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func captures(t testing.TB) []capture {
	t.Helper()
	files, err := filepath.Glob("testdata/clients/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	var out []capture
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c capture
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		c.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		out = append(out, c)
	}
	return out
}

// parse parses body as a request to path with headers.
func parse(t testing.TB, path string, headers map[string]string, body []byte) *Request {
	t.Helper()
	hr := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range headers {
		hr.Header.Set(k, v)
	}
	parse := Dialect{}.Parse
	if strings.HasSuffix(path, "/count_tokens") {
		parse = Dialect{}.ParseCount
	}
	req, err := parse(body, hr)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return req.(*Request)
}

// golden compares got (JSON, or SSE text) with testdata/golden/name, or
// rewrites it with -update. JSON is indented for review.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if json.Valid(got) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, got, "", "  "); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
		got = buf.Bytes()
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// sseData returns the data of each event of an SSE file, [DONE] excluded.
func sseData(t testing.TB, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(raw), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
			out = append(out, []byte(d))
		}
	}
	return out
}

// runStream feeds chunks to a stream for t and returns the events as SSE
// text. Each chunk is passed in a buffer that is overwritten afterwards, so
// that a converter keeping a reference to it is caught.
func runStream(t testing.TB, s inbound.Stream, chunks [][]byte) []adapter.Chunk {
	t.Helper()
	var out []adapter.Chunk
	keep := func(cs []adapter.Chunk) {
		for _, c := range cs {
			out = append(out, adapter.Chunk{Event: bytes.Clone(c.Event), Data: bytes.Clone(c.Data), Comment: c.Comment})
		}
	}
	for _, c := range chunks {
		buf := bytes.Clone(c)
		cs, err := s.Chunk(buf)
		if err != nil {
			t.Fatalf("Chunk(%s): %v", c, err)
		}
		keep(cs)
		for i := range buf {
			buf[i] = 'x'
		}
	}
	keep(s.End())
	return out
}

func sseText(events []adapter.Chunk) []byte {
	var b bytes.Buffer
	for _, e := range events {
		b.WriteString("event: ")
		b.Write(e.Event)
		b.WriteString("\ndata: ")
		b.Write(e.Data)
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

var (
	chatTarget   = inbound.Target{Upstream: adapter.ProtocolChat, Deployment: "openai-east"}
	geminiTarget = inbound.Target{Upstream: adapter.ProtocolGemini, Deployment: "gemini-1"}
	textTarget   = inbound.Target{Upstream: adapter.ProtocolText, Deployment: "local"}
)
