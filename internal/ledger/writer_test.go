package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStore keeps inserted records in memory and reports each Insert.
type memStore struct {
	mu       sync.Mutex
	records  []Record
	batches  []int
	inserted chan int // receives each batch size, when not nil and not full
}

func (m *memStore) Insert(_ context.Context, recs []Record) error {
	m.mu.Lock()
	m.records = append(m.records, recs...)
	m.batches = append(m.batches, len(recs))
	m.mu.Unlock()
	if m.inserted != nil {
		select {
		case m.inserted <- len(recs):
		default:
		}
	}
	return nil
}
func (m *memStore) Usage(context.Context, Query) ([]Row, error)               { return nil, nil }
func (m *memStore) Requests(context.Context, int) ([]Record, error)           { return nil, nil }
func (m *memStore) Spent(context.Context, string, time.Time) (float64, error) { return 0, nil }
func (m *memStore) Close() error                                              { return nil }

func (m *memStore) snapshot() ([]Record, []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.records...), append([]int(nil), m.batches...)
}

// flakyStore wraps a Store with a switch that makes Insert fail, the way a
// database that is briefly down would, and can hold Inserts until released.
type flakyStore struct {
	Store
	failing  atomic.Bool
	failures chan struct{} // receives each failure, when not full
	hold     chan struct{} // when not nil, Insert waits for it to close
}

func (f *flakyStore) Insert(ctx context.Context, recs []Record) error {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.failing.Load() {
		select {
		case f.failures <- struct{}{}:
		default:
		}
		return errors.New("connection refused")
	}
	return f.Store.Insert(ctx, recs)
}

// logBuffer is a slog.Logger writing text into a buffer that tests count in.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// waitFor fails the test when ch yields nothing for a long time. The timeout
// only guards against a hang; no test depends on timing.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func closeWriter(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestWriterWritesFullBatchesWithoutWaiting(t *testing.T) {
	store := &memStore{inserted: make(chan int, 10)}
	// An hour between flushes: only a full batch can trigger a write.
	w := NewWriter(store, WriterOptions{BatchSize: 10, FlushInterval: time.Hour})
	defer closeWriter(t, w)
	for i := range 10 {
		w.Add(rec(i, t0, "k", "m", 1))
	}
	if n := waitFor(t, store.inserted, "a full batch to be written"); n != 10 {
		t.Errorf("first batch has %d records, want 10", n)
	}
	for i := range 25 {
		w.Add(rec(10+i, t0, "k", "m", 1))
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, batches := store.snapshot()
	if len(recs) != 35 {
		t.Fatalf("after Flush: %d records, want 35", len(recs))
	}
	for i, r := range recs {
		if r.RequestID != fmt.Sprintf("req-%d", i) {
			t.Fatalf("record %d is %s: order not kept", i, r.RequestID)
		}
	}
	for _, n := range batches {
		if n > 10 {
			t.Errorf("batch of %d records, BatchSize is 10 (batches %v)", n, batches)
		}
	}
	if st := w.Stats(); st.Written != 35 || st.Queued != 0 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want 35 written, none queued or dropped", st)
	}
}

func TestWriterCloseWritesEverything(t *testing.T) {
	store, err := OpenSQLite(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w := NewWriter(store, WriterOptions{BatchSize: 100, FlushInterval: time.Hour, Logger: (&logBuffer{}).logger()})
	const n = 1234
	for i := range n {
		w.Add(rec(i, t0.Add(time.Duration(i)*time.Millisecond), "k", "m", 0.001))
	}
	closeWriter(t, w)
	rows, err := store.Usage(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Requests != n {
		t.Fatalf("after Close the store has %+v, want %d requests", rows, n)
	}
	if st := w.Stats(); st.Written != n || st.Queued != 0 {
		t.Errorf("Stats = %+v, want %d written", st, n)
	}
	// Closed: records are refused and counted, never lost silently.
	w.Add(rec(0, t0, "k", "m", 1))
	if st := w.Stats(); st.Dropped != 1 {
		t.Errorf("Add after Close: Dropped = %d, want 1", st.Dropped)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestWriterLosesNothingWhileTheStoreIsDown(t *testing.T) {
	mem := &memStore{}
	store := &flakyStore{Store: mem, failures: make(chan struct{}, 1)}
	store.failing.Store(true)
	logs := &logBuffer{}
	w := NewWriter(store, WriterOptions{BatchSize: 20, RetryInterval: time.Millisecond, FlushInterval: time.Hour, Logger: logs.logger()})
	for i := range 50 {
		w.Add(rec(i, t0, "k", "m", 1))
	}
	// Several failed attempts...
	for range 3 {
		waitFor(t, store.failures, "a failed insert")
	}
	// ...while records keep queueing.
	for i := range 50 {
		w.Add(rec(50+i, t0, "k", "m", 1))
	}
	st := w.Stats()
	if st.Queued != 100 || st.Written != 0 || !strings.Contains(st.LastError, "connection refused") {
		t.Errorf("while down: Stats = %+v, want 100 queued, 0 written, the error", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	if err := w.Flush(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Flush while down: err = %v, want one carrying the store's error", err)
	}
	cancel()

	store.failing.Store(false)
	closeWriter(t, w)
	recs, _ := mem.snapshot()
	if len(recs) != 100 {
		t.Fatalf("after the outage: %d records in the store, want 100", len(recs))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.RequestID] {
			t.Fatalf("%s written twice", r.RequestID)
		}
		seen[r.RequestID] = true
	}
	if st := w.Stats(); st.Written != 100 || st.LastError != "" || st.Failed != 0 {
		t.Errorf("after recovery: Stats = %+v", st)
	}
	if n := logs.count("writing records failed"); n != 1 {
		t.Errorf("failure logged %d times in one streak, want once", n)
	}
	if n := logs.count("writing records again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

func TestWriterFullQueueDropsAndCounts(t *testing.T) {
	mem := &memStore{}
	store := &flakyStore{Store: mem, hold: make(chan struct{})}
	logs := &logBuffer{}
	w := NewWriter(store, WriterOptions{QueueSize: 10, BatchSize: 4, FlushInterval: time.Hour, Logger: logs.logger()})
	// The store holds every Insert, so the queue (pending and in flight)
	// fills up at 10 records.
	for i := range 15 {
		w.Add(rec(i, t0, "k", "m", 1))
	}
	if st := w.Stats(); st.Queued != 10 || st.Dropped != 5 {
		t.Errorf("Stats = %+v, want 10 queued and 5 dropped", st)
	}
	// Drops 1, 2 and 4 are logged; 3 and 5 are not.
	if n := logs.count("dropping records"); n != 3 {
		t.Errorf("drops logged %d times, want 3 (first and every power of two)", n)
	}
	close(store.hold)
	closeWriter(t, w)
	recs, _ := mem.snapshot()
	if len(recs) != 10 {
		t.Errorf("%d records written, want the 10 accepted", len(recs))
	}
	if st := w.Stats(); st.Written != 10 || st.Dropped != 5 {
		t.Errorf("after Close: Stats = %+v", st)
	}
}

func TestWriterCloseGivesUpWhenItsContextEnds(t *testing.T) {
	store := &flakyStore{Store: &memStore{}, failures: make(chan struct{}, 1)}
	store.failing.Store(true)
	w := NewWriter(store, WriterOptions{RetryInterval: time.Millisecond, Logger: (&logBuffer{}).logger()})
	for i := range 7 {
		w.Add(rec(i, t0, "k", "m", 1))
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-store.failures // Close is retrying: now give up
		cancel()
	}()
	err := w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "7 records not written") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Close = %v, want an error counting 7 records and saying why", err)
	}
	if st := w.Stats(); st.Failed != 7 || st.Queued != 0 {
		t.Errorf("Stats = %+v, want 7 failed", st)
	}
	if err := w.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "7 records not written") {
		t.Errorf("Flush after giving up = %v, want an error counting the 7 records", err)
	}
}

func TestWriterConcurrentAdd(t *testing.T) {
	mem := &memStore{}
	w := NewWriter(mem, WriterOptions{BatchSize: 64, QueueSize: 1 << 20})
	const goroutines, each = 8, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				w.Add(rec(g*each+i, t0, "k", "m", 1))
				if i%500 == 0 {
					_ = w.Stats()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if err := w.Flush(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	closeWriter(t, w)
	recs, _ := mem.snapshot()
	if len(recs) != goroutines*each {
		t.Fatalf("%d records written, want %d", len(recs), goroutines*each)
	}
	if st := w.Stats(); st.Written != goroutines*each || st.Dropped != 0 {
		t.Errorf("Stats = %+v", st)
	}
}
