package responses

import (
	"fmt"
	"testing"
)

// BenchmarkStream converts a twenty-chunk text stream (the loadbench
// shape) per iteration, Parse and End included.
func BenchmarkStream(b *testing.B) {
	chunks := make([][]byte, 0, 22)
	chunks = append(chunks, []byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`))
	for i := range 20 {
		chunks = append(chunks, []byte(fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word%d "},"finish_reason":null}]}`, i)))
	}
	chunks = append(chunks, []byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
		[]byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":20,"total_tokens":25}}`))
	d := New(Options{Store: NewMemoryStore(MemoryOptions{})})
	body := []byte(`{"model":"m","stream":true,"store":false,"input":"Say something."}`)
	b.ReportAllocs()
	for b.Loop() {
		q, err := d.Parse(body, nil)
		if err != nil {
			b.Fatal(err)
		}
		s := q.NewStream(openaiTarget)
		n := 0
		for _, c := range chunks {
			evs, _ := s.Chunk(c)
			n += len(evs)
		}
		n += len(s.End())
		if n < 25 {
			b.Fatalf("%d events", n)
		}
	}
}

// BenchmarkCustomInput streams a custom tool call's arguments in small
// fragments.
func BenchmarkCustomInput(b *testing.B) {
	d := New(Options{Store: NewMemoryStore(MemoryOptions{})})
	q, err := d.Parse([]byte(streamBody), nil)
	if err != nil {
		b.Fatal(err)
	}
	var chunks [][]byte
	chunks = append(chunks, []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"apply_patch","arguments":""}}]}}]}`))
	for range 50 {
		chunks = append(chunks, []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"+line \\\"q\\\"\\n"}}]}}]}`))
	}
	b.ReportAllocs()
	for b.Loop() {
		s := q.NewStream(openaiTarget)
		for _, c := range chunks {
			_, _ = s.Chunk(c)
		}
		_ = s.End()
	}
}
