package api_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"aigateway/internal/api"
	"aigateway/internal/mockllm"
)

// waitLine returns the first line of g's log that contains every one of
// parts, waiting for it: the access line is written after the response.
func (g *gateway) waitLine(t *testing.T, parts ...string) string {
	t.Helper()
	var line string
	waitFor(t, fmt.Sprintf("a log line with %q", parts), func() bool { line = logLine(g.logs.String(), parts...); return line != "" })
	return line
}

// logLine returns the first line of the log that contains every one of
// parts, or "" when none does.
func logLine(logs string, parts ...string) string {
	for line := range strings.Lines(logs) {
		found := true
		for _, p := range parts {
			found = found && strings.Contains(line, p)
		}
		if found {
			return line
		}
	}
	return ""
}

// A named deployment goes by its name in the response header, /health and
// the access log, instead of its position in the file.
func TestNamedDeployment(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraModels: `{"id": "named", "name": "mock-east", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"}`,
	})
	status, header, body := g.post(t, "/v1/chat/completions", `{"model": "named", "messages": [{"role": "user", "content": "hi"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := header.Get("X-Aigateway-Deployment"); got != "mock-east" {
		t.Errorf("X-Aigateway-Deployment = %q, want mock-east", got)
	}
	if s := g.health(t).breaker("named", "mock-east"); s.State != "closed" {
		t.Errorf("/health breaker of mock-east: %+v", s)
	}
	if s := g.health(t).breaker("chat", "models[0]"); s.State != "closed" {
		t.Errorf("an unnamed entry is no longer models[0] in /health: %+v", s)
	}
	g.waitLine(t, "msg=request", "model=named", "deployment=mock-east")
}

// The access line says who asked (address and user agent), what went
// upstream (the upstream model name), and takes durations in milliseconds.
func TestAccessLineFields(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	status, _, body := g.post(t, "/v1/chat/completions", `{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`,
		"User-Agent", "acme-bot/1.2 (ops)", "X-Forwarded-For", "203.0.113.7")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	line := g.waitLine(t, "msg=request", "path=/v1/chat/completions")
	for _, want := range []string{
		"client=127.0.0.1 ", // X-Forwarded-For from an untrusted peer is ignored
		`user_agent="acme-bot/1.2 (ops)"`,
		"deployment=models[0]",
		"upstream_model=mock-model",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("access line lacks %s:\n%s", want, line)
		}
	}
	if !regexp.MustCompile(`latency_ms=\d+(\.\d+)? .*ttfb_ms=\d+(\.\d+)? `).MatchString(line) {
		t.Errorf("durations are not milliseconds as numbers:\n%s", line)
	}
	if strings.Contains(line, "latency=") || strings.Contains(line, "ttfb=") {
		t.Errorf("durations without a unit in the key:\n%s", line)
	}
}

// X-Forwarded-For names the client only when the connection comes from a
// trusted proxy, and only as far as trusted proxies vouch for it: read from
// the right, the first address that is not a trusted proxy.
func TestAccessLineClientBehindTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name, trusted, xff, want string
	}{
		{"untrusted peer", "", "203.0.113.7", "client=127.0.0.1 "},
		{"trusted peer", "127.0.0.1", "198.51.100.1, 203.0.113.7", "client=203.0.113.7 "},
		{"chain of trusted proxies", "127.0.0.0/8, 203.0.113.0/24", "198.51.100.1, 203.0.113.7", "client=198.51.100.1 "},
		{"trusted peer without the header", "::1, 127.0.0.1", "", "client=127.0.0.1 "},
		{"garbled hop", "127.0.0.1", "198.51.100.1, not-an-ip", "client=127.0.0.1 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{trustedProxies: tc.trusted})
			var header []string
			if tc.xff != "" {
				header = []string{"X-Forwarded-For", tc.xff}
			}
			g.do(t, "GET", "/v1/models", "", header...)
			if line := g.waitLine(t, "msg=request", "path=/v1/models"); !strings.Contains(line, tc.want) {
				t.Errorf("want %s in:\n%s", tc.want, line)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := api.ParseTrustedProxies(" 10.0.0.0/8 ,::1,192.168.1.7, ")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[10.0.0.0/8 ::1/128 192.168.1.7/32]" {
		t.Errorf("got %v", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0"} {
		if _, err := api.ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("%q: error %v does not name it", bad, err)
		}
	}
}

// Probes are logged at DEBUG, so that a load balancer's health checks do
// not drown the requests at INFO.
func TestProbeLoggedAtDebug(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	g.health(t)
	g.do(t, "GET", "/v1/models", "")
	if line := g.waitLine(t, "msg=request", "path=/health"); !strings.Contains(line, "level=DEBUG ") {
		t.Errorf("/health access line is not at DEBUG:\n%s", line)
	}
	if line := g.waitLine(t, "msg=request", "path=/v1/models"); !strings.Contains(line, "level=INFO ") {
		t.Errorf("/v1/models access line is not at INFO:\n%s", line)
	}
}

// A local program's access line names the program, where an HTTP
// deployment names its URL.
func TestAccessLineNamesProgram(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{self, "-test.run=^$", "{prompt}"})
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "local", "adapter": "process", "command": ` + string(cmd) + `, "env": {"AIGW_TEST_PROGRAM": "words"}, "timeout": 20}`})
	status, _, body := g.post(t, "/v1/chat/completions", `{"model": "local", "messages": [{"role": "user", "content": "one two"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	line := g.waitLine(t, "msg=request", "model=local")
	if !strings.Contains(line, "upstream="+self+" ") && !strings.Contains(line, "upstream="+strconv.Quote(self)+" ") {
		t.Errorf("access line does not name the program %s:\n%s", self, line)
	}
}

// An error in the log says each fact once: a refused connection names the
// address, and "connection refused" appears once.
func TestLoggedErrorSaysEachFactOnce(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraModels: `{"id": "down", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "api_key": "k", "retries": 0}`,
	})
	if status, _, body := g.post(t, "/v1/chat/completions", `{"model": "down", "messages": [{"role": "user", "content": "hi"}]}`); status != 502 {
		t.Fatalf("status %d: %s", status, body)
	}
	line := g.waitLine(t, "msg=request", "model=down")
	if n := strings.Count(line, "connection refused"); n != 1 || !strings.Contains(line, "127.0.0.1:1") {
		t.Errorf("want the address and one \"connection refused\", got %d:\n%s", n, line)
	}
}

// A failing program's standard error appears once in each log line, and
// its exit status once.
func TestLoggedProgramStderrOnce(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{self, "-test.run=^$"})
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "broken", "adapter": "process", "command": ` + string(cmd) +
		`, "env": {"AIGW_TEST_PROGRAM": "stderr", "AIGW_TEST_STDERR": "marker-7f3a"}, "timeout": 20}`})
	if status, _, body := g.post(t, "/v1/chat/completions", `{"model": "broken", "messages": [{"role": "user", "content": "hi"}]}`); status != 502 {
		t.Fatalf("status %d: %s", status, body)
	}
	line := g.waitLine(t, "msg=request", "model=broken")
	if strings.Count(line, "marker-7f3a") != 1 || strings.Count(line, "status 1") != 1 {
		t.Errorf("want stderr and the exit status once each:\n%s", line)
	}
}

// Breaker transitions are logged with the deployment's name: opened at
// WARN, probing and closed at INFO.
func TestBreakerTransitionsLogged(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := startGateway(t, gatewayOptions{
		now:         clock.Now,
		extraModels: cloudEntry("cut", "MOCK", `"name": "cut-east", "retries": 0, "breaker_failures": 1, "breaker_cool_down": 30`),
	})
	if status, _, body := g.post(t, "/v1/chat/completions", chatFor("cut", `,"stream":true,"mock":{"cut_after":1}`)); status != 200 {
		t.Fatalf("cut stream: %d %s", status, body)
	}
	if logLine(g.logs.String(), "level=WARN", "circuit breaker opened", "deployment=cut-east", "cool_down_ms=30000") == "" {
		t.Errorf("no WARN line for the opened breaker:\n%s", g.logs)
	}
	clock.Add(31 * time.Second)
	if status, _, body := g.post(t, "/v1/chat/completions", chatFor("cut", "")); status != 200 {
		t.Fatalf("probe: %d %s", status, body)
	}
	for _, msg := range []string{"circuit breaker half-open", "circuit breaker closed"} {
		if logLine(g.logs.String(), "level=INFO", msg, "model=cut", "deployment=cut-east") == "" {
			t.Errorf("no INFO line %q for cut-east:\n%s", msg, g.logs)
		}
	}
}

// At DEBUG every attempt is logged with its upstream URL and status, and
// the wait between two attempts with its length.
func TestDebugLogsAttemptsAndWaits(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraMocks:  []mockllm.Options{{Script: failFirst(1, 503, "")}},
		extraModels: cloudEntry("flaky", "MOCK1", `"name": "flaky-1", "retries": 1`),
	})
	if status, _, body := g.post(t, "/v1/chat/completions", chatFor("flaky", "")); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	logs := g.logs.String()
	upstream := "upstream=" + g.extraServers[0].URL + "/v1 "
	for _, parts := range [][]string{
		{"level=DEBUG", "msg=\"upstream attempt\"", "deployment=flaky-1", upstream, "attempt=1", "status=503", "latency_ms="},
		{"level=DEBUG", "msg=\"waited before retrying\"", "attempt=2", "wait_ms="},
		{"level=DEBUG", "msg=\"upstream attempt\"", "deployment=flaky-1", upstream, "attempt=2", "status=200"},
	} {
		if logLine(logs, parts...) == "" {
			t.Errorf("no line with %q:\n%s", parts, logs)
		}
	}
}
