package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

// replica is one gateway process of TestRollingRestartLosesNoRequest.
type replica struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	addr string // host:port, kept across restarts
}

// startReplica starts the gateway (this test binary, see TestMain) on
// port (0: any free one) and waits until it listens.
func startReplica(t *testing.T, config string, port int) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AIGATEWAY_TEST_RUN_MAIN=1",
		fmt.Sprintf("AIGATEWAY_TEST_ARGS=--port %d --drain-delay 1s --shutdown-timeout 10s --config %s", port, config))
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() }) //nolint:errcheck // exited already in the normal case
	url := waitListening(t, logs)
	return &replica{cmd: cmd, logs: logs, addr: strings.TrimPrefix(url, "http://")}
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Wait(); err != nil || !strings.Contains(r.logs.String(), "msg=stopped") {
		t.Fatalf("replica %s exited with %v; log:\n%s", r.addr, err, r.logs.String())
	}
}

// balancer is a minimal load balancer as found in front of replicas: it
// probes each backend's /ready every 100ms, round-robins requests over the
// ready ones, and retries a request on another backend only when the
// connection was refused, so before any byte was sent.
type balancer struct {
	backends []string
	ready    []atomic.Bool
	served   []atomic.Int64
	next     atomic.Uint64
	client   *http.Client // to the backends
}

func newBalancer(backends ...string) *balancer {
	return &balancer{backends: backends, ready: make([]atomic.Bool, len(backends)), served: make([]atomic.Int64, len(backends)),
		client: &http.Client{Transport: &http.Transport{}}}
}

// probe checks every backend's /ready until ctx ends.
func (b *balancer) probe(ctx context.Context) {
	probes := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 500 * time.Millisecond}
	for ctx.Err() == nil {
		for i, addr := range b.backends {
			resp, err := probes.Get("http://" + addr + "/ready")
			if err == nil {
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // a probe
				resp.Body.Close()
			}
			b.ready[i].Store(err == nil && resp.StatusCode == 200)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReady waits until the balancer sees backend i as ready.
func (b *balancer) waitReady(t *testing.T, i int) {
	t.Helper()
	for range 500 {
		if b.ready[i].Load() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("backend %s never became ready", b.backends[i])
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	start := b.next.Add(1)
	for k := range uint64(len(b.backends)) {
		i := int((start + k) % uint64(len(b.backends)))
		if !b.ready[i].Load() {
			continue
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+b.backends[i]+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := b.client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue // nothing was sent: safe to try another backend
		}
		if err != nil {
			http.Error(w, "balancer: "+err.Error(), http.StatusBadGateway)
			return
		}
		b.served[i].Add(1)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, err = io.Copy(flushWriter{w}, resp.Body)
		resp.Body.Close()
		if err != nil {
			panic(http.ErrAbortHandler) // the client must see the break
		}
		return
	}
	http.Error(w, "balancer: no ready backend", http.StatusServiceUnavailable)
}

// flushWriter flushes every write, so that a stream stays a stream.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	http.NewResponseController(f.w).Flush() //nolint:errcheck // the next write fails too
	return n, err
}

// A rolling restart of two replicas behind a load balancer that probes
// /ready loses no request: each replica turns its probe away first, the
// balancer stops sending to it, and the replica finishes what it has
// before it stops.
func TestRollingRestartLosesNoRequest(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	config := writeConfig(t, upstream.URL)
	replicas := []*replica{startReplica(t, config, 0), startReplica(t, config, 0)}
	lb := newBalancer(replicas[0].addr, replicas[1].addr)
	defer lb.client.CloseIdleConnections()
	probeCtx, stopProbing := context.WithCancel(context.Background())
	probing := make(chan struct{})
	go func() { defer close(probing); lb.probe(probeCtx) }()
	defer func() { stopProbing(); <-probing }()
	front := httptest.NewServer(lb)
	defer front.Close()
	lb.waitReady(t, 0)
	lb.waitReady(t, 1)

	// A steady load of short requests and streams, each a few tens of
	// milliseconds long, from four clients.
	var sent, failed atomic.Int64
	var failures sync.Map
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	for c := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			stream := c%2 == 1
			body := `{"model":"chat","messages":[{"role":"user","content":"hi"}],"mock":{"delay_ms":30}}`
			if stream {
				body = `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":4,"chunk_delay_ms":15}}`
			}
			for loadCtx.Err() == nil {
				sent.Add(1)
				if err := loadRequest(client, front.URL, body, stream); err != nil {
					failed.Add(1)
					failures.Store(err.Error(), true)
				}
			}
		}()
	}

	time.Sleep(300 * time.Millisecond)
	for i := range replicas {
		before := sent.Load()
		replicas[i].stop(t)
		_, port, _ := net.SplitHostPort(replicas[i].addr)
		p, _ := strconv.Atoi(port)
		replicas[i] = startReplica(t, config, p)
		lb.waitReady(t, i)
		if sent.Load() == before {
			t.Errorf("no request was sent while replica %d restarted", i+1)
		}
		time.Sleep(300 * time.Millisecond)
	}
	stopLoad()
	load.Wait()
	for _, r := range replicas {
		r.stop(t)
	}

	if n := failed.Load(); n > 0 {
		var errs []string
		failures.Range(func(k, _ any) bool { errs = append(errs, k.(string)); return true })
		t.Errorf("%d of %d requests failed during the rolling restart:\n%s", n, sent.Load(), strings.Join(errs, "\n"))
	}
	if sent.Load() < 50 || lb.served[0].Load() == 0 || lb.served[1].Load() == 0 {
		t.Errorf("too little load: %d requests, %d and %d served by the replicas", sent.Load(), lb.served[0].Load(), lb.served[1].Load())
	}
	t.Logf("%d requests, %d and %d served by the replicas", sent.Load(), lb.served[0].Load(), lb.served[1].Load())
}

// loadRequest sends one request through the balancer and checks that it
// succeeded completely: a 200 and, for a stream, the [DONE] at its end.
func loadRequest(client *http.Client, url, body string, stream bool) error {
	resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return fmt.Errorf("reading the answer: %w", err)
	case resp.StatusCode != 200:
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	case stream && !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")):
		return fmt.Errorf("stream without [DONE]: %q", b)
	}
	return nil
}
