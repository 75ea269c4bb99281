// Command loadbench measures the gateway against the mock upstream directly
// and against a bare net/http/httputil.ReverseProxy, side by side in one run.
// Each server runs in its own process so that its CPU time can be read from
// /proc; the load generator runs here.
//
//	go run ./cmd/loadbench                      # defaults: 64 connections, 20-chunk streams
//	go run ./cmd/loadbench -requests 50000 -concurrency 128
//
// With -matrix it drives the gateway alone through every inbound API (chat
// completions, Anthropic messages, OpenAI responses, Gemini) against every
// kind of upstream (OpenAI-compatible, Anthropic, Gemini, and an
// OpenAI-compatible one serving /responses natively), stream and
// non-stream, and prints the results as a Markdown table (see matrix.go):
//
//	go run ./cmd/loadbench -matrix
//	go run ./cmd/loadbench -matrix -clients messages,responses -upstreams anthropic
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"aigateway/internal/registry"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "revproxy" {
		serveReverseProxy(os.Args[2], os.Args[3])
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

type options struct {
	requests, streamRequests, warmup, concurrency, chunks int

	matrix             bool
	clients, upstreams string
	// access is what the gateway enforces and records: "open" (no keys,
	// no ledger), "ledger" (no keys, the SQLite ledger: the default
	// setup) or "keys" (a key with every limit and a budget, prices, the
	// SQLite ledger).
	access string
	// trace turns the gateway's tracing on, exporting every span over
	// OTLP/HTTP to a receiver in loadbench that discards it.
	trace bool
}

// benchKey is the gateway key of -access keys. load sends it to every
// target; only the gateway reads it.
const benchKey = "loadbench-gateway-key-0123456789"

// benchKeys is the "keys" member of -access keys: limits high enough never
// to refuse the load, so that each request pays for every check.
const benchKeys = `"keys":[{"name":"bench","key":"` + benchKey + `","rpm":100000000,"tpm":100000000000,"max_concurrency":100000,"budget_usd":100000000}],`

func run() error {
	var o options
	flag.IntVar(&o.requests, "requests", 20000, "non-stream requests per target")
	flag.IntVar(&o.streamRequests, "stream-requests", 10000, "stream requests per target")
	flag.IntVar(&o.warmup, "warmup", 2000, "requests per target and mode before measuring")
	flag.IntVar(&o.concurrency, "concurrency", 64, "concurrent connections")
	flag.IntVar(&o.chunks, "chunks", 20, "content chunks per streamed reply")
	flag.BoolVar(&o.matrix, "matrix", false, "measure the gateway for every client protocol and upstream and print a Markdown table")
	flag.StringVar(&o.clients, "clients", strings.Join(clientNames(), ","), "with -matrix: the client protocols to measure")
	flag.StringVar(&o.upstreams, "upstreams", strings.Join(upstreamNames(), ","), "with -matrix: the upstreams to measure")
	flag.StringVar(&o.access, "access", "ledger", "what the gateway enforces and records: open (no keys, no ledger), ledger (no keys, the SQLite usage ledger: the default setup) or keys (a key with rpm, tpm, max_concurrency and a budget, prices, the SQLite ledger)")
	flag.BoolVar(&o.trace, "trace", false, "turn the gateway's OpenTelemetry tracing on (every request sampled), exporting over OTLP/HTTP to a receiver in loadbench that discards the spans")
	flag.Parse()
	if o.access != "open" && o.access != "ledger" && o.access != "keys" {
		return fmt.Errorf("-access: %q is not open, ledger or keys", o.access)
	}
	var rows []matrixRow
	if o.matrix {
		var err error
		if rows, err = matrixRows(o.clients, o.upstreams); err != nil {
			return err
		}
	}

	dir, err := os.MkdirTemp("", "loadbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(os.Stderr, "building aigateway and mockllm ...")
	for _, name := range []string{"aigateway", "mockllm"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s: %w", name, err)
		}
	}

	mockPort, proxyPort, gwPort := freePort(), freePort(), freePort()
	mockURL := "http://127.0.0.1:" + mockPort
	mock, err := start("mockllm", filepath.Join(dir, "mockllm"), io.Discard, "--port", mockPort, "--chunks", strconv.Itoa(o.chunks))
	if err != nil {
		return err
	}
	defer mock.stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	proxy, err := start("revproxy", self, io.Discard, "revproxy", "127.0.0.1:"+proxyPort, mockURL)
	if err != nil {
		return err
	}
	defer proxy.stop()
	cfg := filepath.Join(dir, "models.json")
	// The id differs from the upstream name so that the gateway really
	// rewrites the model field, as it does in production.
	var pr *probe
	probeURL := ""
	if o.matrix {
		if pr, err = startProbe(); err != nil {
			return err
		}
		defer pr.close()
		probeURL = pr.url
	}
	config := gatewayConfig(mockURL, probeURL, o.access == "keys")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return err
	}
	// The gateway writes its access log to a file, as it would in production.
	logFile, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	ledgerFile := filepath.Join(dir, "usage.db")
	if o.access == "open" {
		ledgerFile = "off"
	}
	gwArgs := []string{"--config", cfg, "--port", gwPort, "--ledger-file", ledgerFile}
	var gw *process
	if o.trace {
		sink, err := startTraceSink()
		if err != nil {
			return err
		}
		defer sink.Close()
		defer func() {
			fmt.Fprintf(os.Stderr, "trace receiver: %d exports, %d bytes of spans\n", sink.exports.Load(), sink.bytes.Load())
		}()
		gw, err = startEnv("aigateway", filepath.Join(dir, "aigateway"), logFile,
			append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT="+sink.url(), "OTEL_TRACES_SAMPLER=always_on"), gwArgs...)
		if err != nil {
			return err
		}
	} else if gw, err = start("aigateway", filepath.Join(dir, "aigateway"), logFile, gwArgs...); err != nil {
		return err
	}
	defer gw.stop()

	if o.matrix {
		return runMatrix(o, "http://127.0.0.1:"+gwPort, gw, pr, rows)
	}
	targets := []struct {
		name string
		url  string
		proc *process
	}{
		{"mock direct", mockURL, mock},
		{"httputil.ReverseProxy", "http://127.0.0.1:" + proxyPort, proxy},
		{"aigateway", "http://127.0.0.1:" + gwPort, gw},
	}
	fmt.Printf("concurrency %d, %d non-stream and %d stream requests (%d chunks) per target, gateway -access %s; CPU = the serving process's user+system CPU ms per 1000 requests\n\n",
		o.concurrency, o.requests, o.streamRequests, o.chunks, o.access)
	fmt.Printf("%-22s %-10s %9s %9s %9s %12s %7s %11s\n", "target", "mode", "req/s", "p50", "p99", "CPU ms/1k", "errors", "incomplete")
	for _, stream := range []bool{false, true} {
		for _, tg := range targets {
			model := "mock-model"
			if tg.proc == gw {
				model = "bench"
			}
			n := o.requests
			if stream {
				n = o.streamRequests
			}
			if err := waitReady(tg.url); err != nil {
				return fmt.Errorf("%s: %w", tg.name, err)
			}
			w := chatWorkload(tg.url, model, stream, o.chunks)
			load(w, o.warmup, o.concurrency)
			cpu0 := tg.proc.cpu()
			res := load(w, n, o.concurrency)
			cpu := tg.proc.cpu() - cpu0
			mode := "non-stream"
			if stream {
				mode = "stream"
			}
			fmt.Printf("%-22s %-10s %9.0f %9s %9s %12.0f %7d %11d\n", tg.name, mode,
				float64(n)/res.elapsed.Seconds(), res.p(50), res.p(99),
				float64(cpu.Milliseconds())*1000/float64(n), res.errors, res.incomplete)
			if res.firstErr != nil {
				fmt.Printf("    first error: %v\n", res.firstErr)
			}
		}
	}
	return nil
}

type result struct {
	elapsed            time.Duration
	latencies          []time.Duration
	errors, incomplete int64
	firstErr           error
}

func (r *result) p(q int) string {
	if len(r.latencies) == 0 {
		return "-"
	}
	slices.Sort(r.latencies)
	d := r.latencies[(len(r.latencies)-1)*q/100]
	return d.Round(10 * time.Microsecond).String()
}

var doneEvent = []byte("data: [DONE]\n\n")

var benchAuth = []string{"Bearer " + benchKey}

// errIncomplete marks an answer that arrived whole but lacks events.
var errIncomplete = errors.New("incomplete stream")

// workload is one kind of request and the check of its answer.
type workload struct {
	url    string
	header http.Header // besides Content-Type
	body   []byte
	// check inspects a 200 answer's body; an error wrapping errIncomplete
	// counts the answer as incomplete. Nil accepts any 200.
	check func(body []byte) error
}

// chatWorkload is the default mode's request: a chat completion whose
// stream counts as incomplete unless it holds every chunk and ends with
// [DONE].
func chatWorkload(base, model string, stream bool, chunks int) workload {
	w := workload{
		url:  base + "/v1/chat/completions",
		body: []byte(fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"system","content":%q},{"role":"user","content":%q}],"temperature":0.7}`, model, stream, systemPrompt, userPrompt)),
	}
	if stream {
		wantEvents := chunks + 3 // role, content chunks, finish, [DONE]
		w.check = func(b []byte) error {
			if !bytes.HasSuffix(b, doneEvent) || bytes.Count(b, []byte("data: ")) != wantEvents {
				return errIncomplete
			}
			return nil
		}
	}
	return w
}

// The prompt of every workload: the same conversation in each protocol.
const (
	systemPrompt = "You are a helpful assistant."
	userPrompt   = "Write a short greeting for a load test, please."
)

// load sends n requests of w over concurrency connections and checks every
// response.
func load(w workload, n, concurrency int) *result {
	transport := &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	var next atomic.Int64
	var mu sync.Mutex
	res := &result{latencies: make([]time.Duration, 0, n)}
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			lat := make([]time.Duration, 0, n/concurrency+1)
			var errs, incomplete int64
			var firstErr error
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				err := func() error {
					req, err := http.NewRequest(http.MethodPost, w.url, bytes.NewReader(w.body))
					if err != nil {
						return err
					}
					req.Header["Authorization"] = benchAuth
					for k, v := range w.header {
						req.Header[k] = v
					}
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						return err
					}
					defer resp.Body.Close()
					var all bytes.Buffer
					if _, err := io.CopyBuffer(&all, resp.Body, buf); err != nil {
						incomplete++
						return err
					}
					if resp.StatusCode != 200 {
						return fmt.Errorf("status %d: %.200s", resp.StatusCode, bytes.TrimSpace(all.Bytes()))
					}
					if w.check != nil {
						if err := w.check(all.Bytes()); err != nil {
							if errors.Is(err, errIncomplete) {
								incomplete++
							}
							return fmt.Errorf("%w: %.300s", err, bytes.TrimSpace(all.Bytes()))
						}
					}
					return nil
				}()
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			res.incomplete += incomplete
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// serveReverseProxy is the baseline: the standard library's reverse proxy
// with the gateway's upstream transport. Full duplex is enabled because
// without it Go's server may close a connection whose request body was not
// read while the response streams, which cuts streams under load.
func serveReverseProxy(addr, target string) {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = registry.NewTransport()
	rp.ErrorLog = nil
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex() //nolint:errcheck // HTTP/1 always supports it
		rp.ServeHTTP(w, r)
	})
	if err := http.ListenAndServe(addr, handler); err != nil {
		panic(err)
	}
}

type process struct {
	name string
	cmd  *exec.Cmd
}

func start(name, path string, stderr io.Writer, args ...string) (*process, error) {
	return startEnv(name, path, stderr, nil, args...)
}

// startEnv is start with the environment env; nil means loadbench's own.
func startEnv(name, path string, stderr io.Writer, env []string, args ...string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = io.Discard
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return &process{name: name, cmd: cmd}, nil
}

func (p *process) stop() {
	p.cmd.Process.Kill() //nolint:errcheck // best effort
	p.cmd.Wait()         //nolint:errcheck // killed
}

// cpu returns the process's user+system CPU time from /proc/<pid>/stat.
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func waitReady(base string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
