package ledger

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// discardStore accepts every Insert at no cost, so BenchmarkWriterAdd
// measures the Writer alone.
type discardStore struct{ memStore }

func (*discardStore) Insert(context.Context, []Record) error { return nil }

// BenchmarkWriterAdd is the ledger's cost on the request path. The queue is
// flushed outside the timer so that every Add takes the accepting path.
func BenchmarkWriterAdd(b *testing.B) {
	w := NewWriter(&discardStore{}, WriterOptions{FlushInterval: time.Hour, Logger: (&logBuffer{}).logger()})
	r := rec(1, t0, "team-a", "gpt-4o-mini", 0.0012)
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		if i%32768 == 32767 {
			b.StopTimer()
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		w.Add(r)
	}
	b.StopTimer()
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if st := w.Stats(); st.Dropped > 0 {
		b.Fatalf("%d records dropped", st.Dropped)
	}
}

// BenchmarkWriterAddParallel saturates every CPU with Add, so the writer's
// goroutine starves and the queue overflows: it shows the cost of Add under
// contention, drops included (reported as dropped/op).
func BenchmarkWriterAddParallel(b *testing.B) {
	w := NewWriter(&discardStore{}, WriterOptions{Logger: (&logBuffer{}).logger()})
	r := rec(1, t0, "team-a", "gpt-4o-mini", 0.0012)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Add(r)
		}
	})
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.Stats().Dropped)/float64(b.N), "dropped/op")
}

func benchRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = rec(i, t0, []string{"team-a", "team-b", "batch"}[i%3], "gpt-4o-mini", 0.0012)
		recs[i].RequestID = "chatcmpl-0123456789abcdef0123456789"
	}
	return recs
}

// benchInsert inserts batches of 500, the Writer's default, and reports the
// cost per record.
func benchInsert(b *testing.B, s Store) {
	const batch = 500
	recs := benchRecords(batch)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		// Time moves on, as it does in a gateway: new records go at the end
		// of the time indexes instead of all over them.
		for j := range recs[:n] {
			recs[j].Time = t0.Add(time.Duration(i+j) * time.Millisecond)
		}
		if err := s.Insert(ctx, recs[:n]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

// BenchmarkSQLiteInsert: b.N is the number of records.
func BenchmarkSQLiteInsert(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchInsert(b, s)
}

// BenchmarkPostgresInsert: b.N is the number of records.
func BenchmarkPostgresInsert(b *testing.B) {
	s, err := OpenPostgres(context.Background(), postgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchInsert(b, s)
}
