//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

// memoryLimitKB is the address-space limit (ulimit -v) the gateway runs
// under in TestHostileClientsUnderMemoryLimit: about 1.5 GB above what a Go
// program reserves at start (~1.6 GB of mostly untouched address space).
// Reserving memory from claimed body lengths (300 connections x 32 MiB)
// or recursing over a deeply nested body needs far more and kills the
// process.
const memoryLimitKB = 3 << 20

// buildGateway compiles the gateway without the race detector, whose shadow
// memory cannot live under an address-space limit.
func buildGateway(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aigateway")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestHostileClientsUnderMemoryLimit starts the real binary under a memory
// limit, opens hundreds of connections that lie about their body length,
// trickle it, send nothing, or send a deeply nested body, and checks that
// the gateway keeps serving /health and real requests, and how much memory
// it took.
func TestHostileClientsUnderMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the real binary")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh for ulimit")
	}
	bin := buildGateway(t)
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	logs := &lockedBuffer{}
	cmd := exec.Command("sh", "-c", `ulimit -v `+strconv.Itoa(memoryLimitKB)+` && exec "$0" "$@"`, bin,
		"--config", writeConfig(t, upstream.URL), "--port", "0",
		"--max-connections", "400", "--body-read-timeout", "2s", "--body-min-rate", "1024")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt) //nolint:errcheck // may be gone already
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-exited
		}
	}()
	base := waitListening(t, logs)
	addr := strings.TrimPrefix(base, "http://")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var attackers sync.WaitGroup
	attack := func(n int, f func(net.Conn)) {
		for i := 0; i < n; i++ {
			attackers.Add(1)
			go func() {
				defer attackers.Done()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer c.Close()
				stop := context.AfterFunc(ctx, func() { c.Close() })
				defer stop()
				f(c)
			}()
		}
	}
	const lie = "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 33554431\r\n\r\n{"
	// 300 connections claim a 32 MiB body and send one byte.
	attack(300, func(c net.Conn) {
		io.WriteString(c, lie) //nolint:errcheck
		io.Copy(io.Discard, c) //nolint:errcheck // until the gateway gives up on us
	})
	// 300 connections trickle a body one byte every 200 ms.
	attack(300, func(c net.Conn) {
		if _, err := io.WriteString(c, lie); err != nil {
			return
		}
		for ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			if _, err := c.Write([]byte{'['}); err != nil {
				return
			}
		}
	})
	// 200 connections send nothing at all.
	attack(200, func(c net.Conn) { io.Copy(io.Discard, c) }) //nolint:errcheck
	// 10 connections send 6 MB of '[' (nesting past any sane depth).
	deep := strings.Repeat("[", 6<<20)
	attack(10, func(c net.Conn) {
		fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(deep), deep)
		io.Copy(io.Discard, c) //nolint:errcheck
	})

	// Meanwhile /health answers every time, and a real request gets through
	// (at the cap it may first be told to come back: 503 with Retry-After).
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	time.Sleep(500 * time.Millisecond) // let the attack take the connections
	healthOK, served := 0, false
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && (!served || healthOK < 5) {
		resp, err := client.Get(base + "/health")
		if err != nil {
			t.Fatalf("/health during the attack: %v\nlog tail:\n%s", err, tail(logs.String(), 20))
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/health during the attack: %d", resp.StatusCode)
		}
		healthOK++
		if !served {
			body := `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`
			resp, err := client.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				served = resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"chat.completion"`)
				if !served && resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("a real request during the attack: %d %s", resp.StatusCode, b)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !served {
		t.Fatalf("no real request was served during the attack\nlog tail:\n%s", tail(logs.String(), 20))
	}
	select {
	case err := <-exited:
		t.Fatalf("the gateway died: %v\nlog tail:\n%s", err, tail(logs.String(), 30))
	default:
	}
	if !strings.Contains(logs.String(), "connection limit reached") {
		t.Error("the attack never reached the connection cap; the test does not test it")
	}
	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("peak RSS under attack: %d MiB (address-space limit %d MiB)", peak>>10, memoryLimitKB>>10)
	// 300 x 32 MiB reserved from claimed lengths would be 9.6 GB; the
	// connections themselves need a few KiB each.
	if peak > 256<<10 {
		t.Errorf("peak RSS %d MiB; want under 256 MiB", peak>>10)
	}
	cancel()
	attackers.Wait()
}

// peakRSS returns the process's peak resident set size in KiB.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// tail returns the last n lines of a log, or when the process crashed, the
// start of the crash report.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "fatal error") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "runtime: ") {
			return strings.Join(lines[i:min(i+n, len(lines))], "\n")
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
