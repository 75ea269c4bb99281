package geminiapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// fuzzTargets are the deployments a request can be converted for: every
// upstream protocol an adapter speaks.
var fuzzTargets = []inbound.Target{
	{Upstream: adapter.ProtocolChat, Deployment: "openai-1", MaxOutputTokens: 100},
	{Upstream: adapter.ProtocolMessages, Deployment: "anthropic-1"},
	{Upstream: adapter.ProtocolGemini, Deployment: "gemini-1"},
	{Upstream: adapter.ProtocolText, Deployment: "text-1"},
}

// fuzzFiles returns the contents of the files in testdata matching
// pattern, except the golden outputs (*.chat-*, *.gemini.*).
func fuzzFiles(f *testing.F, pattern string) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	var out [][]byte
	for _, name := range files {
		if strings.Contains(name, ".chat-") || strings.Contains(name, ".gemini.") {
			continue
		}
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, raw)
	}
	if len(out) == 0 {
		f.Fatalf("no files match %s", pattern)
	}
	return out
}

// fuzzRequestBodies are the Gemini requests in testdata.
func fuzzRequestBodies(f *testing.F) [][]byte {
	var out [][]byte
	for _, b := range fuzzFiles(f, "*.json") {
		if bytes.Contains(b, []byte(`"contents"`)) {
			out = append(out, b)
		}
	}
	return out
}

// fuzzStreams returns the Chat Completions streams in testdata as chunk
// JSONs joined by newlines (one chunk per line).
func fuzzStreams(f *testing.F) [][]byte {
	var out [][]byte
	for _, b := range fuzzFiles(f, "*.sse") {
		var chunks [][]byte
		for _, line := range strings.Split(string(b), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				chunks = append(chunks, []byte(d))
			}
		}
		out = append(out, bytes.Join(chunks, []byte("\n")))
	}
	return out
}

// checkNative checks that the spans of a native request lie in its body and
// that rewriting them gives valid JSON, as the adapters do.
func checkNative(t *testing.T, n *adapter.NativeRequest) {
	t.Helper()
	if n == nil {
		t.Fatal("Native() is nil")
	}
	body := n.Body
	type span struct {
		start, end int
		with       string
	}
	var spans []span
	if n.ModelEnd != 0 || n.ModelStart != 0 {
		spans = append(spans, span{n.ModelStart, n.ModelEnd, `"m"`})
	}
	if n.MaxTokensEnd != 0 || n.MaxTokensStart != 0 {
		spans = append(spans, span{n.MaxTokensStart, n.MaxTokensEnd, `1`})
	}
	if len(spans) == 2 && spans[0].start > spans[1].start {
		spans[0], spans[1] = spans[1], spans[0]
	}
	var out []byte
	at := 0
	for _, s := range spans {
		if s.start < at || s.end <= s.start || s.end > len(body) {
			t.Fatalf("native span [%d,%d) out of order or outside a body of %d bytes", s.start, s.end, len(body))
		}
		out = append(append(out, body[at:s.start]...), s.with...)
		at = s.end
	}
	out = append(out, body[at:]...)
	if !json.Valid(out) {
		t.Fatalf("the native body with its spans rewritten is invalid JSON: %q", out)
	}
}

// checkChat converts a parsed request for every target: each body must be
// one openai.Peek accepts, each error an *inbound.Error.
func checkChat(t *testing.T, req inbound.Request) {
	t.Helper()
	_, _ = req.Model(), req.Stream()
	checkNative(t, req.Native())
	if e, ok := req.(inbound.Estimator); ok {
		_ = e.EstimateInputTokens()
	}
	for _, target := range fuzzTargets {
		body, err := req.Chat(target)
		if err != nil {
			var ie *inbound.Error
			if !errors.As(err, &ie) {
				t.Fatalf("Chat(%v): %v is not an *inbound.Error", target.Upstream, err)
			}
			continue
		}
		if !json.Valid(body) {
			t.Fatalf("Chat(%v) is invalid JSON: %q", target.Upstream, body)
		}
		if _, perr := openai.Peek(body); perr != nil {
			t.Fatalf("Chat(%v) is refused by openai.Peek (%s): %q", target.Upstream, perr.Message, body)
		}
	}
}

func checkParseError(t *testing.T, err error) {
	t.Helper()
	var ie *inbound.Error
	if !errors.As(err, &ie) || ie.Status != 400 {
		t.Fatalf("%v is not a 400 *inbound.Error", err)
	}
}

// FuzzParseChat parses arbitrary bodies and converts what ParseGemini
// accepts for every target: nothing may panic, every Chat body is valid
// JSON that openai.Peek accepts, every refusal an *inbound.Error.
func FuzzParseChat(f *testing.F) {
	for _, b := range fuzzRequestBodies(f) {
		f.Add(b, true)
	}
	f.Add([]byte(`{"contents":[{"role":"user","parts":[{"text":"a"},{"inlineData":{"mimeType":"image/png","data":"AA=="}},{"fileData":{"fileUri":"gs://x"}}]},{"role":"model","parts":[{"functionCall":{"id":"1","name":"f","args":{"a":1}},"thoughtSignature":"s"},{"text":"t","thought":true}]},{"role":"user","parts":[{"functionResponse":{"id":"1","name":"f","response":{"output":"o"}}}]}],"systemInstruction":{"parts":[{"text":"s"}]},"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"INTEGER"}}}},{"name":"g","parametersJsonSchema":{"type":"object"}}]},{"googleSearch":{}}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}},"generationConfig":{"maxOutputTokens":10,"temperature":1,"topP":0.5,"topK":3,"stopSequences":["x"],"responseMimeType":"application/json","responseSchema":{"type":"STRING"},"thinkingConfig":{"includeThoughts":true,"thinkingBudget":100}}}`), false)
	f.Add([]byte(`{"contents":[{"parts":"x"},5,{"role":"model","parts":[null,{"functionCall":7}]}],"tools":"x","toolConfig":5,"systemInstruction":"s","generationConfig":{"maxOutputTokens":"9","temperature":[]}}`), false)
	f.Add([]byte(`{"contents":[{"parts":[{"text":"\ud800"}]}],"generationConfig":{"maxOutputTokens":1e400,"temperature":9,"topP":-1,"candidateCount":1000}}`), true)
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		req, err := ParseGemini(body, "client-model", stream)
		if err != nil {
			checkParseError(t, err)
			return
		}
		checkChat(t, req)
	})
}

// FuzzParseCount is FuzzParseChat for countTokens requests.
func FuzzParseCount(f *testing.F) {
	for _, b := range fuzzRequestBodies(f) {
		f.Add(b)
		f.Add(append(append([]byte(`{"generateContentRequest":`), b[:len(b)-1]...), `,"model":"models/x"}}`...))
	}
	f.Add([]byte(`{"generateContentRequest":{"model":5,"contents":"x","generationConfig":{"maxOutputTokens":-1}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseCountTokens(body, "client-model")
		if err != nil {
			checkParseError(t, err)
			return
		}
		checkChat(t, req)
		if !json.Valid(Dialect{}.CountAnswer(req.(inbound.Estimator).EstimateInputTokens())) {
			t.Fatal("CountAnswer is invalid JSON")
		}
	})
}

// fuzzRequests parses the requests in testdata, with and without thoughts.
func fuzzRequests(f *testing.F) []inbound.Request {
	var out []inbound.Request
	for _, b := range fuzzRequestBodies(f) {
		req, err := ParseGemini(b, "client-model", true)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, req)
	}
	return out
}

// FuzzResponse converts arbitrary bytes and mutated real Chat answers for
// a request and a target: no panic, valid JSON or an error.
func FuzzResponse(f *testing.F) {
	reqs := fuzzRequests(f)
	for i, a := range fuzzFiles(f, "*response.json") {
		f.Add(a, uint8(i))
	}
	for i, s := range fuzzStreams(f) {
		f.Add(bytes.SplitN(s, []byte("\n"), 2)[0], uint8(i))
	}
	f.Add([]byte(`{"id":5,"choices":[{"index":7,"message":{"content":7,"tool_calls":[{"id":null,"function":{"name":{},"arguments":"{\"a\":"}}],"reasoning_content":[1]},"finish_reason":9},{"index":-1}],"usage":{"prompt_tokens":-5,"completion_tokens":1e30,"prompt_tokens_details":{"cached_tokens":"x"}}}`), uint8(1))
	f.Add([]byte(`{"choices":[]}`), uint8(2))
	f.Fuzz(func(t *testing.T, chat []byte, pick uint8) {
		req := reqs[int(pick)%len(reqs)]
		target := fuzzTargets[int(pick/16)%len(fuzzTargets)]
		out, err := req.Response(target, chat)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Response is invalid JSON: %q", out)
		}
	})
}

// FuzzStream feeds a stream converter an arbitrary sequence of chunk JSONs
// (the input split at newlines): no panic, every emitted chunk a JSON
// object.
func FuzzStream(f *testing.F) {
	reqs := fuzzRequests(f)
	for i, s := range fuzzStreams(f) {
		f.Add(s, uint8(i))
	}
	f.Add(bytes.Join([][]byte{
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"a"}}]}`),
		[]byte(`{"id":"c","choices":[{"index":3,"delta":{"tool_calls":[{"index":3,"id":"x","function":{"name":"f","arguments":"{"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":1000000000,"delta":{"content":"other choice"}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"t","tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":3,"delta":{"tool_calls":[{"index":3,"function":{"arguments":"\"a\":1}"}}]},"finish_reason":"tool_calls"}]}`),
		[]byte(`{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}`),
	}, []byte("\n")), uint8(1))
	f.Add([]byte("{}\n[]\nnull\n\"x\"\n{\"choices\":5}\n{\"error\":{\"message\":\"m\"}}"), uint8(0))
	f.Fuzz(func(t *testing.T, input []byte, pick uint8) {
		req := reqs[int(pick)%len(reqs)]
		target := fuzzTargets[int(pick/16)%len(fuzzTargets)]
		s := req.NewStream(target)
		check := func(cs []adapter.Chunk) {
			for _, c := range cs {
				if c.Comment {
					continue
				}
				if d := bytes.TrimSpace(c.Data); !json.Valid(d) || len(d) == 0 || d[0] != '{' {
					t.Fatalf("chunk is not a JSON object: %q", c.Data)
				}
			}
		}
		for _, chunk := range bytes.Split(input, []byte("\n")) {
			cs, err := s.Chunk(chunk)
			if err != nil {
				return
			}
			check(cs)
		}
		check(s.End())
		_ = s.Usage()
	})
}
