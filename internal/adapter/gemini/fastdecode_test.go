package gemini

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"aigateway/internal/adapter"
)

// fastSeeds are stream events of the shapes fastResponse reads and of the
// shapes it must leave to encoding/json.
func fastSeeds() [][]byte {
	var seeds [][]byte
	for _, name := range []string{"gemini-stream-toolcalls.sse", "gemini-streamGenerateContent-functionCall.sse", "gemini-streamGenerateContent-text.sse"} {
		for line := range bytes.SplitSeq(mustRead(name), []byte("\n")) {
			if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				seeds = append(seeds, d)
			}
		}
	}
	for _, s := range []string{
		`{"candidates":[{"content":{"role":"model","parts":[{"text":"w0 "}]},"index":0}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1,"totalTokenCount":2},"modelVersion":"m","responseId":"r"}`,
		`{"candidates":[{"content":{"parts":[{"text":"think","thought":true,"thoughtSignature":"c2ln"},{"text":"a\nb \"q\" \\ \/ \u00e9 \ud83d\ude00 \ud800"}]},"finishReason":"STOP","safetyRatings":[{"x":1}]}],"usageMetadata":{"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}],"thoughtsTokenCount":7,"cachedContentTokenCount":0}}`,
		`{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":3}}`,
		`{"candidates":[],"modelVersion":"","responseId":"x","createTime":"2025-01-01"}`,
		`{"Candidates":[{"content":{"parts":[{"text":"a"}]}}]}`,
		`{"candidates":[{"content":{"parts":[{"TEXT":"a","text":"b"}]}}]}`,
		`{"candidates":[{"content":{"parts":[{"text":"a","text":"b"}]}}]}`,
		`{"candidates":[{"content":{"parts":[{"text":"a"}]},"content":{"role":"model"}}]}`,
		`{"candidates":[{"index":1.0}],"usageMetadata":{"totalTokenCount":1e3}}`,
		`{"candidates":[{"index":null,"content":null}],"modelVersion":null}`,
		`{"candidates":[{"content":{"parts":[{"text":"bad \xff utf8"}]}}]}`,
		`{"candidates":[{"content":{"parts":[{"te\u0078t":"a"}]}}]}`,
		`{"candidates":[{"content":{"parts":[{"ſext":"a"}]},"ındex":2}]}`,
		`{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}`,
		`{"candidates":[{"index":99999999999999999999}]}`,
		`{"candidates":[{"content":{"parts":[{"thought":"yes"}]}}]}`,
		`[{"candidates":[]}]`, `"x"`, `{}`, `{"candidates":{}}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// Where fastResponse reads an event, it reads exactly what encoding/json
// decodes; the real text events take the fast path.
func TestFastResponse(t *testing.T) {
	fast := 0
	for _, s := range fastSeeds() {
		if compareFast(t, s) {
			fast++
		}
	}
	if fast < 8 {
		t.Errorf("%d seeds took the fast path, want the text events to", fast)
	}
	for _, s := range []string{
		`{"candidates":[{"content":{"role":"model","parts":[{"text":"w0 "}]},"index":0}],"usageMetadata":{"promptTokenCount":1},"modelVersion":"m","responseId":"r"}`,
		`{"candidates":[{"content":{"parts":[{"text":"a\nb \u00e9","thought":true}]},"finishReason":"STOP"}]}`,
	} {
		var r generateContentResponse
		if !fastResponse([]byte(s), &r) {
			t.Errorf("fastResponse(%s) fell back to encoding/json", s)
		}
	}
}

// compareFast checks fastResponse against encoding/json on data and
// reports whether it took the fast path.
func compareFast(t *testing.T, data []byte) bool {
	t.Helper()
	var slow generateContentResponse
	slowErr := adapter.DecodeJSON(data, &slow)
	var got generateContentResponse
	err := decodeResponse(data, &got)
	if (err == nil) != (slowErr == nil) {
		t.Fatalf("%q: decodeResponse error %v, encoding/json %v", data, err, slowErr)
	}
	if slowErr != nil {
		return false
	}
	if !reflect.DeepEqual(got, slow) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(slow)
		t.Fatalf("%q:\nfast %s\nslow %s", data, g, w)
	}
	var fast generateContentResponse
	return fastResponse(data, &fast)
}

func FuzzFastResponse(f *testing.F) {
	for _, s := range fastSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareFast(t, data) })
}
