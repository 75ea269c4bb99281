package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

// getStatus answers the status and body of GET url, or the error.
func getStatus(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// On shutdown, /ready and /health answer 503 for the drain delay while
// requests are still served; only then does the listener close.
func TestDrainDelayTurnsProbesAwayFirst(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	logs, stop, wait := startRun(t, "--config", writeConfig(t, upstream.URL), "--port", "0", "--drain-delay", "1s")
	url := waitListening(t, logs)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if status, body, err := getStatus(client, url+"/ready"); status != 200 || body != `{"status":"ready"}` {
		t.Fatalf("/ready before the stop: %d %s %v", status, body, err)
	}

	stopped := time.Now()
	stop() // what SIGINT/SIGTERM do
	waitLog(t, logs, `msg="draining`, 1)
	if status, body, err := getStatus(client, url+"/ready"); status != 503 || body != `{"status":"draining"}` {
		t.Errorf("/ready while draining: %d %s %v", status, body, err)
	}
	if status, body, err := getStatus(client, url+"/health"); status != 503 || !strings.Contains(body, `"status":"draining"`) {
		t.Errorf("/health while draining: %d %s %v", status, body, err)
	}
	resp, err := client.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatalf("a request while draining: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a request while draining: %d", resp.StatusCode)
	}
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if took := time.Since(stopped); took < time.Second {
		t.Errorf("the gateway stopped %s after the signal, before the 1s drain delay ended", took)
	}
	if _, err := client.Get(url + "/ready"); err == nil {
		t.Error("the gateway still accepts requests after shutdown")
	}
	log := logs.String()
	if !strings.Contains(log, "drain_delay_ms=1000") || strings.Index(log, `msg="draining`) > strings.Index(log, "msg=\"shutting down") {
		t.Errorf("the log does not show the drain delay before the shutdown:\n%s", log)
	}
}

// A stream that outlives --shutdown-timeout ends with a gateway_shutdown
// event, and its access line says so instead of 499.
func TestShutdownTimeoutEndsStreamsWithGatewayShutdown(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	logs, stop, wait := startRun(t, "--config", writeConfig(t, upstream.URL), "--port", "0", "--drain-delay", "0", "--shutdown-timeout", "300ms")
	url := waitListening(t, logs)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	body := `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":100,"chunk_delay_ms":100}}`
	resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	stop()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Errorf("the stream broke off without its error event: %v", err)
	}
	if !strings.Contains(string(rest), `"code":"gateway_shutdown"`) || strings.Contains(string(rest), "[DONE]") {
		t.Errorf("the stream cut at shutdown did not end with a gateway_shutdown event: %q", tail(string(rest), 400))
	}
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	var access string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "msg=request") && strings.Contains(line, "stream=true") {
			access = line
		}
	}
	if !strings.Contains(access, "status=200") || !strings.Contains(access, `error="gateway_shutdown:`) {
		t.Errorf("access line of the cut stream: %q\nlog:\n%s", access, logs.String())
	}
	if !strings.Contains(logs.String(), "ending streams with gateway_shutdown") {
		t.Errorf("the log does not say that streams were ended:\n%s", logs.String())
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"--version", "--config", "/nonexistent.json"}, &out); err != nil {
		t.Fatalf("--version: %v", err)
	}
	if v := out.String(); !strings.HasPrefix(v, "aigateway ") || strings.Count(v, "\n") != 1 {
		t.Errorf("--version printed %q", v)
	}
	out.Reset()
	if err := run(context.Background(), []string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	help := out.String()
	if !strings.HasPrefix(help, "aigateway serves one OpenAI-compatible HTTP API") || !strings.Contains(help, "-drain-delay") || !strings.Contains(help, "AIGATEWAY_DRAIN_DELAY") {
		t.Errorf("--help:\n%s", help)
	}
}

// /ready, like /health, is served from the connection cap's probe reserve.
func TestReadyIsAProbe(t *testing.T) {
	for path, want := range map[string]bool{"/ready": true, "/health": true, "/v1/models": false, "/ready/x": false} {
		if isProbe(path) != want {
			t.Errorf("isProbe(%q) = %v, want %v", path, !want, want)
		}
	}
}

// A second SIGTERM (or Ctrl-C) during the drain delay ends it early.
func TestSecondSignalSkipsDrainDelay(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AIGATEWAY_TEST_RUN_MAIN=1",
		"AIGATEWAY_TEST_ARGS=--port 0 --drain-delay 30s --config "+writeConfig(t, upstream.URL))
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already exited in the normal case
	waitListening(t, logs)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, `msg="draining`, 1)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil || !strings.Contains(logs.String(), "msg=stopped") {
			t.Errorf("the gateway exited with %v; log:\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill() //nolint:errcheck // the test failed
		<-exited
		t.Errorf("a second SIGTERM did not end the 30s drain delay; log:\n%s", logs.String())
	}
}
