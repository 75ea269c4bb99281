package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"aigateway/internal/config"
	"aigateway/internal/ledger"
)

// runUsage is `aigateway usage`: the ledger's tables in the terminal, read
// from the same store the gateway writes (the SQLite file, or PostgreSQL
// when a database URL is configured), like GET /admin/usage and
// /admin/requests.
func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("aigateway usage", flag.ContinueOnError)
	flags.SetOutput(stderr)
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	cfg := flags.String("config", env("AIGATEWAY_CONFIG", "config/models.json"), "path of models.json, for database_url (env AIGATEWAY_CONFIG)")
	dbURL := flags.String("database-url", env("AIGATEWAY_DATABASE_URL", ""), "PostgreSQL URL of the ledger; overrides database_url (env AIGATEWAY_DATABASE_URL)")
	ledgerFile := flags.String("ledger-file", env("AIGATEWAY_LEDGER_FILE", "aigateway-usage.db"), "SQLite file of the ledger when no database URL is set (env AIGATEWAY_LEDGER_FILE)")
	groupBy := flags.String("group-by", "key,model", "group usage by any of key, model, day, hour (comma-separated)")
	from := flags.String("from", "", "first day or time included (2026-12-01 or RFC 3339); default the start of this month")
	to := flags.String("to", "", "first day or time excluded; default none")
	requests := flags.Int("requests", 0, "instead of usage, list the N most recent requests")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: aigateway usage [flags]\n\nPrints the usage ledger: tokens and cost grouped by key, model, day or hour, or the latest requests.\n\nFlags:\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("usage: unexpected argument %q (see aigateway usage --help)", flags.Arg(0))
	}
	url := *dbURL
	if url == "" {
		if file, err := config.Load(*cfg); err == nil {
			if url, err = secretSetting("", file.DatabaseURL, "database_url"); err != nil {
				return fmt.Errorf("%s: %w", *cfg, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if url == "" {
		if _, err := os.Stat(*ledgerFile); err != nil {
			return fmt.Errorf("no usage ledger at %s (start the gateway first, or pass --ledger-file or --database-url): %w", *ledgerFile, err)
		}
	}
	store, err := ledger.Open(ctx, url, *ledgerFile)
	if err != nil {
		return fmt.Errorf("opening the usage ledger: %w", err)
	}
	defer store.Close()
	if *requests > 0 {
		recs, err := store.Requests(ctx, *requests)
		if err != nil {
			return fmt.Errorf("reading the usage ledger: %w", err)
		}
		ledger.WriteRequests(stdout, recs)
		return nil
	}
	q := ledger.Query{}
	if q.GroupBy, err = ledger.ParseGroupBy(*groupBy); err != nil {
		return fmt.Errorf("--group-by: %w", err)
	}
	now := time.Now().UTC()
	q.From = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if *from != "" {
		if q.From, err = parseWhen(*from); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if *to != "" {
		if q.To, err = parseWhen(*to); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	rows, err := store.Usage(ctx, q)
	if err != nil {
		return fmt.Errorf("reading the usage ledger: %w", err)
	}
	ledger.WriteUsage(stdout, q.GroupBy, rows)
	return nil
}

func parseWhen(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (2026-12-01) or an RFC 3339 time", v)
	}
	return t.UTC(), nil
}
