package process

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"aigateway/internal/adapter"
)

func TestStreamDeliversEachReadAtOnce(t *testing.T) {
	gate := tempPath(t, "gate")
	a := newAdapter(t, helperOptions(t, "gate", "GATE="+gate))
	st := openStream(t, context.Background(), a, body(true, `"stream_options":{"include_usage":true}`, "user", "Hi there"))
	defer st.Close()
	if st.Buffered() {
		t.Error("Buffered() = true, want false")
	}
	role, err := next(t, st)
	if err != nil || role.Choices[0].Delta.Role != "assistant" {
		t.Fatalf("first chunk %+v, %v; want the role chunk", role, err)
	}
	// The program now waits for the gate: "Hello" must arrive without it.
	if got := content(t, st); got != "Hello" {
		t.Fatalf("first content %q, want %q", got, "Hello")
	}
	open(t, gate)
	s := readRest(t, st)
	if s.err != nil {
		t.Fatalf("stream failed: %v", s.err)
	}
	if got := s.text(); got != " world" {
		t.Errorf("rest %q, want %q", got, " world")
	}
	if s.finish != "stop" {
		t.Errorf("finish %q, want stop", s.finish)
	}
	if s.usage == nil || s.usage.PromptTokens != 2 || s.usage.CompletionTokens != 3 || s.usage.TotalTokens != 5 {
		t.Errorf("usage %+v, want 2 + 3 (ceil(8/4), ceil(11/4))", s.usage)
	}
	if got := st.Usage(); got != (adapter.Usage{PromptTokens: 2, CompletionTokens: 3, TotalTokens: 5, Estimated: true}) {
		t.Errorf("Usage() = %+v", got)
	}
	for _, c := range s.chunks {
		if c.ID != role.ID || c.Created != role.Created {
			t.Errorf("chunk id/created %q/%d, want %q/%d", c.ID, c.Created, role.ID, role.Created)
		}
	}
}

// With StartWithin, a stream starts once the program has been silent that
// long (the gateway then keeps the client's connection alive), and its
// output follows as it comes; a program that fails sooner is still an
// error before the stream starts.
func TestStreamStartsWithinWhileProgramIsSilent(t *testing.T) {
	gate := tempPath(t, "gate")
	o := helperOptions(t, "silent-gate", "GATE="+gate)
	o.StartWithin = 50 * time.Millisecond
	a := newAdapter(t, o)
	// Should the stream wait for the output, the gate opens after 5 s.
	late := time.AfterFunc(5*time.Second, func() { os.WriteFile(gate, nil, 0o644) })
	defer late.Stop()
	st := openStream(t, context.Background(), a, body(true, "", "user", "Hi"))
	defer st.Close()
	if _, err := os.Stat(gate); err == nil {
		t.Error("the stream started only with the program's first output")
	}
	if role, err := next(t, st); err != nil || role.Choices[0].Delta.Role != "assistant" {
		t.Fatalf("first chunk %+v, %v; want the role chunk", role, err)
	}
	open(t, gate)
	if got := content(t, st); got != "Hello" {
		t.Fatalf("content %q, want Hello", got)
	}
	if s := readRest(t, st); s.err != nil || s.finish != "stop" {
		t.Errorf("rest %+v", s)
	}

	o = helperOptions(t, "fail", "PROCESS_TEST_SECRET="+testSecret)
	o.StartWithin = 10 * time.Second
	_, err := send(context.Background(), newAdapter(t, o), body(true, "", "user", "Hi"))
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Err.Code != "process_failed" {
		t.Errorf("Send = %v, want the process_failed error before the stream starts", err)
	}
}

func TestStreamWithoutUsage(t *testing.T) {
	a := newAdapter(t, helperOptions(t, "echo-stdin"))
	s := readAll(t, openStream(t, context.Background(), a, body(true, "", "user", "abc")))
	if s.err != nil || s.text() != "abc" || s.finish != "stop" || s.usage != nil || s.nonText != 0 {
		t.Errorf("got %+v, want text abc, stop, no usage chunk", s)
	}
}

func TestPromptOnStdin(t *testing.T) {
	a := newAdapter(t, helperOptions(t, "echo-stdin"))
	c := completion(t, a, body(false, "", "system", "Be brief.", "user", "Hi", "assistant", "Hello.", "user", "Bye"))
	want := "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:"
	if got := text(c); got != want {
		t.Errorf("the program read %q, want %q", got, want)
	}
	if c.Choices[0].FinishReason != "stop" {
		t.Errorf("finish %q", c.Choices[0].FinishReason)
	}
	pt := int64(len(want)+3) / 4
	if u := c.Usage; u == nil || u.PromptTokens != pt || u.CompletionTokens != pt || u.TotalTokens != 2*pt {
		t.Errorf("usage %+v, want %d + %d", u, pt, pt)
	}
}

func TestPlaceholdersInArguments(t *testing.T) {
	temp, tokens := 0.7, 100
	tests := []struct {
		name  string
		opts  func(o *Options)
		extra string
		want  string
	}{
		{name: "defaults", want: "--prompt=Hi|-n|512|--temp|0.8|-m|local|stdin="},
		{name: "configured", opts: func(o *Options) { o.Temperature, o.MaxTokens, o.Model = &temp, &tokens, "llama-3" },
			want: "--prompt=Hi|-n|100|--temp|0.7|-m|llama-3|stdin="},
		{name: "client wins", opts: func(o *Options) { o.Temperature, o.MaxTokens = &temp, &tokens },
			extra: `"temperature":0.25,"max_tokens":64`, want: "--prompt=Hi|-n|64|--temp|0.25|-m|local|stdin="},
		{name: "max_completion_tokens wins", extra: `"max_tokens":64,"max_completion_tokens":32`,
			want: "--prompt=Hi|-n|32|--temp|0.8|-m|local|stdin="},
		{name: "no exponent", extra: `"temperature":1e-7`, want: "--prompt=Hi|-n|512|--temp|0.0000001|-m|local|stdin="},
		{name: "null temperature is none", extra: `"temperature":null`, want: "--prompt=Hi|-n|512|--temp|0.8|-m|local|stdin="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := helperOptions(t, "args")
			o.Command = append(o.Command, "--prompt={prompt}", "-n", "{max_tokens}", "--temp", "{temperature}", "-m", "{model}")
			if tt.opts != nil {
				tt.opts(&o)
			}
			a := newAdapter(t, o)
			if got := text(completion(t, a, body(false, tt.extra, "user", "Hi"))); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEnvAndWorkdir(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := helperOptions(t, "env", "PROCESS_TEST_FOO=bar")
	o.Workdir = dir
	a := newAdapter(t, o)
	if got, want := text(completion(t, a, body(false, "", "user", "x"))), "bar|"+dir; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUTF8NeverSplit(t *testing.T) {
	dir := t.TempDir()
	gate := func(i string) string { return filepath.Join(dir, "gate"+i) }
	a := newAdapter(t, helperOptions(t, "utf8-gate", "GATE1="+gate("1"), "GATE2="+gate("2"), "GATE3="+gate("3")))
	st := openStream(t, context.Background(), a, body(true, "", "user", "x"))
	defer st.Close()
	if _, err := next(t, st); err != nil {
		t.Fatal(err)
	}
	// Each write of the program ends inside a character, which must wait
	// for the next write.
	for i, want := range []string{"h", "éllo ", "世界 ", "🌍"} {
		if i > 0 {
			open(t, gate(string(rune('0'+i))))
		}
		if got := content(t, st); got != want {
			t.Fatalf("chunk %d: %q, want %q", i, got, want)
		}
	}
	s := readRest(t, st)
	if s.err != nil || s.finish != "stop" || len(s.texts) != 0 {
		t.Errorf("end of stream: %+v", s)
	}
}

func TestInvalidUTF8BecomesReplacementCharacters(t *testing.T) {
	a := newAdapter(t, helperOptions(t, "invalid"))
	want := "a\uFFFDb\uFFFD"
	if got := text(completion(t, a, body(false, "", "user", "x"))); got != want {
		t.Errorf("non-stream %q, want %q", got, want)
	}
	s := readAll(t, openStream(t, context.Background(), a, body(true, "", "user", "x")))
	if s.err != nil || s.text() != want {
		t.Errorf("stream %q (%v), want %q", s.text(), s.err, want)
	}
	for _, x := range s.texts {
		if !utf8.ValidString(x) {
			t.Errorf("chunk %q is not valid UTF-8", x)
		}
	}
}

func TestExitFailure(t *testing.T) {
	o := helperOptions(t, "fail", "PROCESS_TEST_SECRET="+testSecret)
	o.Secrets = []string{testSecret}
	a := newAdapter(t, o)
	check := func(t *testing.T, err error) {
		ae := wantError(t, err, http.StatusBadGateway, "process_failed")
		msg := ae.Err.Message
		for _, want := range []string{"exited with status 3", "log line 5\nlog line 6\nlog line 7\nlog line 8\nerror: cannot load model with token [redacted]"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
		if strings.Contains(msg, "log line 4") {
			t.Errorf("message %q has more than the last 5 lines", msg)
		}
		if strings.Contains(msg, testSecret) || strings.Contains(ae.Error(), testSecret) {
			t.Errorf("the secret leaked: %q / %q", msg, ae.Error())
		}
	}
	t.Run("non-stream", func(t *testing.T) {
		_, err := send(context.Background(), a, body(false, "", "user", "x"))
		check(t, err)
	})
	t.Run("stream before output is an HTTP error", func(t *testing.T) {
		_, err := send(context.Background(), a, body(true, "", "user", "x"))
		check(t, err)
	})
}

func TestExitFailureAfterOutputIsInBand(t *testing.T) {
	a := newAdapter(t, helperOptions(t, "fail-after-output"))
	s := readAll(t, openStream(t, context.Background(), a, body(true, "", "user", "x")))
	if s.text() != "partial" || s.finish != "" {
		t.Errorf("got %q finish %q, want the text and no finish chunk", s.text(), s.finish)
	}
	ae := wantError(t, s.err, http.StatusBadGateway, "process_failed")
	if !strings.Contains(ae.Err.Message, "exited with status 2") || !strings.Contains(ae.Err.Message, "boom") {
		t.Errorf("message %q", ae.Err.Message)
	}
}

func TestStartFailure(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ program, want string }{
		{"no-such-program-for-process-tests", `cannot start the program: program "no-such-program-for-process-tests" not found in PATH`},
		{filepath.Join(dir, "missing"), "cannot start the program: no such file or directory"},
		{plain, "cannot start the program: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.program, func(t *testing.T) {
			a := newAdapter(t, Options{ID: "local", Command: []string{tt.program}})
			for _, stream := range []bool{false, true} {
				_, err := send(context.Background(), a, body(stream, "", "user", "x"))
				ae := wantError(t, err, http.StatusBadGateway, "process_start_failed")
				if !strings.Contains(ae.Err.Message, tt.want) {
					t.Errorf("message %q lacks %q", ae.Err.Message, tt.want)
				}
			}
			// The slot was released: the next request is not queued behind a ghost.
			if n := a.lim.running(); n != 0 {
				t.Errorf("%d slots still taken", n)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Run("non-stream", func(t *testing.T) {
		o := helperOptions(t, "hang")
		o.Timeout, o.KillGrace = 300*time.Millisecond, 200*time.Millisecond
		a := newAdapter(t, o)
		_, err := send(context.Background(), a, body(false, "", "user", "x"))
		ae := wantError(t, err, http.StatusGatewayTimeout, "process_timeout")
		if !strings.Contains(ae.Err.Message, "did not finish within 300ms") {
			t.Errorf("message %q", ae.Err.Message)
		}
	})
	t.Run("stream before output", func(t *testing.T) {
		o := helperOptions(t, "hang")
		o.Timeout = 300 * time.Millisecond
		a := newAdapter(t, o)
		_, err := send(context.Background(), a, body(true, "", "user", "x"))
		wantError(t, err, http.StatusGatewayTimeout, "process_timeout")
	})
	t.Run("stream after output is in-band", func(t *testing.T) {
		pidfile := tempPath(t, "pid")
		o := helperOptions(t, "first-then-hang", "PIDFILE="+pidfile)
		o.Timeout = time.Second
		a := newAdapter(t, o)
		s := readAll(t, openStream(t, context.Background(), a, body(true, "", "user", "x")))
		if s.text() != "first" {
			t.Errorf("text %q, want first", s.text())
		}
		wantError(t, s.err, http.StatusGatewayTimeout, "process_timeout")
		waitGone(t, readPid(t, pidfile))
	})
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	pidfile := tempPath(t, "pid")
	o := helperOptions(t, "child", "PIDFILE="+pidfile, "THEN=hang")
	o.Timeout = time.Second
	a := newAdapter(t, o)
	_, err := send(context.Background(), a, body(false, "", "user", "x"))
	wantError(t, err, http.StatusGatewayTimeout, "process_timeout")
	waitGone(t, readPid(t, pidfile))
	waitGone(t, readPid(t, pidfile+".parent"))
}

func TestCancelKillsTheProcessGroup(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		pidfile := tempPath(t, "pid")
		a := newAdapter(t, helperOptions(t, "child", "PIDFILE="+pidfile, "THEN=hang"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := openStream(t, ctx, a, body(true, "", "user", "x"))
		defer st.Close()
		next(t, st)
		if got := content(t, st); got != "parent done" {
			t.Fatalf("content %q", got)
		}
		child, parent := readPid(t, pidfile), readPid(t, pidfile+".parent")
		cancel()
		if _, err := st.Next(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v, want context.Canceled", err)
		}
		waitGone(t, child)
		waitGone(t, parent)
	})
	t.Run("non-stream", func(t *testing.T) {
		pidfile := tempPath(t, "pid")
		a := newAdapter(t, helperOptions(t, "child", "PIDFILE="+pidfile, "THEN=hang"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error)
		go func() {
			_, err := send(ctx, a, body(false, "", "user", "x"))
			done <- err
		}()
		child, parent := readPid(t, pidfile), readPid(t, pidfile+".parent")
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Send after cancel: %v, want context.Canceled", err)
		}
		waitGone(t, child)
		waitGone(t, parent)
	})
}

func TestChildLeftBehindIsKilledAfterCleanExit(t *testing.T) {
	// The child keeps stdout open: without the kill after the program's
	// exit, the answer would never end (and would time out after 20s).
	pidfile := tempPath(t, "pid")
	a := newAdapter(t, helperOptions(t, "child", "PIDFILE="+pidfile))
	c := completion(t, a, body(false, "", "user", "x"))
	if text(c) != "parent done" || c.Choices[0].FinishReason != "stop" {
		t.Errorf("got %q %q", text(c), c.Choices[0].FinishReason)
	}
	waitGone(t, readPid(t, pidfile))
}

func TestSigtermIgnoredGetsSigkillAfterGrace(t *testing.T) {
	pidfile := tempPath(t, "pid")
	o := helperOptions(t, "ignore-term", "PIDFILE="+pidfile)
	o.KillGrace = 300 * time.Millisecond
	a := newAdapter(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStream(t, ctx, a, body(true, "", "user", "x"))
	defer st.Close()
	next(t, st)
	if got := content(t, st); got != "ready" { // SIGTERM is ignored from here on
		t.Fatalf("content %q", got)
	}
	pid := readPid(t, pidfile)
	start := time.Now()
	cancel()
	if _, err := st.Next(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v", err)
	}
	if d := time.Since(start); d < o.KillGrace {
		t.Errorf("the program ended %v after SIGTERM, before the %v grace", d, o.KillGrace)
	}
	var ee *exec.ExitError
	if !errors.As(st.(*stream).p.waitErr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the program ended with %v, want SIGKILL", st.(*stream).p.waitErr)
	}
	waitGone(t, pid)
}

func TestStreamCloseStopsTheProgram(t *testing.T) {
	pidfile := tempPath(t, "pid")
	a := newAdapter(t, helperOptions(t, "first-then-hang", "PIDFILE="+pidfile))
	st := openStream(t, context.Background(), a, body(true, "", "user", "x"))
	next(t, st)
	content(t, st)
	st.Close()
	waitGone(t, readPid(t, pidfile))
	if n := a.lim.running(); n != 0 {
		t.Errorf("%d slots still taken after Close", n)
	}
}

func TestOutputCutAtMaxOutputBytes(t *testing.T) {
	// "€" is 3 bytes and 100000 = 3*33333 + 1, so the limit splits a
	// character, which is dropped.
	want := strings.Repeat("€", 33333)
	t.Run("non-stream", func(t *testing.T) {
		pidfile := tempPath(t, "pid")
		o := helperOptions(t, "flood", "PIDFILE="+pidfile)
		o.MaxOutputBytes = 100000
		a := newAdapter(t, o)
		c := completion(t, a, body(false, "", "user", "x"))
		if text(c) != want || c.Choices[0].FinishReason != "length" {
			t.Errorf("got %d bytes, finish %q; want %d bytes, length", len(text(c)), c.Choices[0].FinishReason, len(want))
		}
		if c.Usage.CompletionTokens != (99999+3)/4 {
			t.Errorf("completion tokens %d", c.Usage.CompletionTokens)
		}
		waitGone(t, readPid(t, pidfile))
	})
	t.Run("stream", func(t *testing.T) {
		pidfile := tempPath(t, "pid")
		o := helperOptions(t, "flood", "PIDFILE="+pidfile)
		o.MaxOutputBytes = 100000
		a := newAdapter(t, o)
		s := readAll(t, openStream(t, context.Background(), a, body(true, "", "user", "x")))
		if s.err != nil || s.text() != want || s.finish != "length" {
			t.Errorf("got %d bytes, finish %q, err %v", len(s.text()), s.finish, s.err)
		}
		for _, x := range s.texts {
			if len(x) > readSize+utf8.UTFMax-1 || !utf8.ValidString(x) { // a read plus a held-back character

				t.Errorf("chunk of %d bytes, valid %v", len(x), utf8.ValidString(x))
			}
		}
		waitGone(t, readPid(t, pidfile))
	})
}

func TestOnlyChatCompletions(t *testing.T) {
	a := newAdapter(t, helperOptions(t, "echo-stdin"))
	_, err := a.Send(context.Background(), &adapter.Request{Op: adapter.OpEmbedding, Body: []byte(`{"model":"local","input":"x"}`)})
	ae := wantError(t, err, http.StatusBadRequest, "unsupported_endpoint")
	if !strings.Contains(ae.Err.Message, "/v1/embeddings") {
		t.Errorf("message %q", ae.Err.Message)
	}
}
