package ledger

import "context"

// Open returns the PostgreSQL store at databaseURL when it is set, and the
// SQLite file at sqlitePath otherwise.
func Open(ctx context.Context, databaseURL, sqlitePath string) (Store, error) {
	if databaseURL != "" {
		return OpenPostgres(ctx, databaseURL)
	}
	return openSQLite(ctx, sqlitePath, sqliteMigrations)
}
