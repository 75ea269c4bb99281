package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.uber.org/goleak"

	"aigateway/internal/api"
	"aigateway/internal/breaker"
	"aigateway/internal/config"
	"aigateway/internal/dashboard"
	"aigateway/internal/ledger"
	"aigateway/internal/limits"
	"aigateway/internal/metrics"
	"aigateway/internal/mockllm"
	"aigateway/internal/registry"
	"aigateway/internal/router"
	"aigateway/internal/tracing"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a local "model" for the process adapter:
	// "words" writes the words of its last argument one by one (or, when
	// that is "flood", writes without end), after sleeping
	// $AIGW_TEST_SLEEP_MS when set (a model loading its weights);
	// "stderr" writes $AIGW_TEST_STDERR to standard error and fails.
	switch os.Getenv("AIGW_TEST_PROGRAM") {
	case "words":
		if ms, err := strconv.Atoi(os.Getenv("AIGW_TEST_SLEEP_MS")); err == nil {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		if os.Args[len(os.Args)-1] == "flood" {
			flood := bytes.Repeat([]byte("flood "), 10000)
			for {
				if _, err := os.Stdout.Write(flood); err != nil {
					os.Exit(1)
				}
			}
		}
		for _, w := range strings.Fields(os.Args[len(os.Args)-1]) {
			fmt.Print(w, " ")
			time.Sleep(5 * time.Millisecond)
		}
		os.Exit(0)
	case "stderr":
		fmt.Fprintln(os.Stderr, "error: cannot load the model with token "+os.Getenv("AIGW_TEST_STDERR"))
		os.Exit(1)
	case "traceparent": // answers with the trace context it was started with
		fmt.Print("traceparent=" + os.Getenv("TRACEPARENT"))
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// upstreamKey is the key the gateway sends to the mock; no response or log
// line may ever contain it.
const upstreamKey = "sk-upstream-secret-0123456789"

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gateway is a gateway in front of a mock upstream, both over real HTTP.
type gateway struct {
	URL  string
	mock *mockllm.Server
	// upstreamURL is the mock's server.
	upstreamURL string
	logs        *syncBuffer
	// extra are the additional mocks of gatewayOptions.extraMocks;
	// extraServers serve them (tests close one to kill a deployment).
	extra        []*mockllm.Server
	extraServers []*httptest.Server
	breakers     *breaker.Set
	reg          *registry.Registry
	router       *router.Router
	api          *api.Server
	server       *httptest.Server // serves api
	activity     *dashboard.Activity
}

type gatewayOptions struct {
	mock         mockllm.Options
	extraModels  string // more models.json entries, comma-separated; MOCK is replaced by the mock's URL
	chatDefaults string // extra fields of the "chat" entry, e.g. `"temperature": 0.5,`
	maxBody      int64
	// bodyTimeout and bodyRate set api.Options.BodyReadTimeout and
	// BodyMinRate; zero means the defaults.
	bodyTimeout time.Duration
	bodyRate    int64
	env         map[string]string
	// extraMocks starts more mock upstreams; MOCK1, MOCK2, ... in
	// extraModels name them (MOCK alone is the first mock).
	extraMocks []mockllm.Options
	// now is the breakers' clock; nil means time.Now.
	now func() time.Time
	// imageLookup and imageDial are the registry's hooks for Gemini image
	// downloads; nil means the real resolver and network.
	imageLookup func(ctx context.Context, host string) ([]netip.Addr, error)
	imageDial   func(ctx context.Context, network, addr string) (net.Conn, error)
	// writeTimeout is api.Options.WriteTimeout.
	writeTimeout time.Duration
	// retry is api.Options.Retry; zero means waits of a few milliseconds
	// (Retry-After capped at 50ms), so that retries do not slow the tests.
	retry api.RetryPolicy
	// trustedProxies is api.Options.TrustedProxies, as the flag gives it.
	trustedProxies string
	// dialects are the inbound APIs; nil means defaultDialects().
	dialects *api.Dialects
	// top are more top-level members of models.json, each followed by a
	// comma, e.g. `"keys": [...],`.
	top string
	// limiter, ledger and usage are api.Options' Limiter, Ledger and Usage.
	limiter limits.Limiter
	ledger  api.Ledger
	usage   api.UsageReader
	// metrics turns the Prometheus metrics on (api.Options.Metrics), with
	// the ledger's series when ledger is a *ledger.Writer.
	metrics bool
	// activity turns the dashboard on (api.Options.Activity).
	activity bool
	// tracing is api.Options.Tracing, and wraps the upstream transport
	// as cmd/aigateway does.
	tracing *tracing.Tracing
}

// startGateway starts a mock upstream and a gateway whose model "chat" is
// the mock's "mock-model".
func startGateway(t testing.TB, o gatewayOptions) *gateway {
	t.Helper()
	o.mock.Record = true
	o.mock.APIKey = upstreamKey
	mock := mockllm.New(o.mock)
	upstream := httptest.NewServer(mock)
	t.Cleanup(upstream.Close)

	g := &gateway{mock: mock, upstreamURL: upstream.URL}
	models := o.extraModels
	for i := len(o.extraMocks); i >= 1; i-- { // MOCK10 before MOCK1
		mo := o.extraMocks[i-1]
		mo.Record = true
		mo.APIKey = upstreamKey
		m := mockllm.New(mo)
		srv := httptest.NewServer(m)
		t.Cleanup(srv.Close)
		g.extra = append([]*mockllm.Server{m}, g.extra...)
		g.extraServers = append([]*httptest.Server{srv}, g.extraServers...)
		models = strings.ReplaceAll(models, fmt.Sprintf("MOCK%d", i), srv.URL)
	}
	extra := ""
	if models != "" {
		extra = "," + strings.ReplaceAll(models, "MOCK", upstream.URL)
	}
	cfg := fmt.Sprintf(`{%s "models": [
		{"id": "chat", "adapter": "openai_compat", "base_url": %q, "api_key": %q, "model": "mock-model", %s "timeout": 5}%s
	]}`, o.top, upstream.URL+"/v1/", upstreamKey, o.chatDefaults, extra)
	file, err := config.Parse("test-models.json", []byte(cfg))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	transport := registry.NewTransport()
	t.Cleanup(transport.CloseIdleConnections)
	g.breakers = breaker.NewSet(breaker.Settings{Now: o.now})
	reg, err := registry.Build(file, registry.Deps{
		Transport:   o.tracing.Transport(transport),
		Logger:      logger,
		Breakers:    g.breakers,
		LookupEnv:   func(k string) (string, bool) { v, ok := o.env[k]; return v, ok },
		ImageLookup: o.imageLookup,
		ImageDial:   o.imageDial,
	})
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	g.reg = reg
	if o.retry == (api.RetryPolicy{}) {
		o.retry = api.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond, MaxRetryAfter: 50 * time.Millisecond}
	}
	trusted, err := api.ParseTrustedProxies(o.trustedProxies)
	if err != nil {
		t.Fatalf("trusted proxies: %v", err)
	}
	if o.dialects == nil {
		d := defaultDialects()
		o.dialects = &d
	}
	g.router = router.New(reg)
	var m *metrics.Metrics
	if o.metrics {
		src := metrics.Sources{Registry: g.router.Registry}
		if w, ok := o.ledger.(*ledger.Writer); ok {
			src.Ledger = w.Stats
		}
		m = metrics.New(src)
	}
	if o.activity {
		g.activity = dashboard.NewActivity()
	}
	g.api = api.New(api.Options{Router: g.router, Logger: logger, MaxBodyBytes: o.maxBody, WriteTimeout: o.writeTimeout,
		BodyReadTimeout: o.bodyTimeout, BodyMinRate: o.bodyRate, Retry: o.retry, TrustedProxies: trusted, Dialects: *o.dialects,
		Limiter: o.limiter, Ledger: o.ledger, Usage: o.usage, Metrics: m, Activity: g.activity, Tracing: o.tracing})
	srv := httptest.NewServer(g.api)
	g.server = srv
	t.Cleanup(srv.Close)
	g.URL, g.logs = srv.URL, logs
	t.Cleanup(func() {
		if strings.Contains(logs.String(), upstreamKey) {
			t.Errorf("the upstream key appears in the gateway log:\n%s", logs.String())
		}
	})
	return g
}

// client is the official OpenAI SDK pointed at the gateway, without retries
// so that every status reaches the test.
func (g *gateway) client(t *testing.T) openai.Client {
	httpClient := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(httpClient.CloseIdleConnections)
	return openai.NewClient(
		option.WithBaseURL(g.URL+"/v1/"),
		option.WithAPIKey("sk-client-key-for-the-gateway"),
		option.WithMaxRetries(0),
		option.WithHTTPClient(httpClient),
	)
}

// post sends a raw request and returns status, headers and body.
func (g *gateway) post(t *testing.T, path, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	return g.do(t, http.MethodPost, path, body, header...)
}

func (g *gateway) do(t *testing.T, method, path, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s %s: %v", method, path, err)
	}
	if strings.Contains(string(b), upstreamKey) {
		t.Errorf("response contains the upstream key: %s", b)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// lastUpstream returns the last request the mock received.
func (g *gateway) lastUpstream(t *testing.T) mockllm.Request {
	t.Helper()
	reqs := g.mock.Requests()
	if len(reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return reqs[len(reqs)-1]
}
