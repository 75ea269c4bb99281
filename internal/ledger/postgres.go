package ledger

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// postgresMigrations are applied in order; the schema_version table records
// how many a database has had. Append, never edit.
var postgresMigrations = []string{
	`CREATE TABLE requests (
		id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		time              TIMESTAMPTZ      NOT NULL,
		request_id        TEXT             NOT NULL,
		key               TEXT             NOT NULL,
		model             TEXT             NOT NULL,
		deployment        TEXT             NOT NULL,
		endpoint          TEXT             NOT NULL,
		status            INTEGER          NOT NULL,
		prompt_tokens     BIGINT           NOT NULL,
		completion_tokens BIGINT           NOT NULL,
		cached_tokens     BIGINT           NOT NULL,
		reasoning_tokens  BIGINT           NOT NULL,
		cost_usd          DOUBLE PRECISION NOT NULL,
		latency_ms        DOUBLE PRECISION NOT NULL,
		ttfb_ms           DOUBLE PRECISION NOT NULL,
		stream            BOOLEAN          NOT NULL,
		outcome           TEXT             NOT NULL,
		estimated         BOOLEAN          NOT NULL
	);
	CREATE INDEX requests_time ON requests (time);
	CREATE INDEX requests_key_time ON requests (key, time);`,
}

// migrationLock is the advisory lock that serializes migrations when several
// replicas start at once.
const migrationLock = 0x6169677700000001 // "aigw" + 1

var postgresDialect = dialect{
	dayExpr:     "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
	hourExpr:    "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')",
	placeholder: func(n int) string { return fmt.Sprintf("$%d", n) },
}

// Postgres is a Store in PostgreSQL, shared by every replica.
type Postgres struct {
	pool    *pgxpool.Pool
	secrets []string // the password as written and as decoded, scrubbed from every error

	mu  sync.Mutex // guards row, reused by CopyFrom
	row []any
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the database at url (a postgres:// URL or a
// keyword/value string) and migrates its schema. Errors never include the
// password.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	return openPostgres(ctx, url, postgresMigrations)
}

func openPostgres(ctx context.Context, url string, migrations []string) (*Postgres, error) {
	password := []string{passwordOf(url)}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("ledger: parsing PostgreSQL URL: %w", scrub(err, password))
	}
	password = append(password, cfg.ConnConfig.Password)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger: connecting to PostgreSQL: %w", scrub(err, password))
	}
	p := &Postgres{pool: pool, secrets: password}
	if err := p.migrate(ctx, migrations); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger: PostgreSQL: migrating schema: %w", scrub(err, password))
	}
	return p, nil
}

// migrate applies the missing migrations in one transaction, under an
// advisory lock so that replicas starting together apply each step once.
func (p *Postgres) migrate(ctx context.Context, migrations []string) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); err != nil {
		return err
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("database has schema version %d, this build knows %d: written by a newer aigateway", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.Exec(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM schema_version"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES ($1)", len(migrations)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (p *Postgres) schemaVersion(ctx context.Context) (int, error) {
	var v int
	err := p.pool.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&v)
	return v, err
}

// Insert writes records in one transaction with COPY.
func (p *Postgres) Insert(ctx context.Context, records []Record) error {
	if len(records) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.insert(ctx, records); err != nil {
		return fmt.Errorf("ledger: PostgreSQL: inserting %d records: %w", len(records), scrub(err, p.secrets))
	}
	return nil
}

func (p *Postgres) insert(ctx context.Context, records []Record) error {
	if p.row == nil {
		p.row = make([]any, len(recordColumns))
	}
	defer clear(p.row)
	// CopyFrom encodes each row before asking for the next, so one row slice
	// serves them all.
	src := pgx.CopyFromSlice(len(records), func(i int) ([]any, error) {
		r := &records[i]
		v := p.row
		v[0], v[1], v[2], v[3] = r.Time.UTC(), cleanText(r.RequestID), cleanText(r.Key), cleanText(r.Model)
		v[4], v[5], v[6] = cleanText(r.Deployment), cleanText(r.Endpoint), int32(r.Status)
		v[7], v[8], v[9], v[10] = r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.ReasoningTokens
		v[11], v[12], v[13] = cleanFloat(r.CostUSD), cleanFloat(r.LatencyMS), cleanFloat(r.TTFBMS)
		v[14], v[15], v[16] = r.Stream, cleanText(r.Outcome), r.Estimated
		return v, nil
	})
	// CopyFrom outside a transaction is already atomic: one COPY statement.
	_, err := p.pool.CopyFrom(ctx, pgx.Identifier{"requests"}, recordColumns, src)
	return err
}

// Usage sums records grouped as q says.
func (p *Postgres) Usage(ctx context.Context, q Query) ([]Row, error) {
	groupBy, err := normalizeGroupBy(q.GroupBy)
	if err != nil {
		return nil, fmt.Errorf("ledger: usage: %w", err)
	}
	var args []any
	if !q.From.IsZero() {
		args = append(args, q.From.UTC())
	}
	if !q.To.IsZero() {
		args = append(args, q.To.UTC())
	}
	query := usageSQL(postgresDialect, groupBy, !q.From.IsZero(), !q.To.IsZero())
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: PostgreSQL: usage: %w", scrub(err, p.secrets))
	}
	defer rows.Close()
	out := []Row{}
	for rows.Next() {
		r, dest := usageRowDest(groupBy)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("ledger: PostgreSQL: usage: %w", scrub(err, p.secrets))
		}
		r.CostUSD = roundSum(r.CostUSD)
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: PostgreSQL: usage: %w", scrub(err, p.secrets))
	}
	return out, nil
}

// Requests returns the newest limit records, newest first; limit <= 0 means
// DefaultRequestsLimit.
func (p *Postgres) Requests(ctx context.Context, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = DefaultRequestsLimit
	}
	query := "SELECT " + strings.Join(recordColumns, ", ") + " FROM requests ORDER BY time DESC, id DESC LIMIT $1"
	rows, err := p.pool.Query(ctx, query, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: PostgreSQL: requests: %w", scrub(err, p.secrets))
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		var r Record
		var status int32
		if err := rows.Scan(&r.Time, &r.RequestID, &r.Key, &r.Model, &r.Deployment, &r.Endpoint, &status,
			&r.PromptTokens, &r.CompletionTokens, &r.CachedTokens, &r.ReasoningTokens,
			&r.CostUSD, &r.LatencyMS, &r.TTFBMS, &r.Stream, &r.Outcome, &r.Estimated); err != nil {
			return nil, fmt.Errorf("ledger: PostgreSQL: requests: %w", scrub(err, p.secrets))
		}
		r.Status = int(status)
		r.Time = r.Time.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: PostgreSQL: requests: %w", scrub(err, p.secrets))
	}
	return out, nil
}

// Spent sums the cost of key's records since since.
func (p *Postgres) Spent(ctx context.Context, key string, since time.Time) (float64, error) {
	var spent float64
	err := p.pool.QueryRow(ctx,
		"SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE key = $1 AND time >= $2",
		key, since.UTC()).Scan(&spent)
	if err != nil {
		return 0, fmt.Errorf("ledger: PostgreSQL: spent: %w", scrub(err, p.secrets))
	}
	return spent, nil
}

// Close closes the pool.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// passwordOf finds the password in a postgres:// URL or a keyword/value
// connection string without parsing it fully, so that it can be scrubbed
// even from the errors of a string that does not parse.
func passwordOf(conn string) string {
	if i := strings.Index(conn, "://"); i >= 0 {
		rest := conn[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			rest = rest[:j]
		}
		at := strings.LastIndexByte(rest, '@')
		if at < 0 {
			return ""
		}
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
			return pw
		}
		return ""
	}
	for _, field := range strings.Fields(conn) {
		if v, ok := strings.CutPrefix(field, "password="); ok {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

// scrub hides secrets in err's text, keeping err reachable for errors.Is
// and errors.As.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	for _, s := range secrets {
		if s != "" {
			return scrubbedError{err: err, secrets: secrets}
		}
	}
	return err
}

type scrubbedError struct {
	err     error
	secrets []string
}

func (e scrubbedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

func (e scrubbedError) Unwrap() error { return e.err }
