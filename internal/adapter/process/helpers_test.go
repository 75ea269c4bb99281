package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// helperEnv makes the test binary act as a test program instead of running
// the tests: the adapter under test runs the binary itself.
const helperEnv = "PROCESS_TEST_HELPER"

// testSecret is a configured secret; no error message may contain it.
const testSecret = "hf_secret_token_123"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	goleak.VerifyTestMain(m)
}

// runHelper is the test program. Modes:
//
//	echo-stdin        copy stdin to stdout
//	args              print the arguments joined by "|", then "|stdin=" and stdin;
//	                  create the file $RANFILE first when it is set
//	env               print $PROCESS_TEST_FOO, "|" and the working directory
//	gate              print "Hello", wait for the file $GATE, print " world"
//	silent-gate       wait for the file $GATE (a model loading), print "Hello"
//	utf8-gate         print "héllo 世界 🌍" in pieces split inside characters,
//	                  waiting for $GATE1, $GATE2, $GATE3 between them
//	invalid           print "a\xffb\xc3" (invalid, then an incomplete character)
//	fail              write 9 lines to stderr (the last with the secret), exit 3
//	fail-after-output print "partial", write "boom" to stderr, exit 2
//	hang              sleep
//	first-then-hang   write the pid to $PIDFILE, print "first", sleep
//	ignore-term       ignore SIGTERM, write the pid to $PIDFILE, print "ready", sleep
//	child             start a child (mode hang) in the same process group that
//	                  shares stdout, write its pid to $PIDFILE and ours to
//	                  $PIDFILE.parent, print "parent done", then exit 0, or
//	                  sleep when $THEN is "hang"
//	flood             write the pid to $PIDFILE, then print "€" without end
//	echo-or-flood     flood when stdin is "flood", else echo-stdin
func runHelper(mode string) int {
	out := os.Stdout
	switch mode {
	case "echo-stdin":
		io.Copy(out, os.Stdin)
	case "args":
		if f := os.Getenv("RANFILE"); f != "" {
			os.WriteFile(f, nil, 0o644)
		}
		in, _ := io.ReadAll(os.Stdin)
		fmt.Fprint(out, strings.Join(os.Args[1:], "|")+"|stdin="+string(in))
	case "env":
		wd, _ := os.Getwd()
		fmt.Fprint(out, os.Getenv("PROCESS_TEST_FOO")+"|"+wd)
	case "gate":
		out.WriteString("Hello")
		waitFile(os.Getenv("GATE"))
		out.WriteString(" world")
	case "silent-gate":
		waitFile(os.Getenv("GATE"))
		out.WriteString("Hello")
	case "utf8-gate":
		// "héllo 世界 🌍": é is c3 a9, 世 e4 b8 96, 界 e7 95 8c, 🌍 f0 9f 8c 8d.
		out.Write([]byte("h\xc3"))
		waitFile(os.Getenv("GATE1"))
		out.Write([]byte("\xa9llo \xe4\xb8"))
		waitFile(os.Getenv("GATE2"))
		out.Write([]byte("\x96\xe7\x95\x8c \xf0\x9f"))
		waitFile(os.Getenv("GATE3"))
		out.Write([]byte("\x8c\x8d"))
	case "invalid":
		out.Write([]byte("a\xffb\xc3"))
	case "fail":
		for i := 1; i <= 8; i++ {
			fmt.Fprintf(os.Stderr, "log line %d\n", i)
		}
		fmt.Fprintf(os.Stderr, "error: cannot load model with token %s\n\n", os.Getenv("PROCESS_TEST_SECRET"))
		return 3
	case "fail-after-output":
		out.WriteString("partial")
		fmt.Fprintln(os.Stderr, "boom")
		return 2
	case "hang":
		time.Sleep(time.Hour)
	case "first-then-hang":
		writePid(os.Getenv("PIDFILE"), os.Getpid())
		out.WriteString("first")
		time.Sleep(time.Hour)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		writePid(os.Getenv("PIDFILE"), os.Getpid())
		out.WriteString("ready")
		time.Sleep(time.Hour)
	case "child":
		exe, _ := os.Executable()
		c := exec.Command(exe)
		c.Env = append(os.Environ(), helperEnv+"=hang")
		c.Stdout, c.Stderr = out, os.Stderr
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		writePid(os.Getenv("PIDFILE"), c.Process.Pid)
		writePid(os.Getenv("PIDFILE")+".parent", os.Getpid())
		out.WriteString("parent done")
		if os.Getenv("THEN") == "hang" {
			time.Sleep(time.Hour)
		}
	case "echo-or-flood":
		in, _ := io.ReadAll(os.Stdin)
		if string(in) != "flood" {
			out.Write(in)
			return 0
		}
		return runHelper("flood")
	case "flood":
		writePid(os.Getenv("PIDFILE"), os.Getpid())
		buf := bytes.Repeat([]byte("€"), 10000)
		for {
			if _, err := out.Write(buf); err != nil {
				return 1
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 99
	}
	return 0
}

func waitFile(path string) {
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writePid writes a pid atomically, so that readers never see half of it.
func writePid(path string, pid int) {
	os.WriteFile(path+".tmp", []byte(strconv.Itoa(pid)), 0o644)
	os.Rename(path+".tmp", path)
}

// helperOptions runs the test binary in the given mode.
func helperOptions(t *testing.T, mode string, env ...string) Options {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// atexit_sleep_ms: under -race, a program exiting with 0 sleeps 1s first.
	env = append([]string{helperEnv + "=" + mode, "GORACE=atexit_sleep_ms=0"}, env...)
	return Options{ID: "local", Command: []string{exe}, Env: env,
		Timeout: 20 * time.Second, KillGrace: time.Second}
}

func newAdapter(t *testing.T, o Options) *Adapter {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// body returns a chat request; extra is merged in as JSON fields.
func body(stream bool, extra string, msgs ...string) []byte {
	var m []map[string]string
	for i := 0; i+1 < len(msgs); i += 2 {
		m = append(m, map[string]string{"role": msgs[i], "content": msgs[i+1]})
	}
	b, _ := json.Marshal(map[string]any{"model": "local", "stream": stream, "messages": m})
	if extra != "" {
		b = append(append(b[:len(b)-1], ','), extra+"}"...)
	}
	return b
}

func send(ctx context.Context, a *Adapter, b []byte) (*adapter.Response, error) {
	return a.Send(ctx, &adapter.Request{Op: adapter.OpChat, Body: b})
}

// completion sends a non-stream request and decodes the response.
func completion(t *testing.T, a *Adapter, b []byte) openai.ChatCompletion {
	t.Helper()
	resp, err := send(context.Background(), a, b)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if resp.Stream != nil {
		t.Fatal("got a stream, want a body")
	}
	var c openai.ChatCompletion
	if err := json.Unmarshal(resp.Body, &c); err != nil {
		t.Fatalf("decoding %s: %v", resp.Body, err)
	}
	if c.Object != "chat.completion" || c.Model != "local" || len(c.Choices) != 1 || c.Choices[0].Message.Content == nil {
		t.Fatalf("malformed completion %s", resp.Body)
	}
	return c
}

func text(c openai.ChatCompletion) string { return *c.Choices[0].Message.Content }

// next reads one chunk and decodes it.
func next(t *testing.T, st adapter.Stream) (openai.Chunk, error) {
	t.Helper()
	item, err := st.Next()
	if err != nil {
		return openai.Chunk{}, err
	}
	if item.Comment || item.Event != nil {
		t.Fatalf("Next returned %+v, want an unnamed event", item)
	}
	data := item.Data
	var c openai.Chunk
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("decoding chunk %s: %v", data, err)
	}
	if c.Object != "chat.completion.chunk" || c.Model != "local" {
		t.Fatalf("malformed chunk %s", data)
	}
	return c, nil
}

// content reads the next chunk and returns its text; it fails on any other
// kind of chunk.
func content(t *testing.T, st adapter.Stream) string {
	t.Helper()
	c, err := next(t, st)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if len(c.Choices) != 1 || c.Choices[0].Delta.Content == nil || c.Choices[0].FinishReason != nil || c.Choices[0].Delta.Role != "" {
		t.Fatalf("want a content chunk, got %+v", c)
	}
	return *c.Choices[0].Delta.Content
}

// streamed is a whole stream, read to its end.
type streamed struct {
	chunks  []openai.Chunk
	texts   []string // the content chunks' texts
	finish  string
	usage   *openai.Usage
	err     error // the error that ended it, nil at io.EOF
	nonText int   // chunks other than role, content, finish and usage
}

func (s *streamed) text() string { return strings.Join(s.texts, "") }

// readAll reads st to its end, checking the order: role first, content,
// finish, usage; one id and created for all. It closes st.
func readAll(t *testing.T, st adapter.Stream) *streamed {
	t.Helper()
	return readFrom(t, st, true)
}

// readRest is readAll for a stream whose first chunks were read already.
func readRest(t *testing.T, st adapter.Stream) *streamed {
	t.Helper()
	return readFrom(t, st, false)
}

func readFrom(t *testing.T, st adapter.Stream, fromStart bool) *streamed {
	t.Helper()
	defer st.Close()
	s := &streamed{}
	for {
		c, err := next(t, st)
		if err != nil {
			if err != io.EOF {
				s.err = err
			}
			break
		}
		if len(s.chunks) > 0 && (c.ID != s.chunks[0].ID || c.Created != s.chunks[0].Created) {
			t.Errorf("chunk %d has id %q created %d, want those of the first chunk", len(s.chunks), c.ID, c.Created)
		}
		s.chunks = append(s.chunks, c)
		switch {
		case fromStart && len(s.chunks) == 1:
			if len(c.Choices) != 1 || c.Choices[0].Delta.Role != "assistant" {
				t.Fatalf("first chunk is not the role chunk: %+v", c)
			}
		case c.Usage != nil:
			s.usage = c.Usage
		case len(c.Choices) == 1 && c.Choices[0].FinishReason != nil:
			s.finish = *c.Choices[0].FinishReason
		case len(c.Choices) == 1 && c.Choices[0].Delta.Content != nil:
			if s.finish != "" {
				t.Errorf("content after the finish chunk")
			}
			s.texts = append(s.texts, *c.Choices[0].Delta.Content)
		default:
			s.nonText++
		}
	}
	return s
}

// openStream sends a stream request and fails unless a stream came back.
func openStream(t *testing.T, ctx context.Context, a *Adapter, b []byte) adapter.Stream {
	t.Helper()
	resp, err := send(ctx, a, b)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if resp.Stream == nil {
		t.Fatalf("got a body, want a stream: %s", resp.Body)
	}
	return resp.Stream
}

// wantError checks that err is an *adapter.Error with this status and code,
// and the Fault that code must carry, and returns it.
func wantError(t *testing.T, err error, status int, code string) *adapter.Error {
	t.Helper()
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v (%T), want an *adapter.Error %d %s", err, err, status, code)
	}
	if ae.Status != status || ae.Err.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", ae.Status, ae.Err.Code, ae.Err.Message, status, code)
	}
	if want := faults[code]; ae.Fault != want {
		t.Fatalf("%s: Fault = %d, want %d", code, ae.Fault, want)
	}
	return ae
}

// faults is the Fault of each error code that must not be judged by its
// status: the gateway moves on from a busy or broken program to the pool's
// other deployments instead of retrying it, and counts only a broken one
// against its breaker. Other codes carry FaultByStatus.
var faults = map[string]adapter.Fault{
	"queue_full": adapter.FaultBusy, "queue_timeout": adapter.FaultBusy, "shutting_down": adapter.FaultBusy,
	"process_start_failed": adapter.FaultBroken, "process_failed": adapter.FaultBroken, "process_timeout": adapter.FaultBroken,
}

// readPid waits for a pid file the helper writes.
func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			pid, err := strconv.Atoi(string(b))
			if err != nil {
				t.Fatalf("pid file %s: %v", path, err)
			}
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the program never wrote %s", path)
	return 0
}

// gone reports whether pid no longer runs. A zombie counts as gone: an
// orphan is reparented to PID 1, which in a container may never reap it.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// waitGone fails unless pid goes away soon. Killing is asynchronous for
// processes the adapter does not reap itself (children), so poll briefly.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// open creates a gate file the helper waits for.
func open(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tempPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }
