package mockllm

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const gemini3Generate = "/v1beta/models/gemini-3-pro-preview:generateContent"

// firstCallSignature returns the thoughtSignature of the reply's first
// functionCall part.
func firstCallSignature(t *testing.T, b []byte) string {
	t.Helper()
	var r struct {
		Candidates []struct {
			Content geminiContent `json:"content"`
		} `json:"candidates"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	for _, p := range r.Candidates[0].Content.Parts {
		if p.FunctionCall != nil {
			return p.ThoughtSignature
		}
	}
	t.Fatalf("no functionCall in %s", b)
	return ""
}

// secondTurn is the request that answers the call: the model content
// carries sig on its first functionCall ("" for none), then the results.
func secondTurn(sig string) string {
	call := `{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}`
	if sig != "" {
		call += `,"thoughtSignature":"` + sig + `"`
	}
	return `{"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]},
		{"role":"model","parts":[` + call + `},{"functionCall":{"name":"noop","args":{}}}]},
		{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"18C"}}},
			{"functionResponse":{"name":"noop","response":{"output":"ok"}}}]}]}`
}

const toolCallDirective = `{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}},{"name":"noop","arguments":{}}]}`

func TestGemini3SignsAndChecks(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	resp, b := fetch(t, hs, http.MethodPost, gemini3Generate, geminiBody+"}", "X-Mock", toolCallDirective)
	if resp.StatusCode != 200 {
		t.Fatalf("first turn: %d %s", resp.StatusCode, b)
	}
	issued := firstCallSignature(t, b)
	if raw, err := base64.StdEncoding.DecodeString(issued); err != nil || len(raw) != signatureSize {
		t.Fatalf("issued signature %q: %d bytes, %v; want %d opaque bytes in base64", issued, len(raw), err, signatureSize)
	}
	resp, b = fetch(t, hs, http.MethodPost, gemini3Generate, geminiBody+"}", "X-Mock", toolCallDirective)
	if again := firstCallSignature(t, b); resp.StatusCode != 200 || again == issued {
		t.Errorf("a second reply has the signature %q of the first", again)
	}

	missing := `{"error":{"code":400,"message":"Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, ` +
		`and missing thought_signature may lead to degraded model performance. Additional data, function call ` + "`default_api:get_weather`" +
		` , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.","status":"INVALID_ARGUMENT"}}` + "\n"
	corrupted := `{"error":{"code":400,"message":"Corrupted thought signature.","status":"INVALID_ARGUMENT"}}` + "\n"
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"the issued signature", secondTurn(issued), 200, ""},
		{"no signature", secondTurn(""), 400, missing},
		{"another signature", secondTurn(mockSignature(99)), 400, corrupted},
		{"Google's skip value", secondTurn("skip_thought_signature_validator"), 200, ""},
		{"Google's other skip value", secondTurn("context_engineering_is_the_way_to_go"), 200, ""},
		{"an unsigned call of an earlier turn", secondTurn("")[:len(secondTurn(""))-2] +
			`,{"role":"model","parts":[{"text":"18C."}]},{"role":"user","parts":[{"text":"Thanks."}]}]}`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := post(t, hs, gemini3Generate, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.want != "" {
				if d := cmp.Diff(tc.want, string(b)); d != "" {
					t.Errorf("body (-want +got):\n%s", d)
				}
			}
		})
	}
	t.Run("other models check nothing", func(t *testing.T) {
		if resp, b := post(t, hs, geminiGenerate, secondTurn("")); resp.StatusCode != 200 {
			t.Errorf("status %d: %s", resp.StatusCode, b)
		}
	})
	t.Run("stream", func(t *testing.T) {
		resp, b := post(t, hs, "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", secondTurn(""))
		if resp.StatusCode != 400 || string(b) != missing {
			t.Errorf("status %d: %s", resp.StatusCode, b)
		}
	})
	waitIdle(t, s)
}

// The directive's thought_signature is issued like the mock's own.
func TestGemini3DirectiveSignature(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	d := `{"thought_signature":"c2lnLTE=","tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}`
	resp, b := fetch(t, hs, http.MethodPost, gemini3Generate, geminiBody+"}", "X-Mock", d)
	if resp.StatusCode != 200 || firstCallSignature(t, b) != "c2lnLTE=" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if resp, b := post(t, hs, gemini3Generate, secondTurn("c2lnLTE=")); resp.StatusCode != 200 {
		t.Errorf("the directive's signature was refused: %d %s", resp.StatusCode, b)
	}
}

func TestSignaturesForgetTheOldest(t *testing.T) {
	var s signatures
	for i := range maxIssued + 1 {
		s.add(mockSignature(int64(i)))
	}
	if s.has(mockSignature(0)) || !s.has(mockSignature(1)) || !s.has(mockSignature(maxIssued)) {
		t.Error("signatures should keep the last maxIssued")
	}
}
