package responses

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/sse"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var openaiTarget = inbound.Target{Upstream: adapter.ProtocolChat, Deployment: "openai-1"}

// newTestDialect returns a dialect with a fixed clock and ids test1,
// test2, ...
func newTestDialect(store Store) *Dialect {
	n := 0
	return New(Options{
		Store: store,
		Now:   func() time.Time { return time.Unix(1800000000, 0) },
		NewID: func() string { n++; return fmt.Sprintf("test%d", n) },
	})
}

func mustParse(t *testing.T, d *Dialect, body string) *request {
	t.Helper()
	q, err := d.Parse([]byte(body), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return q.(*request)
}

// golden compares got with testdata/golden/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
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
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// readChunks returns the data of the events of a Chat Completions SSE file,
// without [DONE].
func readChunks(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := sse.NewReader(bytes.NewReader(b), 0)
	var out [][]byte
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if sse.IsDone(ev.Data) {
			break
		}
		out = append(out, append([]byte(nil), ev.Data...))
	}
	return out
}

// runStream feeds chunks to a Stream and returns the SSE text it yields.
func runStream(t testing.TB, s inbound.Stream, chunks [][]byte) []byte {
	var out []byte
	for _, c := range chunks {
		evs, err := s.Chunk(c)
		if err != nil {
			t.Fatalf("Chunk(%s): %v", c, err)
		}
		for _, ev := range evs {
			out = sse.AppendEvent(out, ev.Event, ev.Data)
		}
	}
	for _, ev := range s.End() {
		out = sse.AppendEvent(out, ev.Event, ev.Data)
	}
	return out
}

// checkStream checks the rules every Responses stream keeps: each event's
// type is its name, sequence numbers count up from 0, every item that is
// added is done, one item is open at a time, and the last event (only
// the last) is terminal. It returns the terminal event's data.
func checkStream(t *testing.T, stream []byte) gjson.Result {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(stream), 0)
	var seq int64
	var last gjson.Result
	open := int64(-1)
	terminal := false
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if terminal {
			t.Fatalf("event after the terminal event: %s", ev.Data)
		}
		if !gjson.ValidBytes(ev.Data) {
			t.Fatalf("event data is not JSON: %s", ev.Data)
		}
		d := gjson.ParseBytes(ev.Data)
		if d.Get("type").Str != string(ev.Name) {
			t.Fatalf("event %q has type %q", ev.Name, d.Get("type").Str)
		}
		if got := d.Get("sequence_number").Int(); got != seq || !d.Get("sequence_number").Exists() {
			t.Fatalf("event %q has sequence_number %d, want %d", ev.Name, got, seq)
		}
		seq++
		switch string(ev.Name) {
		case "response.output_item.added":
			if open >= 0 {
				t.Fatalf("item %d added while item %d is open", d.Get("output_index").Int(), open)
			}
			open = d.Get("output_index").Int()
		case "response.output_item.done":
			if d.Get("output_index").Int() != open {
				t.Fatalf("item %d done while item %d is open", d.Get("output_index").Int(), open)
			}
			open = -1
		case "response.completed", "response.incomplete", "response.failed":
			terminal = true
		}
		last = d
	}
	if !terminal {
		t.Fatalf("the stream does not end with response.completed, .incomplete or .failed")
	}
	if open >= 0 {
		t.Fatalf("item %d is never done", open)
	}
	return last
}

// eventsOf returns the events of an SSE text, as "name data" lines.
func eventsOf(stream []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(nil, 1<<24)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			out = append(out, name+" "+line[len("data: "):])
		}
	}
	return out
}

var inboundErr503 = inbound.Error{Status: 503, Type: "service_unavailable_error", Message: "overloaded"}
