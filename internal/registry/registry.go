// Package registry turns a loaded models.json into the set of models the
// gateway serves: one Adapter per enabled entry, or the reason the entry
// cannot serve (a missing key). A Registry is immutable once built, so a
// reload builds a new one and swaps it in.
package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/adapter/anthropic"
	"aigateway/internal/adapter/gemini"
	"aigateway/internal/adapter/openaicompat"
	"aigateway/internal/adapter/process"
	"aigateway/internal/adapter/template"
	"aigateway/internal/breaker"
	"aigateway/internal/config"
	"aigateway/internal/keys"
	"aigateway/internal/redact"
)

// Deps are what adapters share. Zero values mean the documented defaults.
type Deps struct {
	// LookupEnv resolves "ENV:NAME" keys; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Transport carries upstream HTTP requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives one warning per deployment that cannot serve; nil means slog.Default().
	Logger *slog.Logger
	// Breakers holds the circuit breakers by deployment, so that their state
	// survives a reload; nil means a new set.
	Breakers *breaker.Set
	// ImageLookup resolves host names for Gemini image downloads
	// (fetch_images), and ImageDial connects to an address that passed the
	// gateway's address check; nil means the system resolver and a plain
	// TCP connection. Tests use them to serve a public-looking name locally.
	ImageLookup func(ctx context.Context, host string) ([]netip.Addr, error)
	ImageDial   func(ctx context.Context, network, addr string) (net.Conn, error)
	// Previous is the registry being replaced by a reload. Its adapters are
	// reused for deployments that did not change, so that requests in flight,
	// connection pools and local-program queues carry on undisturbed. A
	// changed local-program entry shares the slots of the one it replaces,
	// so that max_concurrency bounds the programs of both; Build applies
	// the new entry's limits to them when it succeeds, so serve (swap in)
	// what it returns.
	Previous *Registry

	slots *slotHandover // for one Build
}

// constructors builds an adapter for each adapter type. It is the one place
// that names the concrete adapter packages.
var constructors = map[string]func(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error){
	config.AdapterOpenAICompat: func(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error) {
		return openaicompat.New(openaicompat.Options{
			ID: m.ID, BaseURL: m.BaseURL, APIKey: key, Model: m.Model, Headers: headers, Secrets: entrySecrets(m, headers),
			Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout, Timeouts: timeouts(m), Transport: d.Transport,
			NativeResponses: m.Responses == config.ResponsesNative, MaxOutputTokens: int64(m.MaxOutputTokens),
			ShortToolCallIDs: m.ToolCallIDs == config.ToolCallIDsAlnum9, NoStreamUsage: m.NoStreamUsage,
		}), nil
	},
	config.AdapterCustomHTTP: newCustomHTTP,
	config.AdapterProcess:    newProcess,
}

// unavailableError is a constructor's way to say "this deployment is not
// configured on this host, for this reason" rather than "the config is
// wrong".
type unavailableError struct {
	// why is the operator's reason, naming the variable, header or
	// program: for the log and /health.
	why string
	// missing says what is missing in words fit for any client, naming no
	// variable, path or program: "no API key".
	missing string
}

func (e unavailableError) Error() string { return e.why }

// The words a client reads for each kind of missing setting.
const (
	missingAPIKey     = "no API key"
	missingHeader     = "a credential header is not set"
	missingProcessEnv = "a setting of its program is not set"
	missingProgram    = "its program cannot run on this host"
)

// entrySecrets returns the entry's secrets other than its API key, kept
// out of error messages like the key: the resolved values of headers
// configured as "ENV:NAME" or named like a credential (api-key, even
// when written literally), and the values of base_url query parameters
// named like one (?key=...), which a transport error quotes with the URL.
func entrySecrets(m *config.Model, resolved map[string]string) []string {
	var out []string
	for name, v := range m.Headers {
		if strings.HasPrefix(v, "ENV:") || redact.IsCredentialName(name) {
			out = append(out, resolved[name])
		}
	}
	return append(out, redact.QuerySecrets(m.BaseURL)...)
}

// timeouts converts the entry's per-phase timeouts for the adapters.
func timeouts(m *config.Model) adapter.Timeouts {
	t := m.Timeouts
	return adapter.Timeouts{Connect: t.Connect, FirstByte: t.FirstByte, Idle: t.Idle, Total: t.Total}
}

// newCustomHTTP builds the adapter for a custom_http protocol.
func newCustomHTTP(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error) {
	switch m.Protocol {
	case config.ProtocolAnthropic:
		return anthropic.New(anthropic.Options{
			ID: m.ID, BaseURL: m.BaseURL, APIKey: key, Model: m.Model, Headers: headers, Secrets: entrySecrets(m, headers),
			Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout, Timeouts: timeouts(m), Transport: d.Transport,
			DropParams: m.DropParams, Logger: d.Logger, MaxOutputTokens: int64(m.MaxOutputTokens),
		}), nil
	case config.ProtocolGemini:
		return gemini.New(gemini.Options{
			ID: m.ID, BaseURL: m.BaseURL, APIKey: key, Model: m.Model, Headers: headers, Secrets: entrySecrets(m, headers),
			Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout, Timeouts: timeouts(m), Transport: d.Transport,
			FetchImages: m.FetchImages, MaxOutputTokens: int64(m.MaxOutputTokens),
			Fetch:      gemini.FetchOptions{AllowPrivate: m.FetchPrivateAddresses, Lookup: d.ImageLookup, Dial: d.ImageDial},
			DropParams: m.DropParams, Logger: d.Logger,
		}), nil
	case config.ProtocolTemplate:
		return newTemplate(m, key, headers, d)
	}
	return nil, fmt.Errorf("protocol: no adapter for %q", m.Protocol)
}

// newTemplate builds a template adapter. Without a configured header that
// uses {api_key} or carries its own credential (adapter.SetsCredential),
// the key is sent as a bearer token, the most common scheme.
func newTemplate(m *config.Model, key string, headers map[string]string, d *Deps) (adapter.Adapter, error) {
	t := m.Template
	h := http.Header{"Content-Type": {"application/json"}}
	keyUsed := false
	for name, v := range m.Headers {
		keyUsed = keyUsed || strings.Contains(v, "{api_key}")
		h.Set(name, headers[name])
	}
	if key != "" && !keyUsed && !adapter.SetsCredential(headers) {
		h.Set("Authorization", "Bearer "+key)
	}
	o := template.Options{
		ID: m.ID, URL: adapter.JoinURL(m.BaseURL, t.Path), Model: m.Model, Header: h, Body: t.Body,
		Response:    template.ResponsePaths{Text: t.Response.Text, PromptTokens: t.Response.PromptTokens, CompletionTokens: t.Response.CompletionTokens, FinishReason: t.Response.FinishReason},
		Temperature: m.Temperature, MaxTokens: m.MaxTokens,
		Upstream: adapter.Upstream{ID: m.ID, Transport: d.Transport, Timeout: m.Timeout, Timeouts: timeouts(m),
			Redactor: redact.New(append([]string{key}, entrySecrets(m, headers)...)...)},
		DropParams: m.DropParams, Logger: d.Logger,
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

// Deployment is one models.json entry as the gateway serves it: one way to
// reach a model. Several deployments with the same id form a pool.
type Deployment struct {
	// Label names the entry in logs, headers and /health: its configured
	// name, or models[3].
	Label       string
	AdapterType string
	// Upstream names where requests go, for logs: the base URL without
	// credentials.
	Upstream string
	// Model is the model name sent upstream (the entry's "model").
	Model   string
	Enabled bool
	// Adapter is nil when the deployment is disabled or unavailable.
	Adapter adapter.Adapter
	// Unavailable is why an enabled deployment is not configured on this
	// host (an unset key variable, a missing program), naming the variable
	// or program: for the log and /health only. Empty when it can serve.
	Unavailable string
	// Missing is the same in words fit for a client, naming no variable,
	// path or program ("no API key"). Empty when it can serve.
	Missing  string
	Weight   int
	Priority int
	// Breaker takes the deployment out of rotation while it keeps failing.
	// Its state lives in Deps.Breakers and survives reloads.
	Breaker *breaker.Breaker
	// key identifies the deployment's entry and resolved secrets, to tell
	// what a reload changed (see Compare).
	key string
	// KeepAlive is the entry's keepalive_interval: how long a started
	// stream may stay silent before the gateway writes a keep-alive
	// comment; zero means never.
	KeepAlive time.Duration
	// Protocol is what the adapter speaks upstream after converting a
	// chat completions request: the inbound APIs convert for it.
	Protocol adapter.Protocol
	// MaxOutputTokens is the entry's max_output_tokens; 0: no cap.
	MaxOutputTokens int64
	// Price is what the entry's upstream charges; nil: unknown (cost 0).
	Price *config.Price
}

// Model is a model id as clients see it: a pool of deployments plus the
// pool settings.
type Model struct {
	ID string
	// Deployments are the enabled entries with this id, in config order.
	Deployments []*Deployment
	Fallbacks   []string
	Retries     int
	// Unavailable says why no deployment can serve, for the log; empty
	// when one can.
	Unavailable string
	// Missing is Unavailable in words fit for a client: no variable,
	// path or program names.
	Missing string
	// ObjectJSON is the model's GET /v1/models/{id} body.
	ObjectJSON []byte
	// ContextWindow and MaxOutputTokens are the first context_window and
	// max_output_tokens its entries set, for the inbound model lists;
	// 0: none.
	ContextWindow, MaxOutputTokens int64
}

// Registry is the immutable set of configured models.
type Registry struct {
	byID        map[string]*Model // models with at least one enabled deployment
	deployments []*Deployment     // config order, disabled ones included
	ids         []string          // the id of each entry of deployments
	byKey       map[string]*Deployment
	procs       []procSlots // the slots of the process deployments, for the next reload
	listJSON    []byte
	listed      []string // the ids of listJSON, in its order
	keys        *keys.Ring
	// adminDigest is the SHA-256 of the admin key; adminSet is false
	// when none is configured or its variable is unset.
	adminDigest [32]byte
	adminSet    bool
}

// Build creates the adapters for f. An enabled deployment that lacks its
// key (or program) is kept as unavailable and logged once; a construction
// failure is an error.
func Build(f *config.File, d Deps) (*Registry, error) {
	if d.LookupEnv == nil {
		d.LookupEnv = lookupEnv
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Breakers == nil {
		d.Breakers = breaker.NewSet(breaker.Settings{})
	}
	d.slots = newSlotHandover(d.Previous, f)
	r := &Registry{byID: make(map[string]*Model, len(f.Models)), byKey: make(map[string]*Deployment, len(f.Models))}
	r.keys, _ = keys.NewRing(f.Keys, d.LookupEnv)
	for _, u := range r.keys.Unusable() {
		// A warning, unlike a model without its key: a client holding
		// this key is refused until the variable is set.
		d.Logger.Warn("gateway key unusable", "key", u.Key.Name, "reason", u.Reason)
	}
	if f.AdminKey.IsSet() {
		if v, reason, ok := f.AdminKey.Resolve(d.LookupEnv); ok {
			r.adminDigest, r.adminSet = sha256.Sum256([]byte(v)), true
		} else {
			// Configured but missing: refuse every admin request rather
			// than fall back to an open admin API.
			rand.Read(r.adminDigest[:]) //nolint:errcheck // never fails
			r.adminSet = true
			d.Logger.Warn("admin key unusable: the admin API refuses every request", "reason", reason)
		}
	}
	list := modelList{Object: "list", Data: []modelObject{}}
	var order []*Model
	keys := make([]string, 0, len(f.Models))
	// Pool settings live on the first entry with an id, which may itself be
	// disabled.
	poolOf := make(map[string]*config.Model, len(f.Models))
	for i := range f.Models {
		if _, seen := poolOf[f.Models[i].ID]; !seen {
			poolOf[f.Models[i].ID] = &f.Models[i]
		}
	}
	for i := range f.Models {
		cm := &f.Models[i]
		dep := &Deployment{Label: cm.DeploymentName(), AdapterType: cm.Adapter, Upstream: upstreamOf(cm), Model: cm.Model,
			Enabled: cm.Enabled, Weight: cm.Weight, Priority: cm.Priority, KeepAlive: cm.KeepAlive,
			Protocol: protocolOf(cm), MaxOutputTokens: int64(cm.MaxOutputTokens), Price: cm.Price}
		dep.key = cm.PoolKey()
		r.deployments = append(r.deployments, dep)
		r.ids = append(r.ids, cm.ID)
		if !cm.Enabled {
			continue
		}
		m := r.byID[cm.ID]
		if m == nil {
			first := poolOf[cm.ID]
			m = &Model{ID: cm.ID, Fallbacks: first.Fallbacks, Retries: config.DefaultRetries}
			if first.Retries != nil {
				m.Retries = *first.Retries
			}
			obj := modelObject{ID: cm.ID, Object: "model", Created: 0, OwnedBy: cm.Adapter}
			var err error
			if m.ObjectJSON, err = json.Marshal(obj); err != nil {
				return nil, fmt.Errorf("%s: encoding model object: %w", cm.Label(), err)
			}
			r.byID[cm.ID] = m
			order = append(order, m)
		}
		m.Deployments = append(m.Deployments, dep)
		if m.ContextWindow == 0 {
			m.ContextWindow = int64(cm.ContextWindow)
		}
		if m.MaxOutputTokens == 0 {
			m.MaxOutputTokens = int64(cm.MaxOutputTokens)
		}
		key := cm.PoolKey()
		keys = append(keys, key)
		dep.Breaker = d.Breakers.Get(key, breaker.Settings{FailureThreshold: cm.Breaker.Failures, CoolDown: cm.Breaker.CoolDown,
			OnChange: logBreakerChange(d.Logger, cm.ID, dep.Label)})
		if why := r.build(cm, dep, &d); why != nil {
			var unavailable unavailableError
			if !errors.As(why, &unavailable) {
				return nil, fmt.Errorf("%s: %w", cm.Label(), why)
			}
			dep.Unavailable, dep.Missing = unavailable.why, unavailable.missing
			// Information, not a warning: a fresh start without keys is
			// the expected first run, and /health lists it the same way.
			d.Logger.Info("model not configured", "model", cm.ID, "deployment", dep.Label, "reason", dep.Unavailable)
		}
	}
	d.Breakers.Retain(keys)
	for _, m := range order {
		var reasons, missing []string
		for _, dep := range m.Deployments {
			if dep.Adapter != nil {
				reasons = nil
				break
			}
			reasons = append(reasons, dep.Unavailable)
			missing = append(missing, dep.Missing)
		}
		if reasons != nil {
			m.Unavailable = strings.Join(slices.Compact(reasons), "; ")
			m.Missing = strings.Join(slices.Compact(missing), "; ")
			continue
		}
		var obj modelObject
		json.Unmarshal(m.ObjectJSON, &obj) //nolint:errcheck // encoded above
		list.Data = append(list.Data, obj)
		r.listed = append(r.listed, m.ID)
	}
	var err error
	if r.listJSON, err = json.Marshal(list); err != nil {
		return nil, fmt.Errorf("encoding model list: %w", err)
	}
	d.slots.applyLimits() // nothing can fail any more
	return r, nil
}

// build resolves the deployment's secrets and constructs its adapter, or
// reuses the previous registry's adapter when nothing about it changed. An
// unavailableError means the deployment cannot serve (missing key, variable
// or program); any other error is a configuration error.
func (r *Registry) build(cm *config.Model, dep *Deployment, d *Deps) error {
	key, why, ok := cm.ResolveAPIKey(d.LookupEnv)
	if !ok {
		return unavailableError{why: why, missing: missingAPIKey}
	}
	headers, why, ok := cm.ResolveHeaders(d.LookupEnv, key)
	if !ok {
		return unavailableError{why: why, missing: missingHeader}
	}
	// The reuse key covers the resolved secrets too: a rotated key in the
	// environment must reach the upstream after a reload.
	reuse := cm.PoolKey() + "\x00" + key + "\x00" + fmt.Sprint(headers)
	if cm.Process != nil {
		o, err := processOptions(cm, d) // the program must still be there, even for a reused adapter
		if err != nil {
			return err
		}
		reuse += "\x00" + strings.Join(o.Env, "\x00")
	}
	r.byKey[reuse] = dep
	dep.key = reuse
	if d.Previous != nil {
		if old := d.Previous.byKey[reuse]; old != nil && old.Adapter != nil {
			dep.Adapter = old.Adapter
			d.slots.keep(old.Adapter)
			r.recordSlots(cm, dep.Adapter)
			return nil
		}
	}
	construct, found := constructors[cm.Adapter]
	if !found { // config validation knows the same list; this is a programming error
		return fmt.Errorf("no constructor for adapter %q", cm.Adapter)
	}
	a, err := construct(cm, key, headers, d)
	if err != nil {
		return err
	}
	dep.Adapter = a
	r.recordSlots(cm, a)
	return nil
}

// recordSlots remembers a local program's slots for the next reload.
func (r *Registry) recordSlots(cm *config.Model, a adapter.Adapter) {
	if pa, ok := a.(*process.Adapter); ok {
		r.procs = append(r.procs, procSlots{id: cm.ID, poolKey: cm.PoolKey(), slots: pa.Slots()})
	}
}

// Lookup returns the model with the given id, if any deployment of it is
// enabled.
func (r *Registry) Lookup(id string) (*Model, bool) {
	m, ok := r.byID[id]
	return m, ok
}

// Keys returns the gateway keys of the config. The ring is open (every
// client is served) when the config has no keys.
func (r *Registry) Keys() *keys.Ring { return r.keys }

// AdminDigest returns the SHA-256 of the admin key (admin_key), to
// compare in constant time; set is false when there is none.
func (r *Registry) AdminDigest() (digest [32]byte, set bool) { return r.adminDigest, r.adminSet }

// Close releases adapters that hold resources (running local programs). It
// is called when the gateway stops, after in-flight requests drained.
// A reload does not close the registry it replaces: requests still running
// on its adapters finish there (see Closers).
func (r *Registry) Close() error {
	var errs []error
	for _, c := range r.Closers() {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Closers returns the adapters that hold resources, so that after a reload
// the gateway can keep the ones the new registry no longer uses and close
// them at shutdown.
func (r *Registry) Closers() []io.Closer {
	var out []io.Closer
	for _, dep := range r.deployments {
		if c, ok := dep.Adapter.(io.Closer); ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Entries calls fn for every configured entry in config order, disabled
// ones included, with the model id it serves.
func (r *Registry) Entries(fn func(id string, d *Deployment)) {
	for i, d := range r.deployments {
		fn(r.ids[i], d)
	}
}

// ListJSON is the GET /v1/models body: the models that can serve.
func (r *Registry) ListJSON() []byte { return r.listJSON }

// Listed returns the ids of the models ListJSON lists (those that can
// serve), in its order, for the inbound APIs' own model lists. The caller
// must not modify it.
func (r *Registry) Listed() []string { return r.listed }

// protocolOf is what an entry's adapter speaks upstream.
func protocolOf(cm *config.Model) adapter.Protocol {
	switch {
	case cm.Adapter == config.AdapterOpenAICompat:
		return adapter.ProtocolChat
	case cm.Protocol == config.ProtocolAnthropic:
		return adapter.ProtocolMessages
	case cm.Protocol == config.ProtocolGemini:
		return adapter.ProtocolGemini
	}
	return adapter.ProtocolText
}

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

// logBreakerChange returns the breaker hook that tells the operator when a
// deployment leaves rotation, is probed and comes back.
func logBreakerChange(log *slog.Logger, id, label string) func(breaker.Change) {
	return func(c breaker.Change) {
		switch c.To {
		case breaker.Open:
			log.Warn("circuit breaker opened: deployment out of rotation", "model", id, "deployment", label,
				"consecutive_failures", c.ConsecutiveFailures, "cool_down_ms", c.CoolDown.Milliseconds())
		case breaker.HalfOpen:
			log.Info("circuit breaker half-open: probing the deployment", "model", id, "deployment", label)
		case breaker.Closed:
			log.Info("circuit breaker closed: deployment back in rotation", "model", id, "deployment", label)
		}
	}
}

// upstreamOf names where an entry's requests go, for logs: the base URL
// without credentials, or a local program's command (its first word).
func upstreamOf(cm *config.Model) string {
	if cm.Process != nil && len(cm.Process.Command) > 0 {
		return cm.Process.Command[0]
	}
	return redact.URL(cm.BaseURL)
}
