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
	goleak.VerifyTestMain(m)
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
	logs := &lockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--config", writeConfig(t, upstream.URL), "--port", "0", "--shutdown-timeout", "10s"}, logs)
	}()
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
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := client.Get(url + "/health"); err == nil {
		t.Error("the gateway still accepts requests after shutdown")
	}
	log := logs.String()
	if n := strings.Count(log, "model unavailable"); n != 1 || !strings.Contains(log, "AIGW_TEST_UNSET_KEY") {
		t.Errorf("want one warning naming the unset variable, got %d:\n%s", n, log)
	}
}

// A real SIGTERM, sent to a real process, lets an in-flight stream finish.
func TestSIGTERMLetsStreamsFinish(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AIGATEWAY_TEST_RUN_MAIN=1",
		"AIGATEWAY_TEST_ARGS=--port 0 --config "+writeConfig(t, upstream.URL))
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already exited in the normal case
	url := waitListening(t, logs)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
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
