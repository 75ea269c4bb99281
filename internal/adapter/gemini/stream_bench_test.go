package gemini

import (
	"fmt"
	"strings"
	"testing"

	"aigateway/internal/sse"
)

// benchEvents is a 20-chunk text stream as Gemini (and mockllm) sends it.
func benchEvents() []sse.Event {
	var evs []sse.Event
	for i := range 20 {
		evs = append(evs, sse.Event{Data: fmt.Appendf(nil, `{"candidates":[{"content":{"role":"model","parts":[{"text":"word%d "}]},"index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":%d,"totalTokenCount":%d},"modelVersion":"gemini-2.5-flash","responseId":"resp-%s"}`, i, i+1, i+13, strings.Repeat("x", 20))})
	}
	evs = append(evs, sse.Event{Data: []byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":20,"totalTokenCount":32},"modelVersion":"gemini-2.5-flash","responseId":"resp-xxxxxxxxxxxxxxxxxxxx"}`)})
	return evs
}

// BenchmarkTranslateStream measures one 20-chunk stream through the
// translator, usage chunk included.
func BenchmarkTranslateStream(b *testing.B) {
	evs := benchEvents()
	b.ReportAllocs()
	for b.Loop() {
		t := NewTranslator("m", true, 1)
		for _, ev := range evs {
			if _, err := t.Event(ev); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := t.End(); err != nil {
			b.Fatal(err)
		}
	}
}
