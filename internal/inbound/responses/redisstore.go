package responses

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"aigateway/internal/redact"
	"aigateway/internal/redisurl"
)

// RedisStoreOptions configure a RedisStore. Zero values mean the defaults.
type RedisStoreOptions struct {
	// TTL is how long a response is kept after it was stored; zero means
	// DefaultTTL.
	TTL time.Duration
	// Prefix starts every Redis key; "" means "aigw:responses:". Gateways
	// that share a prefix share their stored responses.
	Prefix string
	// MaxBytes caps one stored response (response and conversation); zero
	// means DefaultRedisMaxBytes. Put refuses a larger one with
	// ErrTooLarge.
	MaxBytes int
	// Logger receives the warning when Redis cannot be reached at start;
	// nil means slog.Default().
	Logger *slog.Logger
}

// DefaultRedisMaxBytes is the default cap of one stored response in Redis:
// twice the gateway's default request body limit, room for a conversation
// the client could send again plus the answer, while keeping one value
// far below what stalls Redis (a SET of tens of megabytes blocks every
// other client while it is read).
const DefaultRedisMaxBytes = 64 << 20

// ErrTooLarge is what Put of a RedisStore returns for a response over
// MaxBytes: it is not stored.
var ErrTooLarge = errors.New("the response is larger than the store's MaxBytes")

// Timeouts that keep a Redis outage from holding an answer: the store is
// on the request path (a follow-up reads it, an answer writes it before
// its last bytes), so a Redis that does not connect or reply within a
// second counts as down.
const (
	redisStoreDialTimeout = time.Second
	redisStoreIOTimeout   = time.Second
)

// RedisStore is a Store in Redis: replicas that share the Redis server and
// the prefix continue each other's conversations and answer GET for each
// other's responses. Each response is one Redis string, written with one
// SET (PX TTL) and read with one GET. Redis evicts it after the TTL (or
// under its own maxmemory policy, which makes it "not found").
type RedisStore struct {
	client   *redis.Client
	ttl      time.Duration
	prefix   string
	maxBytes int
	redactor *redact.Redactor
}

// NewRedisStore returns a RedisStore on the Redis server at url
// (redis://[user:password@]host:port/db, or rediss:// for TLS). The only
// error is a malformed url, and it never shows the password. An
// unreachable server is not an error: it is logged, and Put and Get fail
// until it is back.
func NewRedisStore(ctx context.Context, rawURL string, o RedisStoreOptions) (*RedisStore, error) {
	ro, redactor, err := redisurl.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("responses store: redis url: %w", err)
	}
	ro.DialTimeout = redisStoreDialTimeout
	ro.ReadTimeout = redisStoreIOTimeout
	ro.WriteTimeout = redisStoreIOTimeout
	// SET and GET may run twice; one retry gets past a pooled connection
	// that a Redis restart closed, more would only lengthen an outage.
	ro.MaxRetries = 1

	s := &RedisStore{client: redis.NewClient(ro), ttl: o.TTL, prefix: o.Prefix, maxBytes: o.MaxBytes, redactor: redactor}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.prefix == "" {
		s.prefix = "aigw:responses:"
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultRedisMaxBytes
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	pctx, cancel := context.WithTimeout(ctx, redisStoreDialTimeout+redisStoreIOTimeout)
	defer cancel()
	if err := s.client.Ping(pctx).Err(); err != nil {
		log.Warn("responses store: redis unreachable; storing and continuing responses fail until it is back", "error", s.redactor.String(err.Error()))
	}
	return s, nil
}

// Put stores st under id with one SET ... PX TTL. It returns only after
// Redis acknowledged the write, so a follow-up on any replica reads it.
// A response over MaxBytes is refused with ErrTooLarge.
func (s *RedisStore) Put(ctx context.Context, id string, st Stored) error {
	if st.size() > s.maxBytes {
		return fmt.Errorf("responses store: %s: %d bytes: %w", id, st.size(), ErrTooLarge)
	}
	if err := s.client.Set(ctx, s.prefix+id, encodeStored(st), s.ttl).Err(); err != nil {
		return fmt.Errorf("responses store: redis SET %s: %s", id, s.redact(err))
	}
	return nil
}

// Get implements Store with one GET.
func (s *RedisStore) Get(ctx context.Context, id string) (Stored, bool, error) {
	v, err := s.client.Get(ctx, s.prefix+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return Stored{}, false, nil
	}
	if err != nil {
		return Stored{}, false, fmt.Errorf("responses store: redis GET %s: %s", id, s.redact(err))
	}
	st, ok := decodeStored(v)
	if !ok {
		return Stored{}, false, fmt.Errorf("responses store: redis GET %s: not a stored response (%d bytes)", id, len(v))
	}
	return st, true, nil
}

// Close closes the connections to Redis.
func (s *RedisStore) Close() error { return s.client.Close() }

// redact is err's text without the URL's credentials. go-redis's errors
// do not quote the URL today; this keeps it so if they ever do.
func (s *RedisStore) redact(err error) string { return s.redactor.String(err.Error()) }

// encodeStored lays st out as a 4-byte big-endian length of Response,
// Response, then Conversation: one string, so one SET and one GET.
func encodeStored(st Stored) []byte {
	b := make([]byte, 4, 4+st.size())
	binary.BigEndian.PutUint32(b, uint32(len(st.Response)))
	b = append(b, st.Response...)
	return append(b, st.Conversation...)
}

// decodeStored reverses encodeStored; the parts share v's memory.
func decodeStored(v []byte) (Stored, bool) {
	if len(v) < 4 {
		return Stored{}, false
	}
	n := binary.BigEndian.Uint32(v)
	if uint64(n) > uint64(len(v)-4) {
		return Stored{}, false
	}
	return Stored{Response: v[4 : 4+n : 4+n], Conversation: v[4+n:]}, true
}

var _ Store = (*RedisStore)(nil)
