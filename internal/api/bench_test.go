package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"aigateway/internal/ledger"
	"aigateway/internal/limits"
	"aigateway/internal/mockllm"
)

// benchmarkChat measures the whole hot path over real HTTP: client ->
// gateway -> mock upstream and back, with the metrics on as in production. Compare with go test -bench and
// benchstat; the CPU comparison against a bare reverse proxy is
// cmd/loadbench.
func benchmarkChat(b *testing.B, stream bool) {
	benchmarkGateway(b, stream, gatewayOptions{mock: mockllm.Options{Chunks: 20}, metrics: true})
}

// benchmarkGateway sends the benchmark's requests through a gateway with
// options o, with the key of header when given.
func benchmarkGateway(b *testing.B, stream bool, o gatewayOptions, header ...string) {
	g := startGateway(b, o)
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
			req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := client.Do(req)
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

// The same with a gateway key that has every limit and a budget, prices,
// and the SQLite ledger: what keys and the ledger add to each request.
func BenchmarkChatKeysLedgerNonStream(b *testing.B) { benchmarkKeysLedger(b, false) }
func BenchmarkChatKeysLedgerStream(b *testing.B)    { benchmarkKeysLedger(b, true) }

func benchmarkKeysLedger(b *testing.B, stream bool) {
	store, err := ledger.OpenSQLite(filepath.Join(b.TempDir(), "usage.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	w := ledger.NewWriter(store, ledger.WriterOptions{})
	defer w.Close(context.Background()) //nolint:errcheck // a benchmark
	benchmarkGateway(b, stream, gatewayOptions{mock: mockllm.Options{Chunks: 20},
		top:          keysTop(`"rpm": 100000000, "tpm": 100000000000, "max_concurrency": 100000, "budget_usd": 100000000`),
		chatDefaults: `"price": {"input": 2.5, "output": 10, "cached_input": 1.25},`,
		limiter:      limits.NewMemory(limits.MemoryOptions{}), ledger: w}, "Authorization", "Bearer "+teamKey)
}
