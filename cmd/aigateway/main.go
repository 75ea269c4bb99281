// Command aigateway serves one OpenAI-compatible API in front of the models
// configured in models.json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"

	"aigateway/internal/api"
	"aigateway/internal/breaker"
	"aigateway/internal/config"
	"aigateway/internal/connlimit"
	"aigateway/internal/dashboard"
	"aigateway/internal/inbound/geminiapi"
	"aigateway/internal/inbound/messages"
	"aigateway/internal/inbound/responses"
	"aigateway/internal/logbuf"
	"aigateway/internal/metrics"
	"aigateway/internal/redisurl"
	"aigateway/internal/registry"
	"aigateway/internal/reload"
	"aigateway/internal/router"
	"aigateway/internal/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "usage" {
		err = runUsage(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else if len(os.Args) > 1 && os.Args[1] == "check" {
		err = runCheck(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Stderr)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "aigateway:", err)
			os.Exit(1)
		}
	}
}

// settings are the command-line flags; each has an environment variable.
type settings struct {
	config          string
	host            string
	port            int
	maxBody         int64
	shutdownTimeout time.Duration
	drainDelay      time.Duration
	version         bool
	logFormat       string
	logLevel        string
	maxConns        int64 // 0: from the open-file limit
	bodyTimeout     time.Duration
	bodyMinRate     int64
	writeTimeout    time.Duration
	// trustedProxies may name the client in X-Forwarded-For; nil: none.
	trustedProxies []netip.Prefix
	// allowUnauthenticated lets a gateway without keys listen on a
	// non-loopback address.
	allowUnauthenticated bool
	redisURL             string // overrides the config's redis_url
	databaseURL          string // overrides the config's database_url
	ledgerFile           string // the SQLite ledger; ledgerOff: none
}

func parseFlags(args []string, stderr io.Writer) (*settings, error) {
	s := &settings{}
	fs := flag.NewFlagSet("aigateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var err error
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	envInt := func(name string, def int64) int64 {
		v, ok := os.LookupEnv(name)
		if !ok {
			return def
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil && err == nil {
			err = fmt.Errorf("environment variable %s: %q is not an integer", name, v)
		}
		return n
	}
	envDuration := func(name string, def time.Duration) time.Duration {
		v, ok := os.LookupEnv(name)
		if !ok {
			return def
		}
		d, perr := time.ParseDuration(v)
		if perr != nil && err == nil {
			err = fmt.Errorf("environment variable %s: %q is not a duration such as 30s", name, v)
		}
		return d
	}
	fs.StringVar(&s.config, "config", env("AIGATEWAY_CONFIG", "config/models.json"), "path of models.json (env AIGATEWAY_CONFIG)")
	fs.StringVar(&s.host, "host", env("AIGATEWAY_HOST", "127.0.0.1"), "address to listen on (env AIGATEWAY_HOST)")
	fs.IntVar(&s.port, "port", int(envInt("AIGATEWAY_PORT", 8765)), "port to listen on (env AIGATEWAY_PORT)")
	fs.Int64Var(&s.maxBody, "max-body-bytes", envInt("AIGATEWAY_MAX_BODY_BYTES", api.DefaultMaxBodyBytes), "largest request body accepted; larger ones get 413 (env AIGATEWAY_MAX_BODY_BYTES)")
	fs.DurationVar(&s.shutdownTimeout, "shutdown-timeout", envDuration("AIGATEWAY_SHUTDOWN_TIMEOUT", 30*time.Second), "on SIGINT/SIGTERM, how long in-flight requests and streams may take to finish (env AIGATEWAY_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&s.drainDelay, "drain-delay", envDuration("AIGATEWAY_DRAIN_DELAY", 5*time.Second), "on SIGINT/SIGTERM, how long /health and /ready answer 503 while requests are still served, so that a load balancer stops sending new ones; 0 skips it (env AIGATEWAY_DRAIN_DELAY)")
	fs.BoolVar(&s.version, "version", false, "print the version and exit")
	fs.Usage = func() { usage(fs) }
	fs.StringVar(&s.logFormat, "log-format", env("AIGATEWAY_LOG_FORMAT", "text"), "log format: text or json (env AIGATEWAY_LOG_FORMAT)")
	fs.StringVar(&s.logLevel, "log-level", env("AIGATEWAY_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env AIGATEWAY_LOG_LEVEL)")
	fs.Int64Var(&s.maxConns, "max-connections", envInt("AIGATEWAY_MAX_CONNECTIONS", 0), "most client connections served at once; 0 derives it from the open-file limit (env AIGATEWAY_MAX_CONNECTIONS)")
	fs.DurationVar(&s.bodyTimeout, "body-read-timeout", envDuration("AIGATEWAY_BODY_READ_TIMEOUT", api.DefaultBodyReadTimeout), "how long a request body may take to start arriving (env AIGATEWAY_BODY_READ_TIMEOUT)")
	fs.Int64Var(&s.bodyMinRate, "body-min-rate", envInt("AIGATEWAY_BODY_MIN_RATE", api.DefaultBodyMinRate), "after that, the average bytes per second a request body must keep up (env AIGATEWAY_BODY_MIN_RATE)")
	fs.DurationVar(&s.writeTimeout, "write-timeout", envDuration("AIGATEWAY_WRITE_TIMEOUT", api.DefaultWriteTimeout), "how long one write of a response may block on a client that does not read (env AIGATEWAY_WRITE_TIMEOUT)")
	fs.BoolVar(&s.allowUnauthenticated, "allow-unauthenticated", os.Getenv("AIGATEWAY_ALLOW_UNAUTHENTICATED") == "true", "serve without gateway keys on a non-loopback --host (env AIGATEWAY_ALLOW_UNAUTHENTICATED=true)")
	fs.StringVar(&s.redisURL, "redis-url", env("AIGATEWAY_REDIS_URL", ""), "Redis URL for limits, budgets and Responses API stored responses shared by replicas; overrides redis_url in models.json (env AIGATEWAY_REDIS_URL)")
	fs.StringVar(&s.databaseURL, "database-url", env("AIGATEWAY_DATABASE_URL", ""), "PostgreSQL URL for the usage ledger; overrides database_url in models.json (env AIGATEWAY_DATABASE_URL)")
	fs.StringVar(&s.ledgerFile, "ledger-file", env("AIGATEWAY_LEDGER_FILE", "aigateway-usage.db"), "SQLite file of the usage ledger when no database URL is set; \"off\" records nothing (env AIGATEWAY_LEDGER_FILE)")
	trusted := fs.String("trusted-proxies", env("AIGATEWAY_TRUSTED_PROXIES", ""), "comma-separated IP addresses and CIDR prefixes of proxies whose X-Forwarded-For names the client in the access log; default none (env AIGATEWAY_TRUSTED_PROXIES)")
	if err != nil {
		return nil, err
	}
	if perr := fs.Parse(args); perr != nil {
		return nil, perr
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if s.port < 0 || s.port > 65535 {
		return nil, fmt.Errorf("--port: %d is not a TCP port", s.port)
	}
	if s.maxBody <= 0 {
		return nil, fmt.Errorf("--max-body-bytes: must be positive, got %d", s.maxBody)
	}
	if s.maxConns < 0 {
		return nil, fmt.Errorf("--max-connections: must not be negative, got %d", s.maxConns)
	}
	if s.bodyTimeout <= 0 {
		return nil, fmt.Errorf("--body-read-timeout: must be positive, got %s", s.bodyTimeout)
	}
	if s.bodyMinRate <= 0 {
		return nil, fmt.Errorf("--body-min-rate: must be positive, got %d", s.bodyMinRate)
	}
	if s.writeTimeout <= 0 {
		return nil, fmt.Errorf("--write-timeout: must be positive, got %s", s.writeTimeout)
	}
	if s.drainDelay < 0 {
		return nil, fmt.Errorf("--drain-delay: must not be negative, got %s", s.drainDelay)
	}
	if s.trustedProxies, err = api.ParseTrustedProxies(*trusted); err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if s.shutdownTimeout < 0 {
		return nil, fmt.Errorf("--shutdown-timeout: must not be negative, got %s", s.shutdownTimeout)
	}
	return s, nil
}

// logFlushDelay is how long log lines below WARN may wait to be written
// together with the next ones (see internal/logbuf).
const logFlushDelay = 100 * time.Millisecond

func newLogger(s *settings, w *logbuf.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", s.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch s.logFormat {
	case "text":
		return slog.New(logbuf.Handler(slog.NewTextHandler(w, opts), w)), nil
	case "json":
		return slog.New(logbuf.Handler(slog.NewJSONHandler(w, opts), w)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", s.logFormat)
}

// run starts the gateway and serves until ctx is canceled, then drains.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	s, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if s.version {
		fmt.Fprintln(stderr, version())
		return nil
	}
	// Closed last, after the drain and the span flush have logged.
	logOut := logbuf.New(stderr, logFlushDelay)
	defer logOut.Close()
	log, err := newLogger(s, logOut)
	if err != nil {
		return err
	}
	file, err := config.Load(s.config)
	if err != nil {
		return err
	}
	tr, err := tracing.FromEnv(ctx, os.Getenv)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if tr != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "error", err) }))
		// Deferred first, so run last: after the drain, the spans of the
		// last requests are ended and can be flushed.
		defer func() {
			flushCtx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
			defer cancel()
			if err := tr.Shutdown(flushCtx); err != nil {
				log.Warn("spans not exported at shutdown", "error", err)
			}
		}()
	}
	// The Redis client's own messages go to our log (at DEBUG), not to stderr.
	redis.SetLogger(redisurl.Logger(log))
	transport := registry.NewTransport()
	defer transport.CloseIdleConnections()
	breakers := breaker.NewSet(breaker.Settings{})
	deps := registry.Deps{Transport: tr.Transport(transport), Logger: log, Breakers: breakers}
	reg, err := registry.Build(file, deps)
	if err != nil {
		return fmt.Errorf("%s: %w", s.config, err)
	}
	rt := router.New(reg)
	if err := checkExposure(s.host, len(file.Keys) == 0, s.allowUnauthenticated, log); err != nil {
		return err
	}
	acc, err := openAccess(ctx, s, file, log)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), ledgerFlushTimeout)
		defer cancel()
		acc.close(closeCtx, log)
	}()
	fileLimit, err := raiseFileLimit()
	if err != nil {
		log.Warn("could not raise the open-file limit", "limit", fileLimit, "error", err)
	}
	maxConns := int(s.maxConns)
	if maxConns == 0 {
		maxConns = defaultMaxConnections(fileLimit)
	}
	raw, err := net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	var rejected atomic.Int64
	ln, err := connlimit.NewListener(raw, connlimit.Options{Max: maxConns, OnReject: func() {
		if n := rejected.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th... rejection
			log.Warn("connection limit reached; closing new connections", "max_connections", maxConns, "rejected", n)
		}
	}})
	if err != nil {
		raw.Close()
		return err
	}
	src := metrics.Sources{Registry: rt.Registry}
	if acc.writer != nil {
		src.Ledger = acc.writer.Stats
	}
	gateway := api.New(api.Options{Router: rt, Logger: log, MaxBodyBytes: s.maxBody, Metrics: metrics.New(src),
		BodyReadTimeout: s.bodyTimeout, BodyMinRate: s.bodyMinRate, WriteTimeout: s.writeTimeout, TrustedProxies: s.trustedProxies,
		Dialects: api.Dialects{Messages: messages.Dialect{}, Responses: responses.New(responses.Options{Store: acc.responses}), Gemini: geminiapi.Dialect{}},
		Limiter:  acc.limiter, Ledger: acc.ledger(), Usage: acc.store, Activity: dashboard.NewActivity(),
		Tracing: tr})
	srv := &http.Server{
		Handler:           connlimit.Handler(gateway, isProbe),
		ConnContext:       connlimit.ConnContext,
		ConnState:         ln.ConnState,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Reload on SIGHUP and when the file changes. Adapters a reload drops
	// stay open, since requests in flight finish on them; the ones holding
	// resources (local programs) are closed at shutdown. SIGHUP is caught
	// before the gateway says it listens: its default action would kill
	// the process.
	retired := map[io.Closer]bool{}
	var retiredMu sync.Mutex
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log.Info("aigateway listening", "addr", "http://"+ln.Addr().String(), "config", s.config,
		"models", len(file.Models), "available", countAvailable(reg),
		"max_connections", maxConns, "open_file_limit", fileLimit)
	watcher, err := reload.New(reload.Options{
		Path:    s.config,
		Logger:  log,
		Signals: hup,
		Reload: func(context.Context) error {
			f, err := config.Load(s.config)
			if err != nil {
				return err
			}
			if len(f.Keys) == 0 && !isLoopback(s.host) && !s.allowUnauthenticated {
				return fmt.Errorf("%s: keeping the running config: the new one has no keys, which would open the gateway on %s (pass --allow-unauthenticated to allow that)", s.config, s.host)
			}
			d := deps
			d.Previous = rt.Registry()
			next, err := registry.Build(f, d)
			if err != nil {
				return fmt.Errorf("%s: %w", s.config, err)
			}
			old := rt.Swap(next)
			kept := next.Closers()
			retiredMu.Lock()
			for _, c := range old.Closers() {
				if !slices.Contains(kept, c) {
					retired[c] = true
				}
			}
			retiredMu.Unlock()
			log.Info("serving the reloaded config", append([]any{"models", len(f.Models), "available", countAvailable(next)},
				registry.Compare(old, next).Attrs()...)...)
			return nil
		},
	})
	if err != nil {
		ln.Close()
		return err
	}
	watchCtx, stopWatching := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watcher.Run(watchCtx) //nolint:errcheck // returns nil on cancellation
	}()
	defer func() { stopWatching(); <-watched }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	if err := drain(srv, served, gateway, s, log); err != nil {
		return err
	}
	stopWatching()
	<-watched
	retiredMu.Lock()
	for c := range retired {
		if err := c.Close(); err != nil {
			log.Warn("closing adapters", "error", err)
		}
	}
	retiredMu.Unlock()
	if err := rt.Registry().Close(); err != nil { // stops local programs still running
		log.Warn("closing adapters", "error", err)
	}
	log.Info("stopped")
	return nil
}

// traceFlushTimeout bounds exporting the last spans at shutdown, when the
// collector is slow or gone.
const traceFlushTimeout = 5 * time.Second

// ledgerFlushTimeout bounds writing the ledger's last records at
// shutdown, when the database is slow or down.
const ledgerFlushTimeout = 30 * time.Second

// streamEndGrace is how long the streams cut at the end of a shutdown get
// to write their gateway_shutdown event before their connections close.
const streamEndGrace = 2 * time.Second

// drain stops the server in three steps. First /health and /ready answer
// 503 for the drain delay while everything is still served, so that a load
// balancer that probes them stops sending requests before any connection
// is refused. Then the listener closes and in-flight requests get the
// shutdown timeout to finish. Streams still running after it end with a
// gateway_shutdown error event, and the connections left are closed. It
// returns once Serve returned. A second stop signal ends the drain delay
// early.
func drain(srv *http.Server, served <-chan error, gateway *api.Server, s *settings, log *slog.Logger) error {
	gateway.Drain()
	if s.drainDelay > 0 {
		again := make(chan os.Signal, 1) // a second SIGINT/SIGTERM (Ctrl-C twice) skips the delay
		signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(again)
		log.Info("draining: /health and /ready answer 503; still serving until the drain delay ends", "drain_delay_ms", s.drainDelay.Milliseconds())
		t := time.NewTimer(s.drainDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-again:
			log.Info("second stop signal: ending the drain delay early")
		case err := <-served:
			return fmt.Errorf("serving: %w", err)
		}
	}
	log.Info("shutting down: no new connections; waiting for in-flight requests", "timeout_ms", s.shutdownTimeout.Milliseconds())
	drainCtx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		log.Warn("in-flight requests did not finish in time; ending streams with gateway_shutdown, then closing the connections", "error", err)
		gateway.EndStreams()
		graceCtx, cancelGrace := context.WithTimeout(context.Background(), streamEndGrace)
		defer cancelGrace()
		if err := srv.Shutdown(graceCtx); err != nil {
			srv.Close()
		}
	}
	<-served
	return nil
}

// isProbe reports whether path is a health or readiness check, answered
// even at the connection limit.
func isProbe(path string) bool { return path == "/health" || path == "/ready" }

// defaultMaxConnections derives the connection cap from the open-file
// limit: each client connection may need an upstream connection (or a local
// program's pipes) too, and some descriptors go to the config watcher, the
// log and the probe reserve. Unknown limits get a fixed cap.
func defaultMaxConnections(fileLimit uint64) int {
	const (
		spare    = 64 + connlimit.DefaultReserve
		fallback = 4096
		ceiling  = 16384 // about 0.5 GB of connection buffers and goroutines
		floor    = 16
	)
	if fileLimit == 0 {
		return fallback
	}
	n := (int64(min(fileLimit, 1<<40)) - spare) / 2
	return int(max(floor, min(n, ceiling)))
}

// countAvailable counts the deployments that can serve.
func countAvailable(reg *registry.Registry) int {
	n := 0
	reg.Entries(func(_ string, d *registry.Deployment) {
		if d.Adapter != nil {
			n++
		}
	})
	return n
}
