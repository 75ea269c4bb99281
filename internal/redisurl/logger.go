package redisurl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger adapts log to the Redis client's logger interface (redis.SetLogger).
// The client writes its own lines to stderr in plain text, once per failed
// dial while Redis is down, which would break a JSON log. Through Logger
// they are DEBUG records: the limits and the Responses store log each Redis
// failure themselves, once, saying what it means for requests.
func Logger(log *slog.Logger) ClientLogger {
	return ClientLogger{log: log}
}

// ClientLogger is the Redis client's logger that writes to a slog.Logger.
type ClientLogger struct{ log *slog.Logger }

// Printf logs the client's message at DEBUG.
func (l ClientLogger) Printf(ctx context.Context, format string, v ...any) {
	if !l.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	l.log.DebugContext(ctx, "redis client", "message", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
