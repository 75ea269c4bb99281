package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// sqliteChunk is the number of rows per INSERT statement. Fewer statements
// mean fewer trips through the driver; 100 rows of 17 columns stay far below
// SQLite's limit of 32766 parameters.
const sqliteChunk = 100

// sqliteMigrations are applied in order; PRAGMA user_version counts how many
// a file has had. Append, never edit: a file migrated once is never migrated
// by the same step again.
var sqliteMigrations = []string{
	`CREATE TABLE requests (
		id                INTEGER PRIMARY KEY,
		time              INTEGER NOT NULL, -- Unix microseconds, UTC
		request_id        TEXT    NOT NULL,
		key               TEXT    NOT NULL,
		model             TEXT    NOT NULL,
		deployment        TEXT    NOT NULL,
		endpoint          TEXT    NOT NULL,
		status            INTEGER NOT NULL,
		prompt_tokens     INTEGER NOT NULL,
		completion_tokens INTEGER NOT NULL,
		cached_tokens     INTEGER NOT NULL,
		reasoning_tokens  INTEGER NOT NULL,
		cost_usd          REAL    NOT NULL,
		latency_ms        REAL    NOT NULL,
		ttfb_ms           REAL    NOT NULL,
		stream            INTEGER NOT NULL,
		outcome           TEXT    NOT NULL,
		estimated         INTEGER NOT NULL
	);
	-- One index: every read is by time (Usage's range, Requests' newest,
	-- Spent's period start). Each index costs every insert (a second one,
	-- on key and time, added a sixth to the ledger's CPU per request).
	CREATE INDEX requests_time ON requests (time);`,
}

var sqliteDialect = dialect{
	dayExpr:     "strftime('%Y-%m-%d', time / 1000000, 'unixepoch')",
	hourExpr:    "strftime('%Y-%m-%dT%H:00:00Z', time / 1000000, 'unixepoch')",
	placeholder: func(int) string { return "?" },
}

// SQLite is a Store in an embedded SQLite file.
type SQLite struct {
	path  string
	write *sql.DB // one connection; transactions begin IMMEDIATE
	read  *sql.DB // readers, concurrent with the writer thanks to WAL

	mu   sync.Mutex // serializes Insert; guards full and args
	full *sql.Stmt  // INSERT of sqliteChunk rows, prepared once
	args []any
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens or creates the ledger file at path and migrates its
// schema. The directory must exist: a typo in the path should be an error,
// not a new tree of directories.
func OpenSQLite(path string) (*SQLite, error) {
	return openSQLite(context.Background(), path, sqliteMigrations)
}

func openSQLite(ctx context.Context, path string, migrations []string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("ledger: SQLite path is empty")
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("ledger: SQLite path %q: must not contain '?'", path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("ledger: SQLite path %q: directory %q: %w", path, dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("ledger: SQLite path %q: %q is not a directory", path, dir)
	}
	// busy_timeout first, so that switching to WAL waits for other
	// processes instead of failing.
	const pragmas = "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)"
	write, err := sql.Open("sqlite", path+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("ledger: opening SQLite %q: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	s := &SQLite{path: path, write: write}
	if err := s.migrate(ctx, migrations); err != nil {
		write.Close()
		return nil, err
	}
	s.read, err = sql.Open("sqlite", path+pragmas)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("ledger: opening SQLite %q: %w", path, err)
	}
	s.full, err = write.PrepareContext(ctx, insertSQL(sqliteDialect, sqliteChunk))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("ledger: SQLite %q: preparing insert: %w", path, err)
	}
	return s, nil
}

// migrate applies the migrations the file has not had, each in its own
// IMMEDIATE transaction so that two processes opening one file at once apply
// each step once.
func (s *SQLite) migrate(ctx context.Context, migrations []string) error {
	for {
		done, err := s.migrateOne(ctx, migrations)
		if err != nil {
			return fmt.Errorf("ledger: SQLite %q: migrating schema: %w", s.path, err)
		}
		if done {
			return nil
		}
	}
}

func (s *SQLite) migrateOne(ctx context.Context, migrations []string) (done bool, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, err
	}
	if version > len(migrations) {
		return false, fmt.Errorf("file has schema version %d, this build knows %d: written by a newer aigateway", version, len(migrations))
	}
	if version == len(migrations) {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[version]); err != nil {
		return false, fmt.Errorf("migration %d: %w", version+1, err)
	}
	// PRAGMA takes no parameters; version is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version+1)); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// schemaVersion reports how many migrations the file has had.
func (s *SQLite) schemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// insertSQL is an INSERT of n rows of recordColumns.
func insertSQL(d dialect, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO requests (" + strings.Join(recordColumns, ", ") + ") VALUES ")
	p := 0
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range recordColumns {
			if j > 0 {
				b.WriteString(", ")
			}
			p++
			b.WriteString(d.placeholder(p))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Insert writes records in one transaction.
func (s *SQLite) Insert(ctx context.Context, records []Record) error {
	if len(records) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.insert(ctx, records); err != nil {
		return fmt.Errorf("ledger: SQLite %q: inserting %d records: %w", s.path, len(records), err)
	}
	return nil
}

func (s *SQLite) insert(ctx context.Context, records []Record) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Drop the references the arguments hold to the records' strings.
	defer clear(s.args)
	if len(records) >= sqliteChunk {
		full := tx.StmtContext(ctx, s.full)
		for len(records) >= sqliteChunk {
			s.args = appendSQLiteArgs(s.args[:0], records[:sqliteChunk])
			if _, err := full.ExecContext(ctx, s.args...); err != nil {
				return err
			}
			records = records[sqliteChunk:]
		}
	}
	if len(records) > 0 {
		s.args = appendSQLiteArgs(s.args[:0], records)
		if _, err := tx.ExecContext(ctx, insertSQL(sqliteDialect, len(records)), s.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func appendSQLiteArgs(args []any, records []Record) []any {
	for i := range records {
		r := &records[i]
		args = append(args,
			r.Time.UnixMicro(), cleanText(r.RequestID), cleanText(r.Key), cleanText(r.Model),
			cleanText(r.Deployment), cleanText(r.Endpoint), int64(r.Status),
			r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.ReasoningTokens,
			cleanFloat(r.CostUSD), cleanFloat(r.LatencyMS), cleanFloat(r.TTFBMS),
			r.Stream, cleanText(r.Outcome), r.Estimated)
	}
	return args
}

// Usage sums records grouped as q says.
func (s *SQLite) Usage(ctx context.Context, q Query) ([]Row, error) {
	groupBy, err := normalizeGroupBy(q.GroupBy)
	if err != nil {
		return nil, fmt.Errorf("ledger: usage: %w", err)
	}
	var args []any
	if !q.From.IsZero() {
		args = append(args, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		args = append(args, q.To.UnixMicro())
	}
	query := usageSQL(sqliteDialect, groupBy, !q.From.IsZero(), !q.To.IsZero())
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: SQLite %q: usage: %w", s.path, err)
	}
	defer rows.Close()
	out := []Row{}
	for rows.Next() {
		r, dest := usageRowDest(groupBy)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("ledger: SQLite %q: usage: %w", s.path, err)
		}
		r.CostUSD = roundSum(r.CostUSD)
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: SQLite %q: usage: %w", s.path, err)
	}
	return out, nil
}

// Requests returns the newest limit records, newest first; limit <= 0 means
// DefaultRequestsLimit.
func (s *SQLite) Requests(ctx context.Context, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = DefaultRequestsLimit
	}
	query := "SELECT " + strings.Join(recordColumns, ", ") + " FROM requests ORDER BY time DESC, id DESC LIMIT ?"
	rows, err := s.read.QueryContext(ctx, query, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: SQLite %q: requests: %w", s.path, err)
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		var r Record
		var micros int64
		if err := rows.Scan(&micros, &r.RequestID, &r.Key, &r.Model, &r.Deployment, &r.Endpoint, &r.Status,
			&r.PromptTokens, &r.CompletionTokens, &r.CachedTokens, &r.ReasoningTokens,
			&r.CostUSD, &r.LatencyMS, &r.TTFBMS, &r.Stream, &r.Outcome, &r.Estimated); err != nil {
			return nil, fmt.Errorf("ledger: SQLite %q: requests: %w", s.path, err)
		}
		r.Time = time.UnixMicro(micros).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: SQLite %q: requests: %w", s.path, err)
	}
	return out, nil
}

// Spent sums the cost of key's records since since.
func (s *SQLite) Spent(ctx context.Context, key string, since time.Time) (float64, error) {
	var spent float64
	err := s.read.QueryRowContext(ctx,
		"SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE key = ? AND time >= ?",
		key, since.UnixMicro()).Scan(&spent)
	if err != nil {
		return 0, fmt.Errorf("ledger: SQLite %q: spent: %w", s.path, err)
	}
	return spent, nil
}

// Close closes the file. Inserts must have finished.
func (s *SQLite) Close() error {
	var errs []error
	if s.full != nil {
		errs = append(errs, s.full.Close())
	}
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ledger: closing SQLite %q: %w", s.path, err)
	}
	return nil
}
