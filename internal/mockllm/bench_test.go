package mockllm

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// discardWriter is a minimal flushing ResponseWriter, so the benchmarks
// measure the handler and not a recorder.
type discardWriter struct {
	h http.Header
	n int64
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Flush()                      {}
func (w *discardWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func benchHandler(b *testing.B, body string) {
	s := New(Options{Chunks: 20})
	rd := bytes.NewReader([]byte(body))
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", io.NopCloser(rd))
	req.ContentLength = int64(len(body))
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset([]byte(body))
		clear(w.h)
		s.ServeHTTP(w, req)
	}
	b.SetBytes(w.n / int64(b.N))
}

// BenchmarkChatStream measures the stream handler alone: 20 content chunks
// plus role, finish, usage and [DONE] events.
func BenchmarkChatStream(b *testing.B) {
	benchHandler(b, `{"model":"gpt-test","messages":[{"role":"user","content":"hello there"}],"stream":true,"stream_options":{"include_usage":true}}`)
}

func BenchmarkChatNonStream(b *testing.B) {
	benchHandler(b, `{"model":"gpt-test","messages":[{"role":"user","content":"hello there"}]}`)
}

// BenchmarkChatStreamHTTP runs whole streams over loopback HTTP with
// parallel clients, as in the gateway's load benchmark.
func BenchmarkChatStreamHTTP(b *testing.B) {
	hs := httptest.NewServer(New(Options{Chunks: 20}))
	defer hs.Close()
	client := hs.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	body := `{"model":"gpt-test","messages":[{"role":"user","content":"hello there"}],"stream":true}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
