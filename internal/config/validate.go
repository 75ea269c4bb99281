package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// wireFile mirrors the top level of models.json.
type wireFile struct {
	Models []json.RawMessage `json:"models"` // decoded one by one for per-entry messages

	// Access (see parseAccess).
	Keys         *[]json.RawMessage `json:"keys"` // decoded one by one, like models
	AdminKey     *string            `json:"admin_key"`
	RedisURL     *string            `json:"redis_url"`
	RedisFailure *string            `json:"redis_failure"`
	DatabaseURL  *string            `json:"database_url"`
}

// wireModel mirrors one models.json entry. Pointer fields tell "absent" from
// a zero value, so that required fields and defaults can be handled. To add a
// field, add it here (the json tag is its name in the file; the known-field
// list and type messages are derived from this struct) and validate it in
// parseModel.
type wireModel struct {
	ID          *string  `json:"id"`
	Name        *string  `json:"name"`
	Adapter     *string  `json:"adapter"`
	BaseURL     *string  `json:"base_url"`
	APIKey      *string  `json:"api_key"`
	Enabled     *bool    `json:"enabled"`
	Model       *string  `json:"model"`
	Temperature *float64 `json:"temperature"`
	MaxTokens   *int     `json:"max_tokens"`
	Timeout     *float64 `json:"timeout"`            // seconds, fractions allowed
	KeepAlive   *float64 `json:"keepalive_interval"` // seconds, fractions allowed; 0: off
	DropParams  *bool    `json:"drop_params"`        // converting adapters only
	MaxOutput   *int     `json:"max_output_tokens"`  // clamp for inbound max_tokens
	ContextWin  *int     `json:"context_window"`     // tokens, for the inbound model lists
	Responses   *string  `json:"responses"`          // openai_compat: "native" or "convert"
	ToolCallIDs *string  `json:"tool_call_ids"`      // openai_compat: "as_sent" or "alnum9"
	StreamUsage *bool    `json:"stream_usage"`       // openai_compat: false leaves stream_options alone

	Protocol     *string            `json:"protocol"`                // custom_http only
	Headers      *map[string]string `json:"headers"`                 // extra upstream headers
	FetchImages  *bool              `json:"fetch_images"`            // gemini only
	FetchPrivate *bool              `json:"fetch_private_addresses"` // with fetch_images only
	Template     *json.RawMessage   `json:"template"`                // protocol template only
	Price        *json.RawMessage   `json:"price"`                   // USD per million tokens

	// process adapter
	Command        *[]string          `json:"command"`
	Workdir        *string            `json:"workdir"`
	Env            *map[string]string `json:"env"`
	PromptFormat   *string            `json:"prompt_format"`
	PromptTemplate *string            `json:"prompt_template"`
	MaxConcurrency *int               `json:"max_concurrency"`
	QueueSize      *int               `json:"queue_size"`
	QueueTimeout   *float64           `json:"queue_timeout"` // seconds
	MaxOutputBytes *int               `json:"max_output_bytes"`
	KillGrace      *float64           `json:"kill_grace"` // seconds

	// routing and reliability
	Weight           *int      `json:"weight"`
	Priority         *int      `json:"priority"`
	Fallbacks        *[]string `json:"fallbacks"`
	Retries          *int      `json:"retries"`
	ConnectTimeout   *float64  `json:"connect_timeout"`
	FirstByteTimeout *float64  `json:"first_byte_timeout"`
	IdleTimeout      *float64  `json:"idle_timeout"`
	TotalTimeout     *float64  `json:"total_timeout"`
	BreakerFailures  *int      `json:"breaker_failures"`
	BreakerCoolDown  *float64  `json:"breaker_cool_down"`
}

var (
	topFields   = fieldsOf(wireFile{})
	modelFields = fieldsOf(wireModel{})
)

// adapters lists the adapter names a model entry may use; "anthropic" and
// "gemini" are short for custom_http with that protocol.
var adapters = []string{ProtocolAnthropic, AdapterCustomHTTP, ProtocolGemini, AdapterOpenAICompat, AdapterProcess}

// protocols lists the custom_http protocols and their default base URLs.
var protocols = map[string]string{
	ProtocolAnthropic: "https://api.anthropic.com",
	ProtocolGemini:    "https://generativelanguage.googleapis.com",
	ProtocolTemplate:  "",
}

const (
	maxIDLen   = 256
	maxNameLen = 64
	maxTimeout = 86400 // seconds

	minKeepAlive = 0.01 // seconds
	envPrefix    = "ENV:"
)

// parseTop checks the top-level object and returns it decoded; the model
// and key entries are still raw.
func parseTop(top json.RawMessage) (*wireFile, error) {
	if k := kindOf(top); k != "object" {
		return nil, fmt.Errorf(`must be a JSON object with a "models" array, got %s`, k)
	}
	var w wireFile
	if err := decodeStrict(top, topFields, "top-level field", &w); err != nil {
		return nil, err
	}
	switch {
	case w.Models == nil:
		return nil, errors.New("models: required")
	case len(w.Models) == 0:
		return nil, errors.New("models: must list at least one model")
	}
	return &w, nil
}

// peekID returns the entry's id if it is a string, or "" when it cannot be
// known; it only serves to label messages, so it never fails.
func peekID(raw json.RawMessage) string { return peekString(raw, "id") }

// peekString returns the string member name of the object raw, or "".
func peekString(raw json.RawMessage, name string) string {
	members, err := objectMembers(raw)
	if err != nil {
		return ""
	}
	var s string
	if v, ok := lookup(members, name); ok {
		_ = json.Unmarshal(v, &s)
	}
	return s
}

// parseModel decodes and validates one entry and applies defaults. Errors
// are relative to the entry ("temperature: ..."); the caller adds the file
// and the entry label.
func parseModel(raw json.RawMessage) (Model, error) {
	if k := kindOf(raw); k != "object" {
		return Model{}, fmt.Errorf("must be a JSON object, got %s", k)
	}
	var w wireModel
	if err := decodeStrict(raw, modelFields, "field", &w); err != nil {
		return Model{}, err
	}
	m := Model{Enabled: true, Timeout: DefaultTimeout, KeepAlive: DefaultKeepAliveInterval}

	if w.ID == nil {
		return m, errors.New("id: required")
	}
	if err := checkID(*w.ID); err != nil {
		return m, fmt.Errorf("id: %w", err)
	}
	m.ID, m.Model = *w.ID, *w.ID
	if w.Name != nil {
		if err := checkName(*w.Name); err != nil {
			return m, fmt.Errorf("name: %w", err)
		}
		m.Name = *w.Name
	}

	if w.Adapter == nil {
		return m, errors.New("adapter: required")
	}
	if err := checkAdapter(*w.Adapter); err != nil {
		return m, fmt.Errorf("adapter: %w", err)
	}
	m.Adapter = *w.Adapter
	if err := setProtocol(&m, &w); err != nil {
		return m, err
	}

	if w.BaseURL != nil {
		u, err := checkBaseURL(*w.BaseURL)
		if err != nil {
			return m, fmt.Errorf("base_url: %w", err)
		}
		m.BaseURL = u
	} else if m.BaseURL = protocols[m.Protocol]; m.BaseURL == "" && m.Adapter != AdapterProcess {
		return m, errors.New("base_url: required")
	}
	if err := setProcess(&m, &w); err != nil {
		return m, err
	}
	if err := setRouting(&m, &w); err != nil {
		return m, err
	}
	if w.Headers != nil {
		if err := checkHeaders(*w.Headers); err != nil {
			return m, fmt.Errorf("headers: %w", err)
		}
		m.Headers = *w.Headers
	}
	if err := setFetch(&m, &w); err != nil {
		return m, err
	}
	if w.Template != nil {
		if m.Protocol != ProtocolTemplate {
			return m, errors.New(`template: only for "protocol": "template"`)
		}
		t, err := parseTemplate(*w.Template)
		if err != nil {
			return m, fmt.Errorf("template: %w", err)
		}
		m.Template = t
	} else if m.Protocol == ProtocolTemplate {
		return m, errors.New(`template: required for "protocol": "template"`)
	}

	if w.Price != nil {
		p, err := parsePrice(*w.Price)
		if err != nil {
			return m, fmt.Errorf("price: %w", err)
		}
		m.Price = p
	}
	if w.APIKey != nil {
		if err := setAPIKey(&m, *w.APIKey); err != nil {
			return m, fmt.Errorf("api_key: %w", err)
		}
	}
	if w.Enabled != nil {
		m.Enabled = *w.Enabled
	}
	if w.Model != nil {
		if *w.Model == "" {
			return m, errors.New("model: must not be empty (omit it to use the id)")
		}
		m.Model = *w.Model
	}
	if t := w.Temperature; t != nil {
		if *t < 0 || *t > 2 {
			return m, fmt.Errorf("temperature: must be between 0 and 2, got %s", formatFloat(*t))
		}
		m.Temperature = t
	}
	if n := w.MaxTokens; n != nil {
		// The gateway's own bound on a client's max_tokens (openai.Peek):
		// providers keep it in 32 bits.
		if *n < 1 || *n > math.MaxInt32 {
			return m, fmt.Errorf("max_tokens: must be between 1 and %d, got %d", math.MaxInt32, *n)
		}
		m.MaxTokens = n
	}
	if w.DropParams != nil {
		if m.Adapter == AdapterOpenAICompat {
			return m, errors.New("drop_params: only for adapters that convert requests (custom_http, anthropic, gemini, process); an openai_compat upstream receives every parameter as sent")
		}
		m.DropParams = *w.DropParams
	}
	if n := w.MaxOutput; n != nil {
		if *n < 1 || *n > math.MaxInt32 {
			return m, fmt.Errorf("max_output_tokens: must be between 1 and %d, got %d", math.MaxInt32, *n)
		}
		m.MaxOutputTokens = *n
	}
	if n := w.ContextWin; n != nil {
		if *n < 1 || *n > math.MaxInt32 {
			return m, fmt.Errorf("context_window: must be between 1 and %d, got %d", math.MaxInt32, *n)
		}
		m.ContextWindow = *n
	}
	if v := w.Responses; v != nil {
		if m.Adapter != AdapterOpenAICompat {
			return m, errors.New(`responses: only for openai_compat entries; other adapters always convert /v1/responses requests`)
		}
		switch *v {
		case ResponsesNative, ResponsesConvert:
			m.Responses = *v
		default:
			return m, fmt.Errorf(`responses: must be "native" (the upstream serves /responses) or "convert", got %q`, *v)
		}
	}
	if m.Adapter == AdapterOpenAICompat && isMistral(m.BaseURL) {
		m.ToolCallIDs = ToolCallIDsAlnum9 // Mistral's rule, unless the entry says otherwise
	}
	if v := w.ToolCallIDs; v != nil {
		if m.Adapter != AdapterOpenAICompat {
			return m, errors.New(`tool_call_ids: only for openai_compat entries; the other adapters write ids their upstreams take`)
		}
		switch *v {
		case ToolCallIDsAsSent, ToolCallIDsAlnum9:
			m.ToolCallIDs = *v
		default:
			return m, fmt.Errorf(`tool_call_ids: must be "as_sent" or "alnum9" (exactly 9 letters and digits, as Mistral requires), got %q`, *v)
		}
	}
	if v := w.StreamUsage; v != nil {
		if m.Adapter != AdapterOpenAICompat {
			return m, errors.New(`stream_usage: only for openai_compat entries; the other adapters always know a stream's usage`)
		}
		m.NoStreamUsage = !*v
	}
	if t := w.Timeout; t != nil {
		d := time.Duration(math.Round(*t * float64(time.Second)))
		if *t <= 0 || *t > maxTimeout || d <= 0 {
			return m, fmt.Errorf("timeout: must be greater than 0 and at most %d seconds, got %s", maxTimeout, formatFloat(*t))
		}
		m.Timeout = d
	}
	if t := w.KeepAlive; t != nil {
		// A floor keeps a typo (0.0001) from turning a silent stream into
		// a flood of comments.
		if *t != 0 && (*t < minKeepAlive || *t > maxTimeout) {
			return m, fmt.Errorf("keepalive_interval: must be 0 (off) or between %s and %d seconds, got %s", formatFloat(minKeepAlive), maxTimeout, formatFloat(*t))
		}
		m.KeepAlive = time.Duration(math.Round(*t * float64(time.Second)))
	}
	return m, nil
}

func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("must not be empty")
	case len(id) > maxIDLen:
		return fmt.Errorf("must be at most %d bytes, got %d", maxIDLen, len(id))
	}
	if i := strings.IndexFunc(id, isSpaceOrControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(id[i:])
		return fmt.Errorf("must not contain whitespace or control characters (found %U)", r)
	}
	return nil
}

// checkName accepts a deployment name: it goes into log lines and the
// X-Aigateway-Deployment header, so it is short printable ASCII without
// spaces, and it must not pass for the default label of another entry.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty (omit it to use models[N])")
	case len(name) > maxNameLen:
		return fmt.Errorf("must be at most %d bytes, got %d", maxNameLen, len(name))
	case strings.HasPrefix(name, "models["):
		return fmt.Errorf("must not start with %q, which names entries by position", "models[")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Errorf("must be printable ASCII without spaces (found %U)", r)
		}
	}
	return nil
}

func checkAdapter(name string) error {
	if !slices.Contains(adapters, name) {
		return fmt.Errorf("unknown adapter type %s (supported: %s)", strconv.Quote(truncate(name)), strings.Join(adapters, ", "))
	}
	return nil
}

// checkBaseURL returns s with trailing slashes trimmed from its path, so
// that adapters can append "/chat/completions" whether or not the file had
// one. A query (Azure OpenAI's ?api-version=...) is allowed and kept: the
// adapters add their paths before it (adapter.JoinURL). Messages never
// echo the URL: it could carry credentials.
func checkBaseURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("must not be empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL text
		}
		return "", fmt.Errorf("not a valid URL: %w", err)
	}
	switch {
	case u.Scheme == "":
		return "", errors.New("must be an absolute http or https URL, e.g. https://api.openai.com/v1")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("must be an http or https URL, got scheme %s", strconv.Quote(truncate(u.Scheme)))
	case u.User != nil:
		return "", errors.New("must not contain user info (put credentials in api_key)")
	case u.Hostname() == "":
		return "", errors.New("must include a host")
	case strings.Contains(s, "#"):
		return "", errors.New("must not have a fragment")
	}
	path, query, _ := strings.Cut(s, "?")
	if err := checkQuery(query); err != nil {
		return "", fmt.Errorf("query: %w", err)
	}
	path = strings.TrimRight(path, "/")
	if query == "" { // a bare "?" means no query
		return path, nil
	}
	return path + "?" + query, nil
}

// checkQuery accepts a URL query as it is sent upstream: name=value pairs
// separated by "&", percent-encoded. Values are not echoed: one may be a
// key.
func checkQuery(q string) error {
	if strings.Contains(q, " ") {
		return errors.New("must be percent-encoded (found a space)")
	}
	if _, err := url.ParseQuery(q); err != nil {
		return errors.New(`must be name=value pairs separated by "&", percent-encoded`)
	}
	return nil
}

// setAPIKey stores a literal key or an environment variable name. Messages
// must never contain a literal key; a variable name is fine.
func setAPIKey(m *Model, s string) error {
	name, fromEnv := strings.CutPrefix(s, envPrefix)
	switch {
	case fromEnv && name == "":
		return errors.New(`"ENV:" must be followed by an environment variable name`)
	case fromEnv && !isEnvName(name):
		// Not echoed: a key pasted after "ENV:" by mistake must not reach a log.
		return errors.New(`"ENV:" must be followed by a valid environment variable name (matching [A-Za-z_][A-Za-z0-9_]*)`)
	case fromEnv:
		m.APIKeyEnv = name
	case s == "":
		return errors.New("must not be empty (omit it when the upstream needs no key)")
	case !isHeaderSafe(s):
		return errors.New("literal key must not contain whitespace or control characters (it is sent in an HTTP header)")
	default:
		m.APIKey = s
	}
	return nil
}

func isEnvName(s string) bool {
	for i, c := range []byte(s) {
		letter := c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// isHeaderSafe reports whether s can be sent as a header value as is.
func isHeaderSafe(s string) bool {
	return !strings.ContainsFunc(s, isSpaceOrControl)
}

// isSpaceOrControl matches whitespace, control and other invisible
// characters (unicode.IsPrint admits only the ASCII space among spaces).
func isSpaceOrControl(r rune) bool {
	return r == ' ' || !unicode.IsPrint(r)
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// setFetch applies fetch_images and fetch_private_addresses. Allowing
// private addresses is refused where it could not apply, so that an entry
// never looks more permissive, or more locked down, than it is.
func setFetch(m *Model, w *wireModel) error {
	if w.FetchImages != nil {
		if m.Protocol != ProtocolGemini {
			return errors.New(`fetch_images: only for the gemini protocol (other upstreams take image URLs themselves)`)
		}
		m.FetchImages = *w.FetchImages
	}
	if w.FetchPrivate != nil {
		if m.Protocol != ProtocolGemini {
			return errors.New(`fetch_private_addresses: only for the gemini protocol, with "fetch_images": true`)
		}
		if !m.FetchImages {
			return errors.New(`fetch_private_addresses: only with "fetch_images": true (it allows image downloads to reach private addresses)`)
		}
		m.FetchPrivateAddresses = *w.FetchPrivate
	}
	return nil
}

// isMistral reports whether baseURL is Mistral's API, whose tool call ids
// must be 9 letters and digits.
func isMistral(baseURL string) bool {
	u, err := url.Parse(baseURL)
	return err == nil && (u.Hostname() == "api.mistral.ai" || strings.HasSuffix(u.Hostname(), ".mistral.ai"))
}
