package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Template is the request and response mapping of a "protocol": "template"
// model. The template package checks the placeholders when the registry
// builds the adapter; this only checks the shape.
type Template struct {
	Path     string           // appended to base_url
	Body     json.RawMessage  // a JSON object with {{placeholders}}
	Response TemplateResponse // where the reply is in the response JSON
	Stream   *TemplateStream  // nil: the upstream does not stream
}

// TemplateResponse holds gjson paths into the upstream response.
type TemplateResponse struct {
	Text             string
	PromptTokens     string
	CompletionTokens string
	FinishReason     string
}

// TemplateStream describes a streaming upstream.
type TemplateStream struct {
	Format           string          // "sse" or "jsonl"
	Body             json.RawMessage // merged into the body of stream requests
	Text             string
	Done             string
	PromptTokens     string
	CompletionTokens string
}

type wireTemplate struct {
	Path     *string          `json:"path"`
	Body     *json.RawMessage `json:"body"`
	Response *json.RawMessage `json:"response"`
	Stream   *json.RawMessage `json:"stream"`
}

type wireTemplateResponse struct {
	Text             *string `json:"text"`
	PromptTokens     *string `json:"prompt_tokens"`
	CompletionTokens *string `json:"completion_tokens"`
	FinishReason     *string `json:"finish_reason"`
}

type wireTemplateStream struct {
	Format           *string          `json:"format"`
	Body             *json.RawMessage `json:"body"`
	Text             *string          `json:"text"`
	Done             *string          `json:"done"`
	PromptTokens     *string          `json:"prompt_tokens"`
	CompletionTokens *string          `json:"completion_tokens"`
}

var (
	templateFields         = fieldsOf(wireTemplate{})
	templateResponseFields = fieldsOf(wireTemplateResponse{})
	templateStreamFields   = fieldsOf(wireTemplateStream{})
)

// setProtocol resolves the adapter short forms and checks "protocol".
func setProtocol(m *Model, w *wireModel) error {
	if m.Adapter == ProtocolAnthropic || m.Adapter == ProtocolGemini {
		if w.Protocol != nil && *w.Protocol != m.Adapter {
			return fmt.Errorf("protocol: %q contradicts adapter %q", *w.Protocol, m.Adapter)
		}
		m.Protocol, m.Adapter = m.Adapter, AdapterCustomHTTP
		return nil
	}
	if m.Adapter != AdapterCustomHTTP {
		if w.Protocol != nil {
			return fmt.Errorf("protocol: only for the custom_http adapter")
		}
		return nil
	}
	if w.Protocol == nil {
		return errors.New(`protocol: required for custom_http (one of anthropic, gemini, template)`)
	}
	if _, ok := protocols[*w.Protocol]; !ok {
		return fmt.Errorf("protocol: unknown protocol %s (one of anthropic, gemini, template)", strconv.Quote(truncate(*w.Protocol)))
	}
	m.Protocol = *w.Protocol
	return nil
}

// reservedHeaders are set by the gateway or by HTTP itself.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Connection": true,
	"Transfer-Encoding": true, "Upgrade": true, "Te": true, "Trailer": true, "Keep-Alive": true,
}

// checkHeaders validates extra upstream headers. Values are never echoed:
// they may be secrets.
func checkHeaders(h map[string]string) error {
	for name, value := range h {
		switch {
		case !validHeaderName(name):
			return fmt.Errorf("%s: not a valid header name", strconv.Quote(truncate(name)))
		case reservedHeaders[http.CanonicalHeaderKey(name)]:
			return fmt.Errorf("%s: set by the gateway; cannot be configured", name)
		case strings.HasPrefix(value, envPrefix) && !isEnvName(value[len(envPrefix):]):
			return fmt.Errorf("%s: ENV: must be followed by a valid environment variable name", name)
		case !validHeaderValue(value):
			return fmt.Errorf("%s: value contains characters not allowed in a header", name)
		}
	}
	return nil
}

// ResolveHeaders returns the extra upstream headers with "ENV:NAME" values
// read from the environment and "{api_key}" replaced by apiKey. Like
// ResolveAPIKey it reports an unset variable by name, never a value.
func (m *Model) ResolveHeaders(lookupEnv func(string) (string, bool), apiKey string) (headers map[string]string, reason string, ok bool) {
	if len(m.Headers) == 0 {
		return nil, "", true
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	out := make(map[string]string, len(m.Headers))
	for name, value := range m.Headers {
		if env, fromEnv := strings.CutPrefix(value, envPrefix); fromEnv {
			v, set := lookupEnv(env)
			if !set || v == "" {
				return nil, fmt.Sprintf("environment variable %s (header %s) is not set", env, name), false
			}
			if !validHeaderValue(v) {
				return nil, fmt.Sprintf("environment variable %s (header %s) is not a valid header value", env, name), false
			}
			value = v
		}
		out[name] = strings.ReplaceAll(value, "{api_key}", apiKey)
	}
	return out, "", true
}

func parseTemplate(raw json.RawMessage) (*Template, error) {
	if k := kindOf(raw); k != "object" {
		return nil, fmt.Errorf("must be a JSON object, got %s", k)
	}
	var w wireTemplate
	if err := decodeStrict(raw, templateFields, "template field", &w); err != nil {
		return nil, err
	}
	t := &Template{}
	if w.Path != nil {
		if !strings.HasPrefix(*w.Path, "/") {
			return nil, errors.New(`path: must start with "/"`)
		}
		t.Path = *w.Path
	}
	if w.Body == nil || kindOf(*w.Body) != "object" {
		return nil, errors.New("body: required, a JSON object with {{placeholders}}")
	}
	t.Body = *w.Body
	if w.Response == nil || kindOf(*w.Response) != "object" {
		return nil, errors.New(`response: required, e.g. {"text": "choices.0.text"}`)
	}
	var r wireTemplateResponse
	if err := decodeStrict(*w.Response, templateResponseFields, "response field", &r); err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	if r.Text == nil || *r.Text == "" {
		return nil, errors.New("response: text: required (a path such as choices.0.text)")
	}
	t.Response = TemplateResponse{Text: *r.Text, PromptTokens: deref(r.PromptTokens), CompletionTokens: deref(r.CompletionTokens), FinishReason: deref(r.FinishReason)}
	if w.Stream != nil {
		if kindOf(*w.Stream) != "object" {
			return nil, errors.New("stream: must be a JSON object")
		}
		var s wireTemplateStream
		if err := decodeStrict(*w.Stream, templateStreamFields, "stream field", &s); err != nil {
			return nil, fmt.Errorf("stream: %w", err)
		}
		ts := &TemplateStream{Format: deref(s.Format), Text: deref(s.Text), Done: deref(s.Done),
			PromptTokens: deref(s.PromptTokens), CompletionTokens: deref(s.CompletionTokens)}
		if ts.Format != "sse" && ts.Format != "jsonl" {
			return nil, errors.New(`stream: format: must be "sse" or "jsonl"`)
		}
		if ts.Text == "" {
			return nil, errors.New("stream: text: required (the path of the text in each event)")
		}
		if s.Body != nil {
			if kindOf(*s.Body) != "object" {
				return nil, errors.New("stream: body: must be a JSON object")
			}
			ts.Body = *s.Body
		}
		t.Stream = ts
	}
	return t, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters (CR and LF would split the
// header); tabs and spaces are fine.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
