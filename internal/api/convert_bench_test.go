package api_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"aigateway/internal/mockllm"
)

// benchmarkConverted measures one row of loadbench -matrix in process: a
// client of one inbound API streaming 20 chunks from the deployment model
// (of messagesModels, or "chat" for the OpenAI-compatible one). Client,
// gateway and mock share the process, so compare rows with each other (and
// with BenchmarkChatStream), and profile with -cpuprofile to see where the
// gateway's share goes.
func benchmarkConverted(b *testing.B, client, model string) {
	g := startGateway(b, gatewayOptions{mock: mockllm.Options{Chunks: 20}, extraModels: messagesModels})
	var path, body string
	switch client {
	case "chat":
		path, body = "/v1/chat/completions", `{"model":"`+model+`","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Write a short greeting."}]}`
	case "messages":
		path, body = "/v1/messages", `{"model":"`+model+`","stream":true,"max_tokens":1024,"system":"Be brief.","messages":[{"role":"user","content":"Write a short greeting."}]}`
	case "responses":
		path, body = "/v1/responses", `{"model":"`+model+`","stream":true,"store":false,"instructions":"Be brief.","input":"Write a short greeting."}`
	case "gemini":
		path, body = "/v1beta/models/"+model+":streamGenerateContent?alt=sse", `{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"Write a short greeting."}]}]}`
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer hc.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 32<<10)
		for pb.Next() {
			resp, err := hc.Post(g.URL+path, "application/json", bytes.NewReader([]byte(body)))
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

func BenchmarkStreamChatFromAnthropic(b *testing.B)     { benchmarkConverted(b, "chat", "claude") }
func BenchmarkStreamMessagesFromAnthropic(b *testing.B) { benchmarkConverted(b, "messages", "claude") }
func BenchmarkStreamResponsesFromAnthropic(b *testing.B) {
	benchmarkConverted(b, "responses", "claude")
}
func BenchmarkStreamGeminiFromAnthropic(b *testing.B) { benchmarkConverted(b, "gemini", "claude") }
func BenchmarkStreamChatFromOpenAI(b *testing.B)      { benchmarkConverted(b, "chat", "chat") }
func BenchmarkStreamResponsesFromOpenAI(b *testing.B) { benchmarkConverted(b, "responses", "chat") }
