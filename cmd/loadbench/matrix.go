package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// The matrix mode: the gateway alone, driven through each inbound API
// (client protocol) against each kind of upstream, each served by the one
// mockllm process. A row is a passthrough when the upstream speaks the
// client's protocol (the body goes through with its model rewritten),
// else the request and its answer are converted.

// clientProtocol is an inbound API of the gateway and how a client calls it.
type clientProtocol struct {
	name string
	// native is the upstream that speaks this protocol: the row that
	// passes through, and the baseline of the other rows' CPU ratio.
	native   string
	workload func(base, model string, stream bool, chunks int) workload
}

var clientProtocols = []clientProtocol{
	{"chat", "openai", matrixChatWorkload},
	{"messages", "anthropic", messagesWorkload},
	{"responses", "openai-responses", responsesWorkload},
	{"gemini", "gemini", geminiWorkload},
}

// upstream is a kind of deployment, one entry of the gateway's config.
type upstream struct {
	name  string
	model string // the gateway's model id
	// upstreamModel is the entry's "model", what the upstream is asked for.
	upstreamModel string
	// entry is the models.json entry without id and base_url; %s in
	// baseURL is the mock's URL.
	entry, baseURL string
	// only, if set, limits the upstream to one client protocol: an
	// OpenAI-compatible upstream serving /responses natively differs from
	// "openai" only for responses clients.
	only string
}

// The ids differ from the upstream names so that the gateway really
// rewrites the model field, as it does in production.
var upstreams = []upstream{
	{"openai", "bench", "mock-model", `"adapter":"openai_compat","api_key":"sk-bench"`, "%s/v1", ""},
	{"openai-responses", "bench-responses", "mock-model", `"adapter":"openai_compat","api_key":"sk-bench","responses":"native"`, "%s/v1", "responses"},
	{"anthropic", "bench-anthropic", "mock-claude", `"adapter":"anthropic","api_key":"sk-bench","max_tokens":1024`, "%s", ""},
	{"gemini", "bench-gemini", "mock-gemini", `"adapter":"gemini","api_key":"sk-bench"`, "%s", ""},
}

// probePrefix prefixes the id of each upstream's twin entry that points at
// the probe instead of the mock (see probe).
const probePrefix = "probe-"

// gatewayConfig is the gateway's models.json: one entry per upstream, all
// served by the mock at mockURL, and with probeURL set a twin of each
// served by the probe.
func gatewayConfig(mockURL, probeURL string, keys bool) string {
	var entries []string
	for _, u := range upstreams {
		entries = append(entries, u.configEntry(u.model, mockURL, keys))
		if probeURL != "" {
			entries = append(entries, u.configEntry(probePrefix+u.model, probeURL, keys))
		}
	}
	top := ""
	if keys {
		top = benchKeys
	}
	return `{` + top + `"models":[` + strings.Join(entries, ",") + `]}`
}

func (u upstream) configEntry(id, url string, priced bool) string {
	price := ""
	if priced {
		price = `"price":{"input":2.5,"output":10,"cached_input":1.25},`
	}
	return fmt.Sprintf(`{"id":%q,"base_url":%q,"model":%q,%s%s}`, id, fmt.Sprintf(u.baseURL, url), u.upstreamModel, price, u.entry)
}

func clientNames() []string {
	names := make([]string, len(clientProtocols))
	for i, c := range clientProtocols {
		names[i] = c.name
	}
	return names
}

func upstreamNames() []string {
	names := make([]string, len(upstreams))
	for i, u := range upstreams {
		names[i] = u.name
	}
	return names
}

// matrixRow is one client protocol against one upstream.
type matrixRow struct {
	client   clientProtocol
	upstream upstream
}

// passthrough reports whether the upstream speaks the client's protocol,
// so that the gateway should pass the request through.
func (r matrixRow) passthrough() bool { return r.client.native == r.upstream.name }

// matrixRows returns the rows for the comma-separated client and upstream
// names, in the order of clientProtocols and upstreams.
func matrixRows(clients, ups string) ([]matrixRow, error) {
	wantClients, err := pick(clients, clientNames())
	if err != nil {
		return nil, fmt.Errorf("-clients: %w", err)
	}
	wantUpstreams, err := pick(ups, upstreamNames())
	if err != nil {
		return nil, fmt.Errorf("-upstreams: %w", err)
	}
	var rows []matrixRow
	for _, c := range clientProtocols {
		for _, u := range upstreams {
			if slices.Contains(wantClients, c.name) && slices.Contains(wantUpstreams, u.name) && (u.only == "" || u.only == c.name) {
				rows = append(rows, matrixRow{c, u})
			}
		}
	}
	if len(rows) == 0 {
		return nil, errors.New("no client protocol and upstream pair selected")
	}
	return rows, nil
}

func pick(list string, known []string) ([]string, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown %q (known: %s)", name, strings.Join(known, ", "))
		}
		names = append(names, name)
	}
	return names, nil
}

// measurement is one row in one mode.
type measurement struct {
	row    matrixRow
	stream bool
	path   string // what the gateway sent upstream, from the probe
	n      int
	res    *result
	cpuMS  float64 // gateway CPU ms per 1000 requests
}

// runMatrix measures each row non-stream then stream against the gateway
// at base and prints a Markdown table; progress goes to stderr.
func runMatrix(o options, base string, gw *process, pr *probe, rows []matrixRow) error {
	if err := waitReady(base); err != nil {
		return fmt.Errorf("aigateway: %w", err)
	}
	var all []measurement
	for _, stream := range []bool{false, true} {
		for _, row := range rows {
			n := o.requests
			if stream {
				n = o.streamRequests
			}
			path := pr.path(row.client.workload(base, probePrefix+row.upstream.model, stream, o.chunks), row.upstream)
			w := row.client.workload(base, row.upstream.model, stream, o.chunks)
			if warm := load(w, max(o.warmup, 1), o.concurrency); len(warm.latencies) == 0 {
				// Nothing succeeds (e.g. an endpoint this build lacks):
				// report the error instead of measuring failures.
				all = append(all, measurement{row: row, stream: stream, path: path, res: warm})
				fmt.Fprintf(os.Stderr, "%-9s <- %-16s %-10s fails: %v\n", row.client.name, row.upstream.name, modeName(stream), warm.firstErr)
				continue
			}
			cpu0 := gw.cpu()
			res := load(w, n, o.concurrency)
			cpu := gw.cpu() - cpu0
			m := measurement{row: row, stream: stream, path: path, n: n, res: res, cpuMS: float64(cpu.Milliseconds()) * 1000 / float64(n)}
			all = append(all, m)
			fmt.Fprintf(os.Stderr, "%-9s <- %-16s %-10s %7.0f req/s %6.0f CPU ms/1k, %d errors\n",
				row.client.name, row.upstream.name, modeName(stream), float64(n)/res.elapsed.Seconds(), m.cpuMS, res.errors)
		}
	}
	fmt.Printf("concurrency %d, %d non-stream and %d stream requests (%d chunks) per row; CPU = the gateway process's user+system CPU ms per 1000 requests; ratios = CPU / CPU of the passthrough row of the same client protocol, and of chat completions, in the same mode; path = what the gateway sent upstream: the client's body with only the model rewritten (passthrough) or another body (converted), and the upstream path\n\n",
		o.concurrency, o.requests, o.streamRequests, o.chunks)
	fmt.Println("| client API | upstream | path (upstream request) | mode | req/s | p50 | p99 | CPU ms / 1000 req | vs passthrough | vs chat passthrough | errors | incomplete |")
	fmt.Println("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	var notes []string
	for _, m := range all {
		path := m.path
		if m.n == 0 {
			fmt.Printf("| %s | %s | %s | %s | - | - | - | - | - | - | all | %d |\n",
				m.row.client.name, m.row.upstream.name, path, modeName(m.stream), m.res.incomplete)
		} else {
			fmt.Printf("| %s | %s | %s | %s | %.0f | %s | %s | %.0f | %s | %s | %d | %d |\n",
				m.row.client.name, m.row.upstream.name, path, modeName(m.stream),
				float64(m.n)/m.res.elapsed.Seconds(), m.res.p(50), m.res.p(99), m.cpuMS,
				ratio(m, all, m.row.client.name), ratio(m, all, "chat"), m.res.errors, m.res.incomplete)
		}
		if m.res.firstErr != nil {
			notes = append(notes, fmt.Sprintf("- %s <- %s, %s: first error: %v", m.row.client.name, m.row.upstream.name, modeName(m.stream), m.res.firstErr))
		}
	}
	if len(notes) > 0 {
		fmt.Println()
		fmt.Println(strings.Join(notes, "\n"))
	}
	return nil
}

// ratio is m's CPU relative to the passthrough row of client's protocol in
// the same mode: "-" when that row was not measured or failed.
func ratio(m measurement, all []measurement, client string) string {
	if m.n == 0 || m.res.errors > 0 {
		return "-"
	}
	for _, base := range all {
		if base.row.passthrough() && base.row.client.name == client && base.stream == m.stream {
			if base.n == 0 || base.res.errors > 0 || base.cpuMS == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fx", m.cpuMS/base.cpuMS)
		}
	}
	return "-"
}

func modeName(stream bool) string {
	if stream {
		return "stream"
	}
	return "non-stream"
}

// The workloads of the four client protocols: the same conversation (a
// system prompt and one user message, temperature 0.7), each checked for
// a complete answer in its protocol's terms. A stream must end with the
// protocol's last event and carry at least one text delta per chunk the
// mock sends.

func matrixChatWorkload(base, model string, stream bool, chunks int) workload {
	w := chatWorkload(base, model, stream, chunks)
	w.header = http.Header{"Authorization": {"Bearer sk-client"}}
	if stream {
		// A converted stream need not have the passthrough's exact
		// event count (e.g. no separate role chunk).
		w.check = func(b []byte) error {
			if !bytes.HasSuffix(b, doneEvent) || bytes.Count(b, []byte("data: ")) < chunks+1 {
				return errIncomplete
			}
			return nil
		}
	} else {
		w.check = requireJSON("choices.0.message", "")
	}
	return w
}

func messagesWorkload(base, model string, stream bool, chunks int) workload {
	w := workload{
		url: base + "/v1/messages",
		header: http.Header{
			"X-Api-Key":         {"sk-client"},
			"Anthropic-Version": {"2023-06-01"},
		},
		body: []byte(fmt.Sprintf(`{"model":%q,"max_tokens":1024,"stream":%t,"system":%q,"messages":[{"role":"user","content":%q}],"temperature":0.7}`,
			model, stream, systemPrompt, userPrompt)),
		check: requireJSON("type", "message"),
	}
	if stream {
		w.check = requireEvents("event: message_stop\n", "event: content_block_delta\n", chunks)
	}
	return w
}

func responsesWorkload(base, model string, stream bool, chunks int) workload {
	w := workload{
		url:    base + "/v1/responses",
		header: http.Header{"Authorization": {"Bearer sk-client"}},
		// store false, as Codex sends: no conversation is kept.
		body: []byte(fmt.Sprintf(`{"model":%q,"stream":%t,"store":false,"instructions":%q,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":%q}]}],"temperature":0.7}`,
			model, stream, systemPrompt, userPrompt)),
		check: requireJSON("status", "completed"),
	}
	if stream {
		w.check = requireEvents("event: response.completed\n", "event: response.output_text.delta\n", chunks)
	}
	return w
}

func geminiWorkload(base, model string, stream bool, chunks int) workload {
	body := []byte(fmt.Sprintf(`{"systemInstruction":{"parts":[{"text":%q}]},"contents":[{"role":"user","parts":[{"text":%q}]}],"generationConfig":{"temperature":0.7}}`,
		systemPrompt, userPrompt))
	w := workload{
		url:    base + "/v1beta/models/" + model + ":generateContent",
		header: http.Header{"X-Goog-Api-Key": {"sk-client"}},
		body:   body,
		check:  requireJSON("candidates.0.content", ""),
	}
	if stream {
		w.url = base + "/v1beta/models/" + model + ":streamGenerateContent?alt=sse"
		w.check = func(b []byte) error {
			last := b[bytes.LastIndex(b, []byte("data: "))+1:]
			if bytes.Count(b, []byte("data: ")) < chunks || !bytes.Contains(last, []byte(`"finishReason"`)) {
				return errIncomplete
			}
			return nil
		}
	}
	return w
}

// requireJSON checks that a JSON answer has path, equal to want unless want
// is empty.
func requireJSON(path, want string) func([]byte) error {
	return func(b []byte) error {
		v := gjson.GetBytes(b, path)
		if !v.Exists() || (want != "" && v.String() != want) {
			return fmt.Errorf("answer without %s %s", path, want)
		}
		return nil
	}
}

// requireEvents checks that a stream holds end and at least n deltas.
func requireEvents(end, delta string, n int) func([]byte) error {
	return func(b []byte) error {
		if !bytes.Contains(b, []byte(end)) || bytes.Count(b, []byte(delta)) < n {
			return errIncomplete
		}
		return nil
	}
}
