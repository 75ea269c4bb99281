package logbuf

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write it is given.
type sink struct {
	mu     sync.Mutex
	writes []string
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) got() (all string, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, ""), len(s.writes)
}

func TestLinesAreWrittenTogetherWithinTheDelay(t *testing.T) {
	out := &sink{}
	w := New(out, 50*time.Millisecond)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w))
	for i := range 3 {
		log.Info("request", "n", i)
	}
	if all, _ := out.got(); all != "" {
		t.Fatalf("written before the delay: %q", all)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		all, writes := out.got()
		if writes > 0 {
			if writes != 1 || strings.Count(all, "msg=request") != 3 || !strings.Contains(all, "n=0") || strings.Index(all, "n=0") > strings.Index(all, "n=2") {
				t.Fatalf("%d writes: %q; want the 3 lines in order in one write", writes, all)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing written 5 s after a 50 ms delay")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWarningsAreWrittenAtOnce(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w).WithAttrs([]slog.Attr{slog.String("c", "d")}).WithGroup("g"))
	log.Info("first")
	log.Warn("upstream failed")
	all, writes := out.got()
	if writes != 1 || !strings.Contains(all, "msg=first") || !strings.Contains(all, `msg="upstream failed"`) {
		t.Fatalf("after a WARN: %d writes %q; want the INFO line and the WARN line, in one write", writes, all)
	}
}

func TestCloseWritesWhatIsHeldAndLaterLinesGoStraight(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	fmt.Fprintln(w, "held")
	w.Close()
	if all, _ := out.got(); all != "held\n" {
		t.Fatalf("after Close: %q", all)
	}
	fmt.Fprintln(w, "late")
	if all, _ := out.got(); all != "held\nlate\n" {
		t.Fatalf("a write after Close: %q", all)
	}
}

func TestAFullBufferIsWritten(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	defer w.Close()
	line := strings.Repeat("x", 1000) + "\n"
	for range 40 {
		w.Write([]byte(line)) //nolint:errcheck
	}
	all, writes := out.got()
	if writes == 0 || len(all) > maxBuffered || len(all)%len(line) != 0 {
		t.Fatalf("40 KB through a 32 KiB buffer: %d writes, %d bytes", writes, len(all))
	}
	big := bytes.Repeat([]byte("y"), maxBuffered+1)
	w.Write(big) //nolint:errcheck
	all, _ = out.got()
	if !strings.HasSuffix(all, string(big)) || strings.Count(all, line) != 40 {
		t.Fatal("a write larger than the buffer: not written at once after what was held")
	}
}

func TestConcurrentRecordsStayWhole(t *testing.T) {
	out := &sink{}
	w := New(out, time.Millisecond)
	log := slog.New(Handler(slog.NewJSONHandler(w, nil), w))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("request", "g", g, "i", i, "pad", strings.Repeat("p", 100))
			}
		})
	}
	wg.Wait()
	w.Close()
	all, _ := out.got()
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"time":`) || !strings.HasSuffix(l, `}`) {
			t.Fatalf("a record was split or mixed: %q", l)
		}
	}
}
