package mockllm

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"aigateway/internal/openai"
)

// Google Gemini wire format (Gemini Developer API):
// /v1beta/models/{model}:{generateContent,streamGenerateContent,countTokens,
// embedContent,batchEmbedContents} and GET /v1beta/models[/{model}]. The
// colon methods are served under /v1/models/ too. See PROTOCOLS.md section 5.

const geminiJSON = "application/json; charset=UTF-8"

func geminiRoute(path string) (route, bool) {
	rt := route{method: http.MethodPost, fail: writeGoogleError, auth: checkGoogleKey}
	rest, ok := strings.CutPrefix(path, "/v1beta/models")
	if !ok {
		if strings.HasPrefix(path, "/v1beta/") {
			return rt, false // a Google-shaped 404
		}
		// The v1 API has the same colon methods; other /v1/models paths,
		// including OpenAI model ids with colons ("ft:gpt-4o:org::id"),
		// are OpenAI's.
		r, v1 := strings.CutPrefix(path, "/v1/models/")
		if !v1 {
			return route{}, false
		}
		if rt, found := geminiRoute("/v1beta/models/" + r); found && rt.method == http.MethodPost {
			return rt, true
		}
		return route{}, false
	}
	if rest == "" {
		rt.method, rt.serve = http.MethodGet, (*call).geminiModels
		return rt, true
	}
	name, ok := strings.CutPrefix(rest, "/")
	model, method, colon := strings.Cut(name, ":")
	if !ok || model == "" || strings.Contains(model, "/") {
		return rt, false
	}
	switch {
	case !colon:
		rt.method = http.MethodGet
		rt.serve = func(c *call) error { return c.geminiModel(model) }
	case method == "generateContent":
		rt.serve = func(c *call) error { return c.geminiGenerate(model, false) }
	case method == "streamGenerateContent":
		rt.serve = func(c *call) error { return c.geminiGenerate(model, true) }
	case method == "countTokens":
		rt.serve = (*call).geminiCountTokens
	case method == "embedContent":
		rt.serve = func(c *call) error { return c.geminiEmbed(model) }
	case method == "batchEmbedContents":
		rt.serve = func(c *call) error { return c.geminiBatchEmbed(model) }
	default:
		return rt, false
	}
	return rt, true
}

// checkGoogleKey wants the key in x-goog-api-key or the "key" query
// parameter. Google answers a missing or wrong key with 400, not 401.
func checkGoogleKey(r *http.Request, key string) (int, apiError) {
	got := r.Header.Get("x-goog-api-key")
	if got == "" {
		got = r.URL.Query().Get("key")
	}
	if got != "" && keyEqual(got, key) {
		return 0, apiError{}
	}
	return http.StatusBadRequest, apiError{
		Type:    "INVALID_ARGUMENT",
		Message: "API key not valid. Please pass a valid API key.",
		Code:    "API_KEY_INVALID",
	}
}

// googleStatus is the canonical status name of an HTTP status
// (PROTOCOLS.md 5.4).
func googleStatus(status int) string {
	switch status {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 500:
		return "INTERNAL"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return "UNKNOWN"
}

// writeGoogleError writes {"error":{"code","message","status"}}. e.Type is
// the canonical status (default from the HTTP status); a non-empty e.Code
// adds an ErrorInfo detail with that reason.
func writeGoogleError(w http.ResponseWriter, status int, e apiError) {
	if e.Type == "" {
		e.Type = googleStatus(status)
	}
	b := make([]byte, 0, 160+len(e.Message))
	b = append(b, `{"error":{"code":`...)
	b = appendInt(b, int64(status))
	b = append(b, `,"message":`...)
	b = openai.AppendString(b, e.Message)
	b = append(b, `,"status":`...)
	b = openai.AppendString(b, e.Type)
	if e.Code != "" {
		b = append(b, `,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":`...)
		b = openai.AppendString(b, e.Code)
		b = append(b, `,"domain":"googleapis.com"}]`...)
	}
	b = append(b, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", geminiJSON)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// geminiBad answers 400 INVALID_ARGUMENT.
func (c *call) geminiBad(msg string) error {
	c.fail(c.w, http.StatusBadRequest, apiError{Message: msg})
	return nil
}

// geminiDecode unmarshals the body into v, answering 400 if it cannot.
func (c *call) geminiDecode(v any) bool {
	err := json.Unmarshal(c.body, v)
	if err == nil {
		return true
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) || len(c.body) == 0 {
		_ = c.geminiBad("Invalid JSON payload received. Unexpected token.")
	} else {
		_ = c.geminiBad("Invalid JSON payload received. " + err.Error())
	}
	return false
}

type geminiContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

// geminiPart is the part of a Part the mock reads: text to count, and what
// Gemini 3 checks thought signatures on.
type geminiPart struct {
	Text         string `json:"text"`
	FunctionCall *struct {
		Name string `json:"name"`
	} `json:"functionCall"`
	FunctionResponse json.RawMessage `json:"functionResponse"`
	ThoughtSignature string          `json:"thoughtSignature"`
}

func (gc *geminiContent) words() int {
	if gc == nil {
		return 0
	}
	n := 0
	for _, p := range gc.Parts {
		n += countWords(p.Text)
	}
	return n
}

// text is the parts' text concatenated.
func (gc *geminiContent) text() string {
	if len(gc.Parts) == 1 {
		return gc.Parts[0].Text
	}
	var b strings.Builder
	for _, p := range gc.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
	Mock              *Directive      `json:"mock"`
	// GenerateContentRequest is countTokens' other form: a whole
	// generateContent request (model, contents, systemInstruction, tools)
	// instead of bare contents.
	GenerateContentRequest *geminiRequest `json:"generateContentRequest"`
}

func (req *geminiRequest) promptWords() int {
	n := req.SystemInstruction.words()
	for i := range req.Contents {
		n += req.Contents[i].words()
	}
	return n
}

func (c *call) geminiRequest(req *geminiRequest) bool {
	if !c.geminiDecode(req) {
		return false
	}
	if len(req.Contents) == 0 {
		_ = c.geminiBad("* GenerateContentRequest.contents: contents is not specified\n")
		return false
	}
	return true
}

func (c *call) geminiCountTokens() error {
	var req geminiRequest
	if !c.geminiDecode(&req) {
		return nil
	}
	if g := req.GenerateContentRequest; g != nil && len(req.Contents) == 0 {
		req.Contents, req.SystemInstruction = g.Contents, g.SystemInstruction
		if req.Mock == nil {
			req.Mock = g.Mock
		}
	}
	if len(req.Contents) == 0 {
		return c.geminiBad("* CountTokensRequest.contents: contents is not specified\n")
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	n := max(req.promptWords(), 1)
	if d.PromptTokens != nil {
		n = *d.PromptTokens
	}
	b := append(appendInt(append(make([]byte, 0, 32), `{"totalTokens":`...), int64(n)), "}\n"...)
	return c.writeWhole(d, geminiJSON, b)
}

// geminiMethods is what GET /v1beta/models says each model supports.
const geminiMethods = `["generateContent","streamGenerateContent","countTokens","embedContent","batchEmbedContents"]`

func appendGeminiModel(dst []byte, id string) []byte {
	dst = append(dst, `{"name":`...)
	dst = openai.AppendString(dst, "models/"+id)
	dst = append(dst, `,"version":"001","displayName":`...)
	dst = openai.AppendString(dst, id)
	dst = append(dst, `,"inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":`...)
	dst = append(dst, geminiMethods...)
	return append(dst, '}')
}

func (c *call) geminiModels() error {
	d, ok := c.directive(nil)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	b := append(make([]byte, 0, 256*len(c.s.opts.Models)), `{"models":[`...)
	for i, id := range c.s.opts.Models {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendGeminiModel(b, id)
	}
	b = append(b, "]}\n"...)
	return c.writeWhole(d, geminiJSON, b)
}

func (c *call) geminiModel(id string) error {
	d, ok := c.directive(nil)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	for _, m := range c.s.opts.Models {
		if m == id {
			return c.writeWhole(d, geminiJSON, append(appendGeminiModel(nil, m), '\n'))
		}
	}
	c.fail(c.w, http.StatusNotFound, apiError{Message: "models/" + id + " is not found for API version v1beta."})
	return nil
}
