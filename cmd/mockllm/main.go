// Command mockllm runs the mock LLM upstream (package internal/mockllm) as a
// standalone server, e.g. as the upstream of the gateway's load benchmark. It
// serves the OpenAI, Anthropic and Gemini wire formats on one port.
//
//	mockllm --port 8766 --chunks 20 --chunk-delay 5ms --api-key sk-test
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"aigateway/internal/mockllm"
)

// shutdownGrace is how long in-flight requests get to finish on SIGTERM
// before their connections are closed.
const shutdownGrace = 5 * time.Second

type config struct {
	host       string
	port       int
	chunks     int
	chunkDelay time.Duration
	apiKey     string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "mockllm:", err)
		os.Exit(1)
	}
}

// usageText heads the --help output.
const usageText = `Usage: mockllm [flags]

A mock LLM upstream speaking three wire formats on one port:
  OpenAI     POST /v1/chat/completions, /v1/completions, /v1/embeddings; GET /v1/models
  Anthropic  POST /v1/messages, /v1/messages/count_tokens
  Gemini     POST /v1beta/models/{model}:generateContent, :streamGenerateContent[?alt=sse],
             :countTokens, :embedContent, :batchEmbedContents; GET /v1beta/models

Requests may script faults with a "mock" object in the JSON body or an
X-Mock header holding the same JSON (the header wins).

Flags:
`

// errUsage reports bad command-line arguments (already printed).
var errUsage = errors.New("usage error")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "mockllm listening on http://%s\n", ln.Addr())
	return serve(ctx, ln, cfg)
}

// parseFlags parses the command line. --help prints usage to stdout and
// returns flag.ErrHelp; bad flags print to stderr and return errUsage.
func parseFlags(args []string, stdout, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("mockllm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&cfg.port, "port", 8766, "port to listen on (0 picks a free port)")
	fs.IntVar(&cfg.chunks, "chunks", 20, "content chunks per reply")
	fs.DurationVar(&cfg.chunkDelay, "chunk-delay", 0, "delay before each streamed chunk, e.g. 5ms")
	fs.StringVar(&cfg.apiKey, "api-key", "", "if set, require this key (OpenAI \"Authorization: Bearer\", Anthropic \"x-api-key\", Gemini \"x-goog-api-key\")")
	usage := func(w io.Writer) {
		fmt.Fprint(w, usageText)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return cfg, err
	case err != nil:
		fmt.Fprintln(stderr, "mockllm:", err)
		usage(stderr)
		return cfg, errUsage
	}
	var problem string
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case cfg.port < 0 || cfg.port > 65535:
		problem = fmt.Sprintf("invalid --port %d: must be 0..65535", cfg.port)
	case cfg.chunks < 1:
		problem = fmt.Sprintf("invalid --chunks %d: must be at least 1", cfg.chunks)
	case cfg.chunkDelay < 0:
		problem = fmt.Sprintf("invalid --chunk-delay %s: must not be negative", cfg.chunkDelay)
	}
	if problem != "" {
		fmt.Fprintln(stderr, "mockllm:", problem)
		return cfg, errUsage
	}
	return cfg, nil
}

// serve runs the mock on ln until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, cfg config) error {
	srv := &http.Server{
		Handler: mockllm.New(mockllm.Options{
			APIKey:     cfg.apiKey,
			Chunks:     cfg.chunks,
			ChunkDelay: cfg.chunkDelay,
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Hanging requests ("hang" directive) never finish on their own;
		// closing their connections cancels them.
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
