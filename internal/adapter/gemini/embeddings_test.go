package gemini

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"aigateway/internal/adapter"
)

// TestEmbeddingsFixture converts the request of openai-embeddings.json and
// a Gemini reply carrying its vectors, and expects the fixture's response.
func TestEmbeddingsFixture(t *testing.T) {
	var fx struct {
		Request  json.RawMessage `json:"request"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(readTestdata(t, "openai-embeddings.json"), &fx); err != nil {
		t.Fatal(err)
	}
	up, b64, err := ConvertEmbeddingsRequest(fx.Request, "gemini-embedding-001")
	if err != nil {
		t.Fatal(err)
	}
	if b64 {
		t.Error("base64Output for encoding_format float")
	}
	wantUp := `{"requests":[
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"first text"}]},"outputDimensionality":4},
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"second text"}]},"outputDimensionality":4}]}`
	if d := diffJSON(t, []byte(wantUp), up); d != "" {
		t.Errorf("upstream request (-want +got):\n%s", d)
	}
	reply := `{"embeddings":[{"values":[0.0123,-0.0456,0.0789,-0.0012]},{"values":[-0.0321,0.0654,-0.0987,0.0021]}],
		"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}}`
	got, usage, err := ConvertEmbeddingsResponse([]byte(reply), "text-embedding-3-small", false)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffJSON(t, fx.Response, got); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}
	if usage != (adapter.Usage{PromptTokens: 4, TotalTokens: 4}) {
		t.Errorf("usage %+v", usage)
	}
}

func TestEmbeddingsRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		model   string
		want    string
		wantB64 bool
	}{
		{"string input, model already prefixed, base64", `{"model":"e","input":"hello","encoding_format":"base64","user":"u"}`, "models/text-embedding-004",
			`{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"hello"}]}}]}`, true},
		{"array input keeps order", `{"model":"e","input":["a","b","c"]}`, "m",
			`{"requests":[{"model":"models/m","content":{"parts":[{"text":"a"}]}},{"model":"models/m","content":{"parts":[{"text":"b"}]}},{"model":"models/m","content":{"parts":[{"text":"c"}]}}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, b64, err := ConvertEmbeddingsRequest([]byte(tt.body), tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if b64 != tt.wantB64 {
				t.Errorf("base64Output %v, want %v", b64, tt.wantB64)
			}
			if d := diffJSON(t, []byte(tt.want), got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestEmbeddingsRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, wantParam string
	}{
		{"token array", `{"model":"e","input":[1,2,3]}`, "input"},
		{"array of token arrays", `{"model":"e","input":[[1,2],[3]]}`, "input"},
		{"missing input", `{"model":"e"}`, "input"},
		{"empty array", `{"model":"e","input":[]}`, "input"},
		{"empty string in the array", `{"model":"e","input":["a",""]}`, "input[1]"},
		{"mixed array", `{"model":"e","input":["a",1]}`, "input"},
		{"encoding_format", `{"model":"e","input":"a","encoding_format":"int8"}`, "encoding_format"},
		{"dimensions", `{"model":"e","input":"a","dimensions":0}`, "dimensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ConvertEmbeddingsRequest([]byte(tt.body), "m")
			if err == nil {
				t.Fatal("no error")
			}
			ae := asAdapterError(t, err)
			if ae.Status != 400 || ae.Err.Param != tt.wantParam {
				t.Errorf("got %d param %q, want 400 %q (%s)", ae.Status, ae.Err.Param, tt.wantParam, ae.Err.Message)
			}
		})
	}
	// Token arrays get a message that says why.
	_, _, err := ConvertEmbeddingsRequest([]byte(`{"input":[1]}`), "m")
	if ae := asAdapterError(t, err); ae.Err.Code != "unsupported_parameter" {
		t.Errorf("token array code %q, want unsupported_parameter", ae.Err.Code)
	}
}

// TestEmbeddingsBase64 decodes the base64 output back to float32 and
// compares it with the vectors Gemini sent, index by index.
func TestEmbeddingsBase64(t *testing.T) {
	vectors := [][]float64{{0.5, -1.25, 3.0e-7}, {42, 0}, {}}
	var reply struct {
		Embeddings []struct {
			Values []float64 `json:"values"`
		} `json:"embeddings"`
	}
	for _, v := range vectors {
		reply.Embeddings = append(reply.Embeddings, struct {
			Values []float64 `json:"values"`
		}{v})
	}
	got, usage, err := ConvertEmbeddingsResponse(jsonOf(t, reply), "client-model", true)
	if err != nil {
		t.Fatal(err)
	}
	if usage != (adapter.Usage{}) {
		t.Errorf("usage %+v, want zero without usageMetadata", usage)
	}
	var out struct {
		Object string `json:"object"`
		Model  string `json:"model"`
		Data   []struct {
			Object    string `json:"object"`
			Index     int    `json:"index"`
			Embedding string `json:"embedding"`
		} `json:"data"`
		Usage map[string]int `json:"usage"`
	}
	if err := json.Unmarshal(got, &out); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if out.Object != "list" || out.Model != "client-model" || len(out.Data) != len(vectors) {
		t.Fatalf("got %s", got)
	}
	if out.Usage["prompt_tokens"] != 0 || out.Usage["total_tokens"] != 0 || len(out.Usage) != 2 {
		t.Errorf("usage %v", out.Usage)
	}
	for i, d := range out.Data {
		if d.Index != i || d.Object != "embedding" {
			t.Errorf("data[%d]: index %d object %q", i, d.Index, d.Object)
		}
		raw, err := base64.StdEncoding.DecodeString(d.Embedding)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 4*len(vectors[i]) {
			t.Fatalf("data[%d]: %d bytes for %d floats", i, len(raw), len(vectors[i]))
		}
		for j, want := range vectors[i] {
			f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			if f != float32(want) {
				t.Errorf("data[%d][%d] = %v, want %v", i, j, f, float32(want))
			}
		}
	}
}

func TestEmbeddingsResponseErrors(t *testing.T) {
	for _, body := range []string{`{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, `not json`, `{"embeddings":[{"values":["x"]}]}`} {
		if _, _, err := ConvertEmbeddingsResponse([]byte(body), "m", true); err == nil {
			t.Errorf("%s: no error", body)
		} else {
			asAdapterError(t, err)
		}
	}
}
