package process

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// successor builds the adapter that replaces old on a reload: another
// command ("args" mode, which creates $RANFILE when it starts) sharing
// old's slots, with the given limits applied.
func successor(t *testing.T, old *Adapter, concurrency, queue int) (a *Adapter, ranFile string) {
	t.Helper()
	ranFile = tempPath(t, "ran")
	o := helperOptions(t, "args", "RANFILE="+ranFile)
	o.Command = append(o.Command, "--changed")
	o.MaxConcurrency, o.QueueSize, o.QueueTimeout = concurrency, queue, 30*time.Second
	o.Slots = old.Slots()
	a = newAdapter(t, o)
	a.ApplyLimits()
	return a, ranFile
}

// sendAsync sends a non-stream request and delivers the body or the error
// text.
func sendAsync(a *Adapter) <-chan string {
	out := make(chan string, 1)
	go func() {
		resp, err := send(context.Background(), a, body(false, "", "user", "x"))
		if err != nil {
			out <- err.Error()
			return
		}
		out <- string(resp.Body)
	}()
	return out
}

func ran(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// A reload that changes a model's command must not let the new adapter
// start a program while the old one's still holds the only slot: the new
// request waits in the shared queue, and one more finds the queue full.
func TestReplacementSharesTheSlots(t *testing.T) {
	o, gate := gateOptions(t)
	old := newAdapter(t, o)
	release := holdSlot(t, old, gate)
	succ, ranFile := successor(t, old, 1, 1)

	queued := sendAsync(succ)
	waitQueued(t, succ, 1)
	_, err := send(context.Background(), succ, body(false, "", "user", "x"))
	wantError(t, err, http.StatusTooManyRequests, "queue_full")
	if ran(ranFile) {
		t.Fatal("the new adapter's program started while the old adapter's program held the only slot")
	}
	release()
	if got := <-queued; !strings.Contains(got, "--changed") {
		t.Errorf("the queued request got %s", got)
	}
	if n := succ.lim.running(); n != 0 {
		t.Errorf("%d slots taken after every run ended", n)
	}
}

// With no queue, the new adapter's request is refused at once while the old
// adapter's program runs.
func TestReplacementWithoutQueueIsFull(t *testing.T) {
	o, gate := gateOptions(t)
	old := newAdapter(t, o)
	release := holdSlot(t, old, gate)
	defer release()
	succ, ranFile := successor(t, old, 1, -1)
	_, err := send(context.Background(), succ, body(false, "", "user", "x"))
	wantError(t, err, http.StatusTooManyRequests, "queue_full")
	if ran(ranFile) {
		t.Error("the new adapter's program ran")
	}
}

// A lower limit lets running programs finish, and new requests wait until
// fewer than the new limit run.
func TestLoweredLimitWaitsForTheRunningCount(t *testing.T) {
	o, gate := gateOptions(t)
	o.MaxConcurrency = 2
	old := newAdapter(t, o)
	releaseFirst := holdSlot(t, old, gate)
	st := openStream(t, context.Background(), old, body(true, "", "user", "x"))
	next(t, st)
	content(t, st)
	succ, ranFile := successor(t, old, 1, 1)

	queued := sendAsync(succ)
	waitQueued(t, succ, 1)
	releaseFirst() // opens the gate for both old programs; the first ended
	if ran(ranFile) {
		t.Fatal("the new program started while 2 ran under the new limit of 1")
	}
	if s := readRest(t, st); s.err != nil || s.text() != " world" {
		t.Fatalf("the second old program ended with %q, %v", s.text(), s.err)
	}
	if got := <-queued; !strings.Contains(got, "--changed") {
		t.Errorf("the queued request got %s", got)
	}
}

// The new limits take effect at ApplyLimits, not when the adapter is built
// (a reload may still fail after that); a higher limit starts queued
// requests at once.
func TestLimitsApplyOnlyWhenTheReloadSucceeds(t *testing.T) {
	o, gate := gateOptions(t)
	old := newAdapter(t, o)
	release := holdSlot(t, old, gate)
	defer release()
	ranFile := tempPath(t, "ran")
	no := helperOptions(t, "args", "RANFILE="+ranFile)
	no.MaxConcurrency, no.QueueSize, no.Slots = 2, 1, old.Slots()
	succ := newAdapter(t, no)

	queued := sendAsync(succ)
	waitQueued(t, succ, 1) // still the old limit of 1
	succ.ApplyLimits()
	select {
	case got := <-queued:
		if !strings.Contains(got, `"content"`) {
			t.Errorf("the queued request got %s", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a raised limit did not start the queued request")
	}
}

// Closing the old adapter (at shutdown) fails its own queued requests, not
// those that wait for the shared slots through the new adapter; they run
// once the old program is gone.
func TestClosingTheOldAdapterKeepsTheNewOnesQueue(t *testing.T) {
	pidfile := tempPath(t, "pid")
	o := helperOptions(t, "first-then-hang", "PIDFILE="+pidfile)
	o.MaxConcurrency, o.QueueSize = 1, 2
	old := newAdapter(t, o)
	st := openStream(t, context.Background(), old, body(true, "", "user", "x"))
	defer st.Close()
	next(t, st)
	content(t, st)
	oldQueued := sendAsync(old)
	waitQueued(t, old, 1)
	succ, _ := successor(t, old, 1, 2)
	newQueued := sendAsync(succ)
	waitQueued(t, old, 2)

	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-oldQueued; !strings.Contains(got, "the gateway is shutting down") {
		t.Errorf("the old adapter's queued request got %s", got)
	}
	if got := <-newQueued; !strings.Contains(got, "--changed") {
		t.Errorf("the new adapter's queued request got %s", got)
	}
}
