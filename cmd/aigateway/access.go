package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"aigateway/internal/api"
	"aigateway/internal/config"
	"aigateway/internal/inbound/responses"
	"aigateway/internal/ledger"
	"aigateway/internal/limits"
)

// ledgerOff is the --ledger-file value that turns the usage ledger off.
const ledgerOff = "off"

// access is what enforces the gateway keys' limits and records usage:
// built once at start, kept across reloads (the keys' limits are read
// from the config of each request).
type access struct {
	limiter limits.Limiter
	store   ledger.Store   // nil: no ledger
	writer  *ledger.Writer // nil: no ledger
	// responses keeps the Responses API's stored responses: in Redis with
	// the limits when a Redis URL is given, so that replicas continue each
	// other's conversations, else in memory.
	responses responses.Store
	closers   []func()
}

// openAccess opens the ledger store (PostgreSQL when a database URL is
// given, else the SQLite file) and the limiter (Redis when a Redis URL is
// given, else memory), and the Responses API's store on the same Redis
// (else memory). The flags and their environment variables override the
// config's database_url and redis_url.
func openAccess(ctx context.Context, s *settings, file *config.File, log *slog.Logger) (*access, error) {
	a := &access{}
	dbURL, err := secretSetting(s.databaseURL, file.DatabaseURL, "database_url")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file.Path, err)
	}
	if dbURL != "" || s.ledgerFile != ledgerOff {
		openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		store, err := ledger.Open(openCtx, dbURL, s.ledgerFile)
		if err != nil {
			return nil, fmt.Errorf("opening the usage ledger: %w", err)
		}
		a.store = store
		a.writer = ledger.NewWriter(store, ledger.WriterOptions{Logger: log})
		where := "sqlite:" + s.ledgerFile
		if dbURL != "" {
			where = "postgresql"
		}
		log.Info("usage ledger", "store", where)
	}
	spent := func(ctx context.Context, key string, since time.Time) (float64, error) {
		if a.store == nil {
			return 0, nil
		}
		return a.store.Spent(ctx, key, since)
	}
	redisURL, err := secretSetting(s.redisURL, file.RedisURL, "redis_url")
	if err != nil {
		a.close(context.Background(), log)
		return nil, fmt.Errorf("%s: %w", file.Path, err)
	}
	if redisURL == "" {
		a.limiter = limits.NewMemory(limits.MemoryOptions{Spent: spent, Logger: log})
		a.responses = responses.NewMemoryStore(responses.MemoryOptions{})
		log.Info("responses store", "store", "memory")
		return a, nil
	}
	r, err := limits.NewRedis(ctx, redisURL, limits.RedisOptions{FailClosed: file.RedisFailClosed, Logger: log, Spent: spent})
	if err != nil {
		a.close(context.Background(), log)
		return nil, fmt.Errorf("redis_url: %w", err)
	}
	a.limiter = r
	a.closers = append(a.closers, func() { r.Close() })
	log.Info("limits shared through redis", "fail", map[bool]string{true: "closed", false: "open"}[file.RedisFailClosed])
	rs, err := responses.NewRedisStore(ctx, redisURL, responses.RedisStoreOptions{Logger: log})
	if err != nil {
		a.close(context.Background(), log)
		return nil, fmt.Errorf("redis_url: %w", err)
	}
	a.responses = rs
	a.closers = append(a.closers, func() {
		if err := rs.Close(); err != nil {
			log.Warn("closing the responses store", "error", err)
		}
	})
	log.Info("responses store", "store", "redis")
	return a, nil
}

// secretSetting is a flag's value when set, else the config's secret
// resolved; an "ENV:" secret whose variable is unset is an error naming it.
func secretSetting(flagValue string, s config.Secret, field string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if !s.IsSet() {
		return "", nil
	}
	v, reason, ok := s.Resolve(nil)
	if !ok {
		return "", fmt.Errorf("%s: %s", field, reason)
	}
	return v, nil
}

// close flushes the ledger (every queued record is written, or the count of
// the lost ones is logged) and closes the stores.
func (a *access) close(ctx context.Context, log *slog.Logger) {
	if a.writer != nil {
		if err := a.writer.Close(ctx); err != nil {
			log.Error("usage ledger: records not written at shutdown", "error", err)
		}
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			log.Warn("closing the usage ledger", "error", err)
		}
	}
	for _, c := range a.closers {
		c()
	}
}

// checkExposure refuses to serve an open gateway (no keys) on an address
// other hosts can reach, unless the operator said so: anyone there could
// spend the provider keys.
func checkExposure(host string, open, allowed bool, log *slog.Logger) error {
	if !open || isLoopback(host) {
		return nil
	}
	if !allowed {
		return errors.New("refusing to listen on " + host + " without gateway keys: anyone who can reach it could use your provider keys. " +
			`Add "keys" to models.json (see the README), listen on 127.0.0.1, or pass --allow-unauthenticated`)
	}
	log.Warn("listening without gateway keys on a non-loopback address: anyone who can reach it can use every model", "host", host)
	return nil
}

// isLoopback reports whether host names only the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// ledger is the api.Ledger: nil (not a nil *ledger.Writer) without one.
func (a *access) ledger() api.Ledger {
	if a.writer == nil {
		return nil
	}
	return a.writer
}
