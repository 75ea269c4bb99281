package api_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"aigateway/internal/mockllm"
)

// benchmarkChat measures the whole hot path over real HTTP: client ->
// gateway -> mock upstream and back. Compare with go test -bench and
// benchstat; the CPU comparison against a bare reverse proxy is
// cmd/loadbench.
func benchmarkChat(b *testing.B, stream bool) {
	g := startGateway(b, gatewayOptions{mock: mockllm.Options{Chunks: 20}})
	body := []byte(`{"model":"chat","stream":false,"messages":[{"role":"user","content":"Write a short greeting."}],"temperature":0.7}`)
	if stream {
		body = bytes.Replace(body, []byte(`"stream":false`), []byte(`"stream":true`), 1)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 32<<10)
		for pb.Next() {
			resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.CopyBuffer(io.Discard, resp.Body, buf)
			resp.Body.Close()
			if resp.StatusCode != 200 || n == 0 {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}

func BenchmarkChatNonStream(b *testing.B) { benchmarkChat(b, false) }
func BenchmarkChatStream(b *testing.B)    { benchmarkChat(b, true) }
