// Package registry turns a loaded models.json into the set of models the
// gateway serves: one Adapter per enabled entry, or the reason the entry
// cannot serve (a missing key). A Registry is immutable once built, so a
// reload builds a new one and swaps it in.
package registry

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/adapter/anthropic"
	"aigateway/internal/adapter/gemini"
	"aigateway/internal/adapter/openaicompat"
	"aigateway/internal/adapter/template"
	"aigateway/internal/config"
)

// Deps are what adapters share. Zero values mean the documented defaults.
type Deps struct {
	// LookupEnv resolves "ENV:NAME" keys; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Transport carries upstream HTTP requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives one warning per model that cannot serve; nil means slog.Default().
	Logger *slog.Logger
}

// constructors builds an adapter for each adapter type. It is the one place
// that names the concrete adapter packages.
var constructors = map[string]func(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error){
	config.AdapterOpenAICompat: func(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error) {
		return openaicompat.New(openaicompat.Options{
			ID: m.ID, BaseURL: m.BaseURL, APIKey: key, Model: m.Model, Headers: headers,
			Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout, Transport: d.Transport,
		}), nil
	},
	config.AdapterCustomHTTP: newCustomHTTP,
}

// newCustomHTTP builds the adapter for a custom_http protocol.
func newCustomHTTP(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error) {
	switch m.Protocol {
	case config.ProtocolAnthropic:
		return anthropic.New(anthropic.Options{
			ID: m.ID, BaseURL: m.BaseURL, APIKey: key, Model: m.Model, Headers: headers,
			Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout, Transport: d.Transport,
		}), nil
	case config.ProtocolGemini:
		return gemini.New(gemini.Options{
			ID: m.ID, BaseURL: m.BaseURL, APIKey: key, Model: m.Model, Headers: headers, FetchImages: m.FetchImages,
			Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout, Transport: d.Transport,
		}), nil
	case config.ProtocolTemplate:
		return newTemplate(m, key, headers, d)
	}
	return nil, fmt.Errorf("protocol: no adapter for %q", m.Protocol)
}

// newTemplate builds a template adapter. Without a configured header that
// uses {api_key}, the key is sent as a bearer token, the most common scheme.
func newTemplate(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error) {
	t := m.Template
	h := http.Header{"Content-Type": {"application/json"}}
	keyUsed := false
	for name, v := range m.Headers {
		keyUsed = keyUsed || strings.Contains(v, "{api_key}")
		h.Set(name, headers[name])
	}
	if key != "" && !keyUsed {
		h.Set("Authorization", "Bearer "+key)
	}
	o := template.Options{
		ID: m.ID, URL: m.BaseURL + t.Path, Model: m.Model, Header: h, Body: t.Body,
		Response:    template.ResponsePaths{Text: t.Response.Text, PromptTokens: t.Response.PromptTokens, CompletionTokens: t.Response.CompletionTokens, FinishReason: t.Response.FinishReason},
		Temperature: m.Temperature, MaxTokens: m.MaxTokens,
		Upstream: adapter.Upstream{ID: m.ID, Transport: d.Transport, Timeout: m.Timeout},
	}
	if key != "" {
		o.Upstream.Secrets = [][]byte{[]byte(key)}
	}
	if s := t.Stream; s != nil {
		o.Stream = &template.StreamConfig{Format: s.Format, Body: s.Body, Text: s.Text, Done: s.Done, PromptTokens: s.PromptTokens, CompletionTokens: s.CompletionTokens}
	}
	a, err := template.New(o)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return a, nil
}

// Model is one configured model as the gateway serves it.
type Model struct {
	ID          string
	AdapterType string
	// Upstream names where requests go, for logs: the base URL without
	// credentials.
	Upstream string
	Enabled  bool
	// Adapter is nil when the model is disabled or unavailable.
	Adapter adapter.Adapter
	// Unavailable is why an enabled model cannot serve; empty when it can.
	Unavailable string
	// ObjectJSON is the model's GET /v1/models/{id} body.
	ObjectJSON []byte
}

// Registry is the immutable set of configured models.
type Registry struct {
	byID     map[string]*Model // enabled models only
	all      []*Model          // config order, disabled ones included
	listJSON []byte
}

// Build creates the adapters for f. An enabled model that lacks its key is
// kept as unavailable and logged once; a construction failure is an error.
func Build(f *config.File, d Deps) (*Registry, error) {
	if d.LookupEnv == nil {
		d.LookupEnv = lookupEnv
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	r := &Registry{byID: make(map[string]*Model, len(f.Models))}
	list := modelList{Object: "list", Data: []modelObject{}}
	for i := range f.Models {
		cm := &f.Models[i]
		m := &Model{ID: cm.ID, AdapterType: cm.Adapter, Upstream: redactURL(cm.BaseURL), Enabled: cm.Enabled}
		obj := modelObject{ID: cm.ID, Object: "model", Created: 0, OwnedBy: cm.Adapter}
		var err error
		if m.ObjectJSON, err = json.Marshal(obj); err != nil {
			return nil, fmt.Errorf("%s: encoding model object: %w", cm.Label(), err)
		}
		r.all = append(r.all, m)
		if !cm.Enabled {
			continue
		}
		r.byID[cm.ID] = m
		key, why, ok := cm.ResolveAPIKey(d.LookupEnv)
		var headers map[string]string
		if ok {
			headers, why, ok = cm.ResolveHeaders(d.LookupEnv, key)
		}
		if !ok {
			m.Unavailable = why
			d.Logger.Warn("model unavailable", "model", cm.ID, "reason", why)
			continue
		}
		build, found := constructors[cm.Adapter]
		if !found { // config validation knows the same list; this is a programming error
			return nil, fmt.Errorf("%s: no constructor for adapter %q", cm.Label(), cm.Adapter)
		}
		if m.Adapter, err = build(cm, key, headers, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", cm.Label(), err)
		}
		list.Data = append(list.Data, obj)
	}
	var err error
	if r.listJSON, err = json.Marshal(list); err != nil {
		return nil, fmt.Errorf("encoding model list: %w", err)
	}
	return r, nil
}

// Lookup returns the enabled model with the given id.
func (r *Registry) Lookup(id string) (*Model, bool) {
	m, ok := r.byID[id]
	return m, ok
}

// All returns every configured model in config order, disabled ones included.
// The slice must not be modified.
func (r *Registry) All() []*Model { return r.all }

// ListJSON is the GET /v1/models body: the enabled, available models.
func (r *Registry) ListJSON() []byte { return r.listJSON }

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// redactURL drops credentials from a URL for logging.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}
