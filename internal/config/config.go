// Package config loads and validates models.json, the list of models the
// gateway serves.
//
// Validation is strict: unknown fields, wrong JSON types and out-of-range
// values are errors rather than being ignored, so a typo fails at startup
// with a message naming the file, the entry and the field instead of quietly
// changing how requests are routed.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"strconv"
	"time"
)

// AdapterOpenAICompat is the adapter for upstreams that speak the OpenAI HTTP
// API (OpenAI itself, DeepSeek, Groq, Mistral, Ollama, vLLM, ...).
const AdapterOpenAICompat = "openai_compat"

// AdapterCustomHTTP is the adapter for upstreams that need protocol
// conversion; Model.Protocol says which.
const AdapterCustomHTTP = "custom_http"

// The custom_http protocols. "anthropic" and "gemini" are also accepted as
// adapter names, short for custom_http with that protocol.
const (
	ProtocolAnthropic = "anthropic"
	ProtocolGemini    = "gemini"
	ProtocolTemplate  = "template"
)

// The values of an openai_compat entry's "responses" field.
const (
	ResponsesNative  = "native"
	ResponsesConvert = "convert"
)

// The values of an openai_compat entry's "tool_call_ids" field.
const (
	ToolCallIDsAsSent = "as_sent"
	ToolCallIDsAlnum9 = "alnum9"
)

// AdapterProcess is the adapter that runs a local program per request.
const AdapterProcess = "process"

// DefaultTimeout is the upstream request timeout used when an entry does not
// set "timeout".
const DefaultTimeout = 60 * time.Second

// DefaultKeepAliveInterval is the keep-alive interval used when an entry
// does not set "keepalive_interval": well below the 30 to 100 seconds after
// which clients and proxies commonly drop a silent connection.
const DefaultKeepAliveInterval = 15 * time.Second

// File is a parsed, validated models.json.
type File struct {
	Path   string  // the file it came from (for messages)
	Models []Model // in file order, including disabled entries
	Access         // keys, admin key, Redis and database URLs
}

// Model is one validated entry with defaults applied.
type Model struct {
	Index       int           // position in the file's models array
	ID          string        // what clients send as "model"
	Name        string        // names the deployment in logs, headers and /health; "" means models[Index]
	Adapter     string        // e.g. AdapterOpenAICompat
	BaseURL     string        // API root including its version; trailing slashes trimmed; may end with a ?query, kept on every upstream URL
	APIKey      string        // the literal key, or "" when APIKeyEnv is set or no key
	APIKeyEnv   string        // variable name when api_key was "ENV:NAME"
	Enabled     bool          // false keeps the entry in the file but out of service
	Model       string        // upstream model name (defaults to ID)
	Temperature *float64      // nil: not configured; otherwise used only when the client sent none
	MaxTokens   *int          // nil: not configured; otherwise used only when the client sent none
	Timeout     time.Duration // default DefaultTimeout
	// DropParams drops request parameters the adapter cannot carry
	// (logged at debug level) instead of refusing them with a 400; false,
	// the default, refuses. Not for openai_compat, which passes every
	// parameter on.
	DropParams bool
	// KeepAlive is how long a started stream may stay silent before the
	// gateway writes a keep-alive comment to the client; 0 turns them off.
	// Default DefaultKeepAliveInterval.
	KeepAlive time.Duration
	// MaxOutputTokens caps the output tokens a client may ask for through
	// an inbound API (Claude Code asks for 32000 and more): a larger
	// max_tokens is lowered to it. 0: no cap.
	MaxOutputTokens int
	// ContextWindow is the model's context window in tokens, for the
	// model lists of the inbound APIs (Anthropic's max_input_tokens,
	// Gemini's inputTokenLimit); 0: not given.
	ContextWindow int
	// Responses says how an openai_compat entry serves /v1/responses:
	// ResponsesNative passes the request through to the upstream's own
	// /responses; ResponsesConvert (the default, "") converts it to chat
	// completions.
	Responses string
	// ToolCallIDs says which tool call ids an openai_compat upstream
	// takes: ToolCallIDsAsSent (the default, "") or ToolCallIDsAlnum9,
	// the default for Mistral's API.
	ToolCallIDs string
	// NoStreamUsage ("stream_usage": false) keeps an openai_compat entry
	// from asking its upstream for a stream's usage
	// (stream_options.include_usage), for servers that refuse the field.
	NoStreamUsage bool
	// Price is what the entry's upstream charges; nil: unknown, cost 0.
	Price *Price

	Protocol              string            // custom_http: anthropic, gemini or template; "" otherwise
	Headers               map[string]string // extra upstream headers; values literal or "ENV:NAME", "{api_key}" is replaced by the key
	FetchImages           bool              // gemini: download http(s) image URLs (Gemini cannot take them)
	FetchPrivateAddresses bool              // with FetchImages: downloads may reach loopback, private, link-local addresses
	Template              *Template         // protocol template only

	Process *Process // process adapter only

	// Routing. Entries sharing an id form a pool of deployments.
	Weight    int      // share of traffic within its priority tier; default 1
	Priority  int      // lower is preferred; default 0
	Fallbacks []string // pool setting: models tried in order when every deployment failed; nil = none
	Retries   *int     // pool setting: attempts after the first; nil = DefaultRetries
	Timeouts  Timeouts
	Breaker   BreakerSettings
}

// DefaultRetries is the number of attempts after the first.
const DefaultRetries = 2

// Timeouts bound one upstream attempt. Zero values mean the defaults
// documented on each field; the adapters apply them.
type Timeouts struct {
	Connect   time.Duration // TCP and TLS connect; default 10s
	FirstByte time.Duration // until the response headers; default Timeout
	Idle      time.Duration // between two reads of the response; default Timeout
	Total     time.Duration // the whole attempt, stream included; default none
}

// BreakerSettings configure a deployment's circuit breaker; zero values
// mean the breaker's defaults.
type BreakerSettings struct {
	Failures int           // consecutive failures that open it
	CoolDown time.Duration // first open period
}

// PoolKey identifies a deployment across reloads: entries with the same
// content are the same deployment, so its breaker state survives a reload.
func (m *Model) PoolKey() string {
	c := *m
	c.Index = 0             // moving an entry in the file does not make it another deployment
	c.Name = ""             // nor does renaming it: its breaker state and connections carry on
	c.Price = nil           // nor does a new price: it only changes what the ledger charges
	b, _ := json.Marshal(c) // a plain struct: cannot fail
	return string(b)
}

// Load reads and parses the models file at path. Messages name the file by
// path, so pass the path the operator configured.
func Load(path string) (*File, error) {
	data, err := readFile(path)
	if err != nil {
		// The *fs.PathError already carries the path; the prefix says what
		// was being read.
		return nil, fmt.Errorf("reading models config: %w", err)
	}
	return Parse(path, data)
}

// MaxFileBytes bounds the models file; a real one is a few kilobytes.
const MaxFileBytes = 16 << 20

// readFile reads a regular file of at most MaxFileBytes. Anything else
// (a FIFO, a device, a directory) is refused without reading it: opening a
// FIFO for reading blocks until a writer appears, which would hang a reload
// and, with it, shutdown.
func readFile(path string) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("not a regular file (%s)", st.Mode().Type())}
	}
	if st.Size() > MaxFileBytes {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("file is larger than %d bytes", MaxFileBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("file is larger than %d bytes", MaxFileBytes)}
	}
	return data, nil
}

// Parse parses and validates the contents of a models file. name is used only
// in error messages. It reports the first error found, in file order.
func Parse(name string, data []byte) (*File, error) {
	f, errs := parse(name, data, false)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return f, nil
}

// LoadAll is Load reporting every problem ParseAll finds, for `aigateway
// check`; the server uses Load.
func LoadAll(path string) (*File, []error) {
	data, err := readFile(path)
	if err != nil {
		return nil, []error{fmt.Errorf("reading models config: %w", err)}
	}
	return ParseAll(path, data)
}

// ParseAll is Parse reporting every problem it finds rather than only the
// first: one error per broken entry (each naming the file, the entry and
// the field), then the fallbacks and the access settings. The File is nil
// when there is any error. A file that is not valid JSON, or whose top
// level is wrong, yields that one error: nothing below it can be read.
func ParseAll(name string, data []byte) (*File, []error) {
	f, errs := parse(name, data, true)
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// parse does Parse's work; with all, it carries on after an error to find
// the rest.
func parse(name string, data []byte, all bool) (*File, []error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, []error{fmt.Errorf(`%s: file is empty (expected a JSON object with a "models" array)`, name)}
	}
	// Validate the whole input first (this also rejects trailing data after
	// the value), so every later step only sees well-formed JSON.
	var top json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, []error{syntaxError(name, data, err)}
	}
	w, err := parseTop(top)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", name, err)}
	}
	entries := w.Models

	var errs []error
	fail := func(err error) bool {
		errs = append(errs, err)
		return !all
	}
	f := &File{Path: name, Models: make([]Model, 0, len(entries))}
	seen := make(map[string]int, len(entries))
	names := make(map[string]int, len(entries))
	// broken holds the ids of entries that failed to parse, so that a
	// fallback naming one is not reported a second time as unknown.
	broken := make(map[string]int)
	for i, raw := range entries {
		label := entryLabel(i, peekID(raw))
		m, err := parseModel(raw)
		if err != nil {
			if id := peekID(raw); id != "" {
				broken[id] = i
			}
			if fail(fmt.Errorf("%s: %s: %w", name, label, err)) {
				return nil, errs
			}
			continue
		}
		m.Index = i
		if m.Name != "" {
			if j, dup := names[m.Name]; dup {
				if fail(fmt.Errorf("%s: %s: name: %q is already the name of models[%d]", name, label, m.Name, j)) {
					return nil, errs
				}
				continue
			}
			names[m.Name] = i
		}
		if j, dup := seen[m.ID]; dup {
			// A second entry with the same id is another deployment of the
			// same model; pool settings must then agree.
			if err := samePoolSettings(&f.Models[j], &m); err != nil {
				if fail(fmt.Errorf("%s: %s: %w", name, label, err)) {
					return nil, errs
				}
				continue
			}
		} else {
			seen[m.ID] = len(f.Models)
		}
		f.Models = append(f.Models, m)
	}
	known := seen
	if len(broken) > 0 {
		known = make(map[string]int, len(seen)+len(broken))
		maps.Copy(known, broken)
		maps.Copy(known, seen)
	}
	for i := range f.Models {
		if err := checkFallbacks(&f.Models[i], known); err != nil {
			if fail(fmt.Errorf("%s: %s: %w", name, f.Models[i].Label(), err)) {
				return nil, errs
			}
		}
	}
	if f.Access, err = parseAccess(w); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// ResolveAPIKey returns the key to send upstream. When the key comes from an
// environment variable that is unset or empty it returns ok=false and a reason
// naming the variable (never a value), e.g. `environment variable
// OPENAI_API_KEY is not set`, so the gateway can start and explain why a model
// is unavailable. A nil lookupEnv means os.LookupEnv.
func (m *Model) ResolveAPIKey(lookupEnv func(string) (string, bool)) (key string, reason string, ok bool) {
	if m.APIKeyEnv == "" {
		return m.APIKey, "", true
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	v, set := lookupEnv(m.APIKeyEnv)
	switch {
	case !set:
		return "", fmt.Sprintf("environment variable %s is not set", m.APIKeyEnv), false
	case v == "":
		return "", fmt.Sprintf("environment variable %s is set but empty", m.APIKeyEnv), false
	case !isHeaderSafe(v):
		// The key goes into an HTTP header; a stray newline would break the
		// request in a far less obvious way.
		return "", fmt.Sprintf("environment variable %s contains whitespace or control characters", m.APIKeyEnv), false
	}
	return v, "", true
}

// DeploymentName returns the name that logs, headers and /health use for
// the entry: its configured name, or models[i].
func (m *Model) DeploymentName() string {
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("models[%d]", m.Index)
}

// Label returns `models[i] (id "x")`, the way messages and logs refer to an
// entry so that it can be found in the file.
func (m *Model) Label() string {
	return entryLabel(m.Index, m.ID)
}

// entryLabel names entry i; id is left out when it is not known.
func entryLabel(i int, id string) string {
	if id == "" {
		return fmt.Sprintf("models[%d]", i)
	}
	return fmt.Sprintf("models[%d] (id %s)", i, strconv.Quote(truncate(id)))
}
