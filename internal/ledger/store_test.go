package ledger

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// storeKind opens the same store again and again, as a restarted gateway or a
// second replica would.
type storeKind struct {
	name string
	// newPlace returns somewhere empty to keep a store (a file path, a URL).
	newPlace func(t testing.TB) string
	open     func(ctx context.Context, place string, migrations []string) (Store, error)
	base     []string
}

func storeKinds() []storeKind {
	return []storeKind{
		{
			name:     "sqlite",
			newPlace: func(t testing.TB) string { return filepath.Join(t.TempDir(), "ledger.db") },
			open: func(ctx context.Context, place string, m []string) (Store, error) {
				return openSQLite(ctx, place, m)
			},
			base: sqliteMigrations,
		},
		{
			name:     "postgres",
			newPlace: postgresURL,
			open: func(ctx context.Context, place string, m []string) (Store, error) {
				return openPostgres(ctx, place, m)
			},
			base: postgresMigrations,
		},
	}
}

var schemaSeq atomic.Int64

// postgresURL creates a schema of its own for the test and returns
// AIGW_POSTGRES_URL with search_path set to it, so that parallel tests and
// packages never share a table. The schema is dropped at cleanup.
func postgresURL(t testing.TB) string {
	base := os.Getenv("AIGW_POSTGRES_URL")
	if base == "" {
		t.Skip("AIGW_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable): skipping PostgreSQL")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("ledger_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemaSeq.Add(1))
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to AIGW_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		return base + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func forEachStore(t *testing.T, f func(t *testing.T, k storeKind)) {
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

func openStore(t testing.TB, k storeKind, place string) Store {
	t.Helper()
	s, err := k.open(context.Background(), place, k.base)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func versionOf(t *testing.T, s Store) int {
	t.Helper()
	var v int
	var err error
	switch s := s.(type) {
	case *SQLite:
		v, err = s.schemaVersion(context.Background())
	case *Postgres:
		v, err = s.schemaVersion(context.Background())
	}
	if err != nil {
		t.Fatalf("schema version: %v", err)
	}
	return v
}

var t0 = time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)

func rec(i int, at time.Time, key, model string, cost float64) Record {
	return Record{
		Time: at, RequestID: fmt.Sprintf("req-%d", i), Key: key, Model: model,
		Deployment: model + "@dep", Endpoint: "/v1/chat/completions", Status: 200,
		PromptTokens: int64(10 + i), CompletionTokens: int64(100 + i), CachedTokens: int64(i % 3),
		ReasoningTokens: int64(i % 5), CostUSD: cost, LatencyMS: 12.5, TTFBMS: 3.25,
		Stream: i%2 == 0, Outcome: OutcomeCompleted, Estimated: i%4 == 0,
	}
}

func TestMigrationsAreIdempotentAndExtensible(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		ctx := context.Background()
		place := k.newPlace(t)
		s, err := k.open(ctx, place, k.base)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Insert(ctx, []Record{rec(1, t0, "a", "m", 1)}); err != nil {
			t.Fatal(err)
		}
		if got := versionOf(t, s); got != len(k.base) {
			t.Errorf("version after first open = %d, want %d", got, len(k.base))
		}
		s.Close()

		// Opening again applies nothing and keeps the data.
		s = openStore(t, k, place)
		if got := versionOf(t, s); got != len(k.base) {
			t.Errorf("version after second open = %d, want %d", got, len(k.base))
		}
		recs, err := s.Requests(ctx, 10)
		if err != nil || len(recs) != 1 {
			t.Fatalf("Requests after reopen = %d records, %v; want 1", len(recs), err)
		}
		s.Close()

		// A later build adds a column: only the new step runs.
		later := append(append([]string(nil), k.base...), "ALTER TABLE requests ADD COLUMN region TEXT")
		s2, err := k.open(ctx, place, later)
		if err != nil {
			t.Fatalf("open with a new migration: %v", err)
		}
		if got := versionOf(t, s2); got != len(later) {
			t.Errorf("version after new migration = %d, want %d", got, len(later))
		}
		if err := s2.Insert(ctx, []Record{rec(2, t0, "a", "m", 1)}); err != nil {
			t.Fatalf("insert after migration: %v", err)
		}
		s2.Close()
		// The same again is a no-op (the ALTER would fail if it ran twice).
		s3, err := k.open(ctx, place, later)
		if err != nil {
			t.Fatalf("reopen with the new migration: %v", err)
		}
		s3.Close()

		// An older build refuses a newer schema instead of misreading it.
		_, err = k.open(ctx, place, k.base)
		if err == nil || !strings.Contains(err.Error(), "newer aigateway") {
			t.Errorf("older build opening newer schema: err = %v, want a 'newer aigateway' error", err)
		}
	})
}

func TestInsertAndRequests(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		ctx := context.Background()
		s := openStore(t, k, k.newPlace(t))
		// 250 records: two full chunks of 100 and a remainder, in two batches.
		var all []Record
		for i := range 250 {
			// Times repeat in pairs, so the tie-break (insertion order) matters.
			all = append(all, rec(i, t0.Add(time.Duration(i/2)*time.Second), "k", "m", 0.5))
		}
		all[7].Time = t0.Add(-time.Hour).In(time.FixedZone("X", 5*3600)) // any zone in, UTC out
		if err := s.Insert(ctx, all[:230]); err != nil {
			t.Fatal(err)
		}
		if err := s.Insert(ctx, all[230:]); err != nil {
			t.Fatal(err)
		}
		got, err := s.Requests(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != DefaultRequestsLimit {
			t.Errorf("Requests(0) returned %d, want %d", len(got), DefaultRequestsLimit)
		}
		got, err = s.Requests(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		// Newest first; equal times: the later insert first.
		order := make([]int, len(all))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool {
			ta, tb := all[order[a]].Time, all[order[b]].Time
			if !ta.Equal(tb) {
				return ta.After(tb)
			}
			return order[a] > order[b]
		})
		want := make([]Record, len(all))
		for i, j := range order {
			want[i] = all[j]
			want[i].Time = want[i].Time.UTC()
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Requests (-want +got):\n%s", diff)
		}
		got, err = s.Requests(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[:3], got); diff != "" {
			t.Errorf("Requests(3) (-want +got):\n%s", diff)
		}
	})
}

func TestHostileValuesAreStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		ctx := context.Background()
		s := openStore(t, k, k.newPlace(t))
		r := rec(1, t0, "k", "bad\xff\x00model"+strings.Repeat("é", 400), math.NaN())
		r.LatencyMS = math.Inf(1)
		if err := s.Insert(ctx, []Record{r}); err != nil {
			t.Fatalf("insert of invalid UTF-8, NUL, long text and NaN must not fail the batch: %v", err)
		}
		got, err := s.Requests(ctx, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("Requests = %v, %v", got, err)
		}
		m := got[0].Model
		if !strings.HasPrefix(m, "bad\uFFFDmodel") || len(m) > maxFieldBytes || strings.ContainsRune(m, 0) {
			t.Errorf("model stored as %q (len %d)", m, len(m))
		}
		if got[0].CostUSD != 0 || got[0].LatencyMS != 0 {
			t.Errorf("NaN/Inf stored as cost %v latency %v, want 0", got[0].CostUSD, got[0].LatencyMS)
		}
	})
}

// usageFixture spans two keys, two models and three UTC days, with records
// whose local date differs from their UTC date.
func usageFixture() []Record {
	keys := []string{"team-a", "team-b"}
	models := []string{"gpt", "claude"}
	var out []Record
	i := 0
	for d := range 3 {
		for h := 0; h < 24; h += 7 {
			for ki, key := range keys {
				for mi, model := range models {
					at := t0.Add(time.Duration(d*24+h) * time.Hour).In(time.FixedZone("plus9", 9*3600))
					out = append(out, rec(i, at, key, model, float64(1+ki+2*mi)*0.125))
					i++
				}
			}
		}
	}
	out = append(out, rec(i, t0, "", "gpt", 2)) // open gateway: no key
	// The last second of t0's hour groups with t0 by hour, not by minute.
	out = append(out, rec(i+1, t0.Add(59*time.Minute+59*time.Second), "", "gpt", 0.5))
	return out
}

// wantUsage computes Usage in Go.
func wantUsage(recs []Record, groupBy []string, from, to time.Time) []Row {
	type acc struct {
		row  Row
		sort string
	}
	groups := map[string]*acc{}
	var order []string
	for _, r := range recs {
		if !from.IsZero() && r.Time.Before(from) || !to.IsZero() && !r.Time.Before(to) {
			continue
		}
		var parts []string
		var row Row
		for _, g := range groupBy {
			var v string
			switch g {
			case GroupKey:
				v = r.Key
				row.Key = &v
			case GroupModel:
				v = r.Model
				row.Model = &v
			case GroupDay:
				v = r.Time.UTC().Format("2006-01-02")
				row.Day = &v
			case GroupHour:
				v = r.Time.UTC().Format("2006-01-02T15:00:00Z")
				row.Hour = &v
			}
			parts = append(parts, v)
		}
		id := strings.Join(parts, "\x00")
		a, ok := groups[id]
		if !ok {
			a = &acc{row: row, sort: id}
			groups[id] = a
			order = append(order, id)
		}
		a.row.Requests++
		a.row.PromptTokens += r.PromptTokens
		a.row.CompletionTokens += r.CompletionTokens
		a.row.CostUSD += r.CostUSD
	}
	sort.Strings(order)
	rows := []Row{}
	for _, id := range order {
		rows = append(rows, groups[id].row)
	}
	return rows
}

func TestUsage(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		ctx := context.Background()
		s := openStore(t, k, k.newPlace(t))
		recs := usageFixture()
		if err := s.Insert(ctx, recs); err != nil {
			t.Fatal(err)
		}
		combos := []string{"", "key", "model", "day", "key,model", "key,day", "model,day", "key,model,day", "day,key",
			"hour", "hour,model", "key,hour", "key,model,day,hour"}
		ranges := []struct {
			name     string
			from, to time.Time
		}{
			{"all", time.Time{}, time.Time{}},
			// From is inclusive and To exclusive: records at exactly t0+24h
			// are in, those at exactly t0+48h are out.
			{"day 2", t0.Add(24 * time.Hour), t0.Add(48 * time.Hour)},
			{"from only", t0.Add(30 * time.Hour), time.Time{}},
			{"to only", time.Time{}, t0.Add(7 * time.Hour)},
			{"empty", t0.Add(1000 * time.Hour), time.Time{}},
		}
		for _, c := range combos {
			groupBy, err := ParseGroupBy(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, rg := range ranges {
				got, err := s.Usage(ctx, Query{GroupBy: groupBy, From: rg.from, To: rg.to})
				if err != nil {
					t.Fatalf("Usage(%q, %s): %v", c, rg.name, err)
				}
				want := wantUsage(recs, groupBy, rg.from, rg.to)
				if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
					t.Errorf("Usage(%q, %s) (-want +got):\n%s", c, rg.name, diff)
				}
			}
		}
		if _, err := s.Usage(ctx, Query{GroupBy: []string{"key; DROP TABLE requests"}}); err == nil {
			t.Error("Usage with an unknown group column: no error")
		}
	})
}

// Summed costs come back as the decimal a person would write: three
// requests at $0.00029565 sum to 0.00088695, not 0.0008869500000000001.
func TestUsageCostHasNoBinaryNoise(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		ctx := context.Background()
		s := openStore(t, k, k.newPlace(t))
		var recs []Record
		for i := range 3 {
			recs = append(recs, rec(i, t0, "ci", "gpt-4o-mini", 0.00029565))
		}
		if err := s.Insert(ctx, recs); err != nil {
			t.Fatal(err)
		}
		got, err := s.Usage(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || fmt.Sprint(got[0].CostUSD) != "0.00088695" {
			t.Errorf("Usage: %+v, want one row costing 0.00088695", got)
		}
	})
}

func TestSpent(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		ctx := context.Background()
		s := openStore(t, k, k.newPlace(t))
		recs := []Record{
			rec(1, t0.Add(-time.Second), "a", "m", 100), // before since: not counted
			rec(2, t0, "a", "m", 1.25),                  // at since: counted
			rec(3, t0.Add(time.Hour), "a", "m2", 2.5),
			rec(4, t0.Add(time.Hour), "b", "m", 7),
		}
		if err := s.Insert(ctx, recs); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			key  string
			want float64
		}{{"a", 3.75}, {"b", 7}, {"nobody", 0}} {
			got, err := s.Spent(ctx, tc.key, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Spent(%q) = %v, want %v", tc.key, got, tc.want)
			}
		}
	})
}

func TestOpenSQLiteMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "ledger.db")
	_, err := OpenSQLite(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("OpenSQLite in a missing directory: err = %v, want one naming %s", err, path)
	}
	if _, statErr := os.Stat(filepath.Dir(path)); !os.IsNotExist(statErr) {
		t.Errorf("OpenSQLite created the directory")
	}
}

func TestOpenPicksTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := Open(context.Background(), "", path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*SQLite); !ok {
		t.Errorf("Open without a database URL = %T, want *SQLite", s)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("SQLite file not created: %v", err)
	}
	if os.Getenv("AIGW_POSTGRES_URL") != "" {
		p, err := Open(context.Background(), postgresURL(t), path)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, ok := p.(*Postgres); !ok {
			t.Errorf("Open with a database URL = %T, want *Postgres", p)
		}
	}
}

func TestPostgresErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{
		"postgres://user:s3cr%21t-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", // nothing listens on port 1
		"postgres://user:s3cr!t-pw@127.0.0.1:notaport/db",
		"host=127.0.0.1 port=1 user=u password=s3cr!t-pw sslmode=disable connect_timeout=2",
		"host=127.0.0.1 port=bad user=u password=s3cr!t-pw",
	} {
		_, err := OpenPostgres(ctx, u)
		if err == nil {
			t.Errorf("OpenPostgres(%s): no error", u)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "s3cr") {
			t.Errorf("error shows the password: %s", msg)
		}
	}
}

func TestPostgresReplicasShareRecords(t *testing.T) {
	u := postgresURL(t)
	ctx := context.Background()
	k := storeKinds()[1]
	a := openStore(t, k, u)
	b := openStore(t, k, u) // a second replica: its migration finds the schema done
	if err := a.Insert(ctx, []Record{rec(1, t0, "team-a", "gpt", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Insert(ctx, []Record{rec(2, t0.Add(time.Second), "team-a", "gpt", 2)}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Store{"a": a, "b": b} {
		spent, err := s.Spent(ctx, "team-a", t0)
		if err != nil {
			t.Fatal(err)
		}
		if spent != 3 {
			t.Errorf("replica %s: Spent = %v, want 3 (both replicas' records)", name, spent)
		}
		recs, err := s.Requests(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[0].RequestID != "req-2" || recs[1].RequestID != "req-1" {
			t.Errorf("replica %s: Requests = %+v, want req-2 then req-1", name, recs)
		}
	}
}
