package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    config
		wantErr error
		stderr  string // substring
	}{
		{name: "defaults", want: config{host: "127.0.0.1", port: 8766, chunks: 20}},
		{
			name: "all flags",
			args: []string{"--host", "0.0.0.0", "--port", "9000", "--chunks", "5", "--chunk-delay", "15ms", "--api-key", "sk-x"},
			want: config{host: "0.0.0.0", port: 9000, chunks: 5, chunkDelay: 15 * time.Millisecond, apiKey: "sk-x"},
		},
		{name: "bad port", args: []string{"--port", "70000"}, wantErr: errUsage, stderr: "invalid --port 70000"},
		{name: "bad chunks", args: []string{"--chunks", "0"}, wantErr: errUsage, stderr: "invalid --chunks 0"},
		{name: "negative delay", args: []string{"--chunk-delay", "-1s"}, wantErr: errUsage, stderr: "invalid --chunk-delay -1s"},
		{name: "bad duration", args: []string{"--chunk-delay", "soon"}, wantErr: errUsage, stderr: "invalid value"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: errUsage, stderr: "flag provided but not defined: -nope"},
		{name: "extra argument", args: []string{"serve"}, wantErr: errUsage, stderr: `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got, err := parseFlags(tt.args, &stdout, &stderr)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			if tt.wantErr != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("error %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-host", "-port", "-chunks", "-chunk-delay", "-api-key", "/v1/messages", ":streamGenerateContent", "X-Mock"} {
		if !strings.Contains(stdout.String(), f) {
			t.Errorf("usage lacks %s:\n%s", f, stdout.String())
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, config{chunks: 4, apiKey: "sk-x"}) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	url := "http://" + ln.Addr().String() + "/v1/chat/completions"
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`
	for _, tc := range []struct {
		key    string
		status int
	}{{"", 401}, {"sk-x", 200}} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status {
			t.Fatalf("key %q: status %d, want %d", tc.key, resp.StatusCode, tc.status)
		}
		if tc.status == 200 {
			if !strings.HasSuffix(string(b), "data: [DONE]\n\n") || strings.Count(string(b), `"content":"w`) != 4 || !strings.Contains(string(b), `"content":"w3 "`) {
				t.Errorf("stream with 4 chunks, got:\n%s", b)
			}
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}
