package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"aigateway/internal/mockllm"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the gateway binary so that real signals can
	// be tested without a separate build.
	if os.Getenv("AIGATEWAY_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"aigateway"}, strings.Fields(os.Getenv("AIGATEWAY_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	// Every gateway the tests start, in this process or as a child,
	// writes its usage ledger to a file of this run, not into the source
	// tree.
	dir, err := os.MkdirTemp("", "aigateway-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, set := os.LookupEnv("AIGATEWAY_LEDGER_FILE"); !set {
		os.Setenv("AIGATEWAY_LEDGER_FILE", filepath.Join(dir, "usage.db"))
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer is an io.Writer for logs written while the test reads them.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenRE = regexp.MustCompile(`addr=(http://127\.0\.0\.1:\d+)`)

// waitListening returns the gateway's URL once its log says it listens.
func waitListening(t *testing.T, logs interface{ String() string }) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the gateway did not start; log:\n%s", logs.String())
	return ""
}

// startRun starts the gateway in-process with args, as main would, logging
// to logs. stop is what SIGINT/SIGTERM do; wait returns run's result once
// it returned (again on later calls). The test's cleanup stops it and
// waits, so that no run outlives its test.
func startRun(t *testing.T, args ...string) (logs *lockedBuffer, stop context.CancelFunc, wait func() error) {
	t.Helper()
	logs = &lockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, logs) }()
	var once sync.Once
	var err error
	wait = func() error {
		once.Do(func() { err = <-done })
		return err
	}
	t.Cleanup(func() { stop(); wait() }) //nolint:errcheck // the test checks the result it cares about
	return logs, stop, wait
}

func writeConfig(t *testing.T, upstreamURL string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "models.json")
	cfg := fmt.Sprintf(`{"models": [
		{"id": "chat", "adapter": "openai_compat", "base_url": %q, "model": "mock-model"},
		{"id": "gpt-4o", "adapter": "openai_compat", "base_url": "https://api.openai.com/v1", "api_key": "ENV:AIGW_TEST_UNSET_KEY"}
	]}`, upstreamURL+"/v1")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// streamChat starts a slow stream and returns a reader positioned after the
// first event.
func streamChat(t *testing.T, client *http.Client, url string) (*http.Response, *bufio.Reader) {
	t.Helper()
	body := `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":5,"chunk_delay_ms":100}}`
	resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return resp, r
}

func TestRunServesAndDrainsOnShutdown(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	logs, stop, wait := startRun(t, "--config", writeConfig(t, upstream.URL), "--port", "0", "--shutdown-timeout", "10s", "--drain-delay", "0")
	url := waitListening(t, logs)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	resp, r := streamChat(t, client, url)
	defer resp.Body.Close()
	stop() // what SIGINT/SIGTERM do
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("the stream broke during shutdown: %v", err)
	}
	if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("the stream did not finish during shutdown: %q", rest)
	}
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := client.Get(url + "/health"); err == nil {
		t.Error("the gateway still accepts requests after shutdown")
	}
	log := logs.String()
	if n := strings.Count(log, `level=INFO msg="model not configured"`); n != 1 || !strings.Contains(log, "AIGW_TEST_UNSET_KEY") {
		t.Errorf("want one INFO line naming the unset variable, got %d:\n%s", n, log)
	}
	if strings.Contains(log, "level=WARN") {
		t.Errorf("a model without its key is logged as a warning:\n%s", log)
	}
}

// A real SIGHUP reloads the config, and a real SIGTERM, sent to a real
// process, lets an in-flight stream finish.
func TestSIGTERMLetsStreamsFinish(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AIGATEWAY_TEST_RUN_MAIN=1",
		"AIGATEWAY_TEST_ARGS=--port 0 --drain-delay 200ms --config "+writeConfig(t, upstream.URL))
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already exited in the normal case
	url := waitListening(t, logs)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "trigger=signal", 1)
	resp, r := streamChat(t, client, url)
	defer resp.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("stream after SIGTERM: %q, %v", rest, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("the gateway exited with %v; log:\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("no clean stop in the log:\n%s", logs.String())
	}
}

func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://x/v1", "temperature": 9}]}`), 0o600)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad config", []string{"--config", bad}, nil, `bad.json: models[0] (id "a"): temperature: must be between 0 and 2, got 9`},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.json")}, nil, "nope.json"},
		{"bad port env", []string{"--config", bad}, map[string]string{"AIGATEWAY_PORT": "http"}, `environment variable AIGATEWAY_PORT: "http" is not an integer`},
		{"bad log format", []string{"--config", bad, "--log-format", "xml"}, nil, `--log-format: "xml" is not text or json`},
		{"stray argument", []string{"serve"}, nil, `unexpected argument "serve"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := run(context.Background(), tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	var help strings.Builder
	if err := run(context.Background(), []string{"--help"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	for _, env := range []string{"AIGATEWAY_CONFIG", "AIGATEWAY_HOST", "AIGATEWAY_PORT", "AIGATEWAY_LOG_FORMAT"} {
		if !strings.Contains(help.String(), env) {
			t.Errorf("--help does not document %s", env)
		}
	}
}

// writeFileAtomically replaces path by renaming a temporary file over it,
// as editors and config-management tools do.
func writeFileAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitLog(t *testing.T, logs *lockedBuffer, what string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), what) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log (%d wanted):\n%s", what, n, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reloading under load: no request fails, new requests go to the new
// upstream, and a bad config is rejected while the old one keeps serving.
func TestReloadUnderLoad(t *testing.T) {
	a, b := mockllm.New(mockllm.Options{}), mockllm.New(mockllm.Options{})
	upA, upB := httptest.NewServer(a), httptest.NewServer(b)
	defer upA.Close()
	defer upB.Close()
	cfg := func(url string) string {
		return fmt.Sprintf(`{"models": [{"id": "chat", "adapter": "openai_compat", "base_url": %q, "model": "mock-model"}]}`, url+"/v1")
	}
	path := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(path, []byte(cfg(upA.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, stop, wait := startRun(t, "--config", path, "--port", "0", "--drain-delay", "0")
	defer func() { stop(); wait() }()
	url := waitListening(t, logs)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var failed, sent atomic.Int64
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := i%2 == 1
			body := fmt.Sprintf(`{"model":"chat","stream":%t,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":5,"chunk_delay_ms":2}}`, stream)
			for loadCtx.Err() == nil {
				resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || (stream && !strings.HasSuffix(string(b), "data: [DONE]\n\n")) {
					failed.Add(1)
				}
			}
		}()
	}
	waitFor := func(cond func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(func() bool { return sent.Load() > 50 })
	writeFileAtomically(t, path, cfg(upB.URL))
	waitLog(t, logs, "config reloaded", 1)
	bBefore := b.Stats().Requests
	waitFor(func() bool { return b.Stats().Requests > bBefore+50 })

	writeFileAtomically(t, path, `{"models": [{"id": "chat", "adapter": "openai_compat"}]}`) // no base_url
	waitLog(t, logs, "config reload failed", 1)
	n := sent.Load()
	waitFor(func() bool { return sent.Load() > n+50 })
	stopLoad()
	wg.Wait()

	if f := failed.Load(); f != 0 {
		t.Errorf("%d of %d requests failed during reloads", f, sent.Load())
	}
	if b.Stats().Requests == 0 {
		t.Error("the reloaded config's upstream got no request")
	}
	if !strings.Contains(logs.String(), `models[0] (id \"chat\"): base_url: required`) {
		t.Errorf("the rejected config's error is not in the log:\n%s", logs.String())
	}
}

func TestDefaultMaxConnections(t *testing.T) {
	for _, tc := range []struct {
		fileLimit uint64
		want      int
	}{
		{0, 4096},         // unknown limit
		{100, 16},         // tiny limit: the floor
		{1024, 464},       // a common shell default
		{65536, 16384},    // capped
		{1 << 63, 16384},  // "unlimited"
		{8192 + 96, 4096}, // half of what is left after the spare descriptors
	} {
		if got := defaultMaxConnections(tc.fileLimit); got != tc.want {
			t.Errorf("defaultMaxConnections(%d) = %d; want %d", tc.fileLimit, got, tc.want)
		}
	}
}

// A reload that changes a local model's entry must not let its new adapter
// start a program while the old adapter's program still holds the only
// slot (max_concurrency 1): the request is refused (queue_size 0 in the new
// entry) until the old program ended, and the programs' log shows them one
// at a time.
func TestReloadKeepsProcessConcurrency(t *testing.T) {
	dir := t.TempDir()
	script, gate, runLog := filepath.Join(dir, "model.sh"), filepath.Join(dir, "gate"), filepath.Join(dir, "runs.log")
	prog := "#!/bin/sh\necho start >> \"$RUNLOG\"\nwhile [ ! -e \"$GATE\" ]; do sleep 0.01; done\necho end >> \"$RUNLOG\"\nprintf 'answer from %s' \"$1\"\n"
	if err := os.WriteFile(script, []byte(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := func(version, extra string) string {
		return fmt.Sprintf(`{"models": [{"id": "local", "adapter": "process", "command": [%q, %q],
			"env": {"GATE": %q, "RUNLOG": %q}, "max_concurrency": 1%s}]}`, script, version, gate, runLog, extra)
	}
	path := filepath.Join(dir, "models.json")
	if err := os.WriteFile(path, []byte(cfg("v1", `, "queue_size": 4`)), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, stop, wait := startRun(t, "--config", path, "--port", "0", "--drain-delay", "0")
	defer func() { stop(); wait() }()
	url := waitListening(t, logs)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	chat := func() (int, string) {
		resp, err := client.Post(url+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"local","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type answer struct {
		status int
		body   string
	}
	first := make(chan answer, 1)
	go func() { s, b := chat(); first <- answer{s, b} }()
	deadline := time.Now().Add(10 * time.Second)
	for b, _ := os.ReadFile(runLog); string(b) != "start\n"; b, _ = os.ReadFile(runLog) {
		if time.Now().After(deadline) {
			t.Fatalf("the first program did not start; log %q", b)
		}
		time.Sleep(5 * time.Millisecond)
	}

	writeFileAtomically(t, path, cfg("v2", `, "queue_size": 0, "timeout": 5`))
	waitLog(t, logs, "config reloaded", 1)
	if status, body := chat(); status != http.StatusTooManyRequests || !strings.Contains(body, "queue_full") {
		t.Errorf("a request to the reloaded model while the old program runs got %d %s, want 429 queue_full", status, body)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if a := <-first; a.status != http.StatusOK || !strings.Contains(a.body, "answer from v1") {
		t.Errorf("the request in flight during the reload got %d %s", a.status, a.body)
	}
	if status, body := chat(); status != http.StatusOK || !strings.Contains(body, "answer from v2") {
		t.Errorf("after the old program ended: %d %s, want the new command's answer", status, body)
	}
	if b, _ := os.ReadFile(runLog); string(b) != "start\nend\nstart\nend\n" {
		t.Errorf("programs ran %q, want one at a time", b)
	}
}
