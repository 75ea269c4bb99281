package template

import (
	"encoding/json"
	"net/http"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// TestUpstreamBody checks the exact body the upstream receives.
func TestUpstreamBody(t *testing.T) {
	tests := []struct {
		name        string
		template    string // empty: the README example
		temperature *float64
		maxTokens   *int
		client      string
		want        string
	}{
		{
			name:   "values from the client",
			client: `{"model":"my-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":50,"temperature":0.5}`,
			want:   `{"model":"big-1","input":"Hello","history":[{"role":"user","content":"Hello"}],"params":{"max_new_tokens":50,"temperature":0.5}}`,
		},
		{
			name:        "configured defaults when the client sent none",
			temperature: ptr(0.7), maxTokens: ptr(1024),
			client: `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],"temperature":null}`,
			want:   `{"model":"big-1","input":"Hi","history":[{"role":"user","content":"Hi"}],"params":{"max_new_tokens":1024,"temperature":0.7}}`,
		},
		{
			name:        "client values win over defaults; max_completion_tokens over max_tokens",
			temperature: ptr(0.7), maxTokens: ptr(1024),
			client: `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],"temperature":0,"max_tokens":9,"max_completion_tokens":7}`,
			want:   `{"model":"big-1","input":"Hi","history":[{"role":"user","content":"Hi"}],"params":{"max_new_tokens":7,"temperature":0}}`,
		},
		{
			name:     "sampling placeholders carry the client's values",
			template: `{"p":"{{prompt}}","o":{"top_p":"{{top_p}}","seed":"{{seed}}","pp":"{{presence_penalty}}","fp":"{{frequency_penalty}}"},"s":"seed={{seed}} top_p={{top_p}}"}`,
			client:   `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],"top_p":0.9,"seed":-12345678901,"presence_penalty":-0.5,"frequency_penalty":1.5}`,
			want:     `{"p":"Hi","o":{"top_p":0.9,"seed":-12345678901,"pp":-0.5,"fp":1.5},"s":"seed=-12345678901 top_p=0.9"}`,
		},
		{
			name:     "absent sampling values omit their keys",
			template: `{"p":"{{prompt}}","o":{"top_p":"{{top_p}}","seed":"{{seed}}","pp":"{{presence_penalty}}","fp":"{{frequency_penalty}}"}}`,
			client:   `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],"seed":null}`,
			want:     `{"p":"Hi","o":{}}`,
		},
		{
			name:   "absent values omit their keys",
			client: `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}]}`,
			want:   `{"model":"big-1","input":"Hi","history":[{"role":"user","content":"Hi"}],"params":{}}`,
		},
		{
			name: "prompt with system, developer and turns; messages normalised",
			client: `{"model":"my-llm","messages":[
				{"role":"system","content":"Be brief."},
				{"role":"user","content":[{"type":"text","text":"What is "},{"type":"text","text":"2+2?"}],"name":"bob"},
				{"role":"assistant","content":"4"},
				{"role":"developer","content":"Answer in French."},
				{"role":"user","content":"And 3+3?"}]}`,
			want: `{"model":"big-1","input":"System: Be brief.\n\nAnswer in French.\n\nUser: What is 2+2?\n\nAssistant: 4\n\nUser: And 3+3?\n\nAssistant:",` +
				`"history":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?","name":"bob"},` +
				`{"role":"assistant","content":"4"},{"role":"system","content":"Answer in French."},{"role":"user","content":"And 3+3?"}],"params":{}}`,
		},
		{
			name:     "a lone system message still gets the frame",
			template: `{"p":"{{prompt}}"}`,
			client:   `{"model":"my-llm","messages":[{"role":"system","content":"S"}]}`,
			want:     `{"p":"System: S\n\nAssistant:"}`,
		},
		{
			name:     "interpolated text, escaped, absent values empty",
			template: `{"text":"<s>[INST] {{prompt}} [/INST] t={{temperature}} n={{ max_tokens }} stop={{stop}} u={{user}}|{{model}}"}`,
			client:   `{"model":"my-llm","messages":[{"role":"user","content":"say \"hi\" <&>\n\tnow"}],"temperature":1.25,"stop":["END","\n"],"user":"u1"}`,
			want:     `{"text":"<s>[INST] say \"hi\" <&>\n\tnow [/INST] t=1.25 n= stop=[\"END\",\"\\n\"] u=u1|big-1"}`,
		},
		{
			name:     "nested objects and arrays; literals kept exactly",
			template: `{"a":{"b":[{"c":"{{model}}","d":"{{user}}"},"{{max_tokens}}","{{user}}","x"]},"lit":{"n":[1.50,12345678901234567890,-0.0,1e3],"t":true,"z":null,"s":"<&>"},"stop":"{{stop}}"}`,
			client:   `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"stop":"##"}`,
			want:     `{"a":{"b":[{"c":"big-1"},3,"x"]},"lit":{"n":[1.50,12345678901234567890,-0.0,1e3],"t":true,"z":null,"s":"<&>"},"stop":["##"]}`,
		},
		{
			name:     "a whole object of absent values renders empty",
			template: `{"opts":{"u":"{{user}}","s":"{{stop}}"},"arr":["{{temperature}}"],"m":"{{model}}"}`,
			client:   `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}]}`,
			want:     `{"opts":{},"arr":[],"m":"big-1"}`,
		},
		{
			name:     "key order of the template is kept",
			template: `{"z":1,"a":"{{model}}","m":[2]}`,
			client:   `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}]}`,
			want:     `{"z":1,"a":"big-1","m":[2]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, `{"output":{"text":"ok"}}`)
			})
			o := exampleOptions(api.URL)
			if tt.template != "" {
				o.Body = json.RawMessage(tt.template)
			}
			o.Temperature, o.MaxTokens = tt.temperature, tt.maxTokens
			if _, err := send(newAdapter(t, o), tt.client); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := api.last(t)
			if got.Body != tt.want {
				t.Errorf("upstream body\n got %s\nwant %s", got.Body, tt.want)
			}
			if !json.Valid([]byte(got.Body)) {
				t.Errorf("upstream body is not valid JSON")
			}
			if got.Method != http.MethodPost || got.Path != "/v2/generate" {
				t.Errorf("request %s %s, want POST /v2/generate", got.Method, got.Path)
			}
		})
	}
}

// TestUpstreamHeaders checks the configured headers, the defaults and the
// Accept of each mode.
func TestUpstreamHeaders(t *testing.T) {
	tests := []struct {
		name       string
		stream     bool
		format     string // "" = no stream config
		header     http.Header
		wantAccept string
	}{
		{name: "non-stream", format: "sse", wantAccept: "application/json"},
		{name: "sse stream", stream: true, format: "sse", wantAccept: "text/event-stream"},
		{name: "jsonl stream", stream: true, format: "jsonl", wantAccept: "application/x-ndjson"},
		{name: "synthetic stream", stream: true, wantAccept: "application/json"},
		{name: "configured Accept wins", stream: true, format: "sse", header: http.Header{"Accept": {"*/*"}}, wantAccept: "*/*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") == "application/x-ndjson" {
					w.Header().Set("Content-Type", "application/x-ndjson")
					w.Write([]byte("{\"token\":{\"text\":\"x\"}}\n"))
					return
				}
				if r.Header.Get("Accept") == "application/json" {
					writeJSON(w, 200, `{"output":{"text":"ok"}}`)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				w.Write([]byte("data: {\"token\":{\"text\":\"x\"}}\n\ndata: [DONE]\n\n"))
			})
			o := exampleOptions(api.URL)
			o.Header.Set("X-Custom", "1")
			for k, v := range tt.header {
				o.Header[k] = v
			}
			if tt.format == "" {
				o.Stream = nil
			} else {
				o.Stream.Format = tt.format
				if tt.format == "jsonl" {
					o.Stream.Done = ""
				}
			}
			body := `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}]}`
			if tt.stream {
				body = `{"model":"my-llm","stream":true,"messages":[{"role":"user","content":"Hi"}]}`
			}
			resp, err := send(newAdapter(t, o), body)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if resp.Stream != nil {
				if res := drain(t, resp.Stream); res.err != nil {
					t.Fatalf("stream: %v", res.err)
				}
			}
			h := api.last(t).Header
			for k, want := range map[string]string{
				"Authorization": "Token " + upstreamKey, "Content-Type": "application/json", "X-Custom": "1",
				"Accept": tt.wantAccept, "X-Request-Id": "req_0123456789abcdef",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestStreamBodyMerge checks that stream.body's keys replace and extend the
// body for stream requests only.
func TestStreamBodyMerge(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: [DONE]\n\n"))
	})
	o := exampleOptions(api.URL)
	o.Body = json.RawMessage(`{"stream":false,"m":"{{model}}","p":"{{prompt}}"}`)
	o.Stream.Body = json.RawMessage(`{"extra":{"k":["{{user}}"]},"stream":true}`)
	a := newAdapter(t, o)
	resp, err := send(a, `{"model":"my-llm","stream":true,"user":"u","messages":[{"role":"user","content":"Hi"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, resp.Stream)
	if _, err := send(a, `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}]}`); err == nil {
		t.Fatal("the SSE answer to a non-stream request should fail as non-JSON")
	}
	reqs := api.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests", len(reqs))
	}
	if want := `{"stream":true,"m":"big-1","p":"Hi","extra":{"k":["u"]}}`; reqs[0].Body != want {
		t.Errorf("stream body\n got %s\nwant %s", reqs[0].Body, want)
	}
	if want := `{"stream":false,"m":"big-1","p":"Hi"}`; reqs[1].Body != want {
		t.Errorf("non-stream body\n got %s\nwant %s", reqs[1].Body, want)
	}
}
