package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"aigateway/internal/mockllm"
)

const checkKey = "sk-check-secret-0123456789"

// runCheckOn writes config to a file and runs `aigateway check` on it.
func runCheckOn(t *testing.T, config string, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := runCheck(context.Background(), append([]string{"--config", path}, args...), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

// closedURL is the address of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/v1"
}

// rowOf returns the table row of the model id, split into columns.
func rowOf(t *testing.T, out, id string) []string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(cols) > 0 && cols[0] == id {
			return cols
		}
	}
	t.Fatalf("no row for %s in:\n%s", id, out)
	return nil
}

func TestCheckReportsEveryConfigProblem(t *testing.T) {
	out, err := runCheckOn(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "ftp://x"},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://h/v1", "temprature": 1},
		{"id": "c", "adapter": "openai_compat", "base_url": "http://h/v1", "fallbacks": ["nope"]},
		{"id": "d", "adapter": "nosuch", "base_url": "http://h/v1"}
	]}`)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("err = %v, want errCheckFailed; output:\n%s", err, out)
	}
	for _, want := range []string{
		`models[0] (id "a"): base_url`,
		`models[1] (id "b"): unknown field "temprature"`,
		`models[2] (id "c"): fallbacks[0]: no model has the id "nope"`,
		`models[3] (id "d"): adapter`,
		"4 problem(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckTable(t *testing.T) {
	mock := mockllm.New(mockllm.Options{APIKey: checkKey, Record: true})
	up := httptest.NewServer(mock)
	defer up.Close()
	t.Setenv("CHECK_TEST_KEY", checkKey)
	t.Setenv("CHECK_TEST_UNSET", "")
	os.Unsetenv("CHECK_TEST_UNSET")
	out, err := runCheckOn(t, `{"models": [
		{"id": "good", "adapter": "openai_compat", "base_url": "`+up.URL+`/v1", "api_key": "ENV:CHECK_TEST_KEY"},
		{"id": "dead", "adapter": "openai_compat", "base_url": "`+closedURL(t)+`", "api_key": "`+checkKey+`"},
		{"id": "nokey", "adapter": "openai_compat", "base_url": "`+up.URL+`/v1", "api_key": "ENV:CHECK_TEST_UNSET"},
		{"id": "wrongkey", "adapter": "openai_compat", "base_url": "`+up.URL+`/v1", "api_key": "sk-wrong"},
		{"id": "off", "adapter": "openai_compat", "base_url": "`+up.URL+`/v1", "enabled": false},
		{"id": "prog", "adapter": "process", "command": ["aigateway-check-no-such-program", "{prompt}"]},
		{"id": "shell", "adapter": "process", "command": ["sh", "-c", "echo hi"]}
	]}`)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("err = %v, want errCheckFailed; output:\n%s", err, out)
	}
	if strings.Contains(out, checkKey) {
		t.Fatalf("output shows the key:\n%s", out)
	}
	if strings.Contains(out, "off") {
		t.Errorf("disabled entry listed:\n%s", out)
	}
	good := rowOf(t, out, "good")
	if good[1] != "models[0]" || good[2] != "openai_compat" || good[3] != up.URL+"/v1" || good[4] != "yes" || good[5] != "yes" || good[7] != "-" {
		t.Errorf("good row = %q", good)
	}
	if dead := rowOf(t, out, "dead"); dead[4] != "yes" || dead[5] != "no" || !strings.Contains(dead[7], "refused") {
		t.Errorf("dead row = %q", dead)
	}
	if nokey := rowOf(t, out, "nokey"); nokey[4] != "no" || nokey[5] != "-" || !strings.Contains(nokey[7], "CHECK_TEST_UNSET is not set") {
		t.Errorf("nokey row = %q", nokey)
	}
	if wrong := rowOf(t, out, "wrongkey"); wrong[5] != "no" || !strings.Contains(wrong[7], "401") {
		t.Errorf("wrongkey row = %q", wrong)
	}
	if prog := rowOf(t, out, "prog"); prog[4] != "-" || prog[5] != "-" || !strings.Contains(prog[7], "aigateway-check-no-such-program") {
		t.Errorf("prog row = %q", prog)
	}
	if shell := rowOf(t, out, "shell"); shell[2] != "process" || shell[5] != "yes" {
		t.Errorf("shell row = %q", shell)
	}
	// The cheap check lists models and sends no chat request.
	for _, r := range mock.Requests() {
		if r.Method != "GET" || r.Path != "/v1/models" {
			t.Errorf("unexpected upstream request %s %s", r.Method, r.Path)
		}
	}

	// Only the good entry: everything passes.
	out, err = runCheckOn(t, `{"models": [
		{"id": "good", "adapter": "openai_compat", "base_url": "`+up.URL+`/v1", "api_key": "ENV:CHECK_TEST_KEY"}
	]}`)
	if err != nil {
		t.Fatalf("err = %v; output:\n%s", err, out)
	}
}

func TestCheckProbeSendsOneTokenRequest(t *testing.T) {
	mock := mockllm.New(mockllm.Options{APIKey: checkKey, Record: true})
	up := httptest.NewServer(mock)
	defer up.Close()
	out, err := runCheckOn(t, `{"models": [
		{"id": "good", "adapter": "openai_compat", "base_url": "`+up.URL+`/v1", "api_key": "`+checkKey+`", "model": "upstream-name"},
		{"id": "claude", "adapter": "anthropic", "base_url": "`+up.URL+`", "api_key": "`+checkKey+`"}
	]}`, "--probe")
	if err != nil {
		t.Fatalf("err = %v; output:\n%s", err, out)
	}
	if strings.Contains(out, checkKey) {
		t.Fatalf("output shows the key:\n%s", out)
	}
	for _, id := range []string{"good", "claude"} {
		if row := rowOf(t, out, id); row[5] != "yes" {
			t.Errorf("%s row = %q", id, row)
		}
	}
	paths := map[string]map[string]any{}
	for _, r := range mock.Requests() {
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("%s %s: body %q: %v", r.Method, r.Path, r.Body, err)
		}
		paths[r.Path] = body
	}
	chat, ok := paths["/v1/chat/completions"]
	if !ok {
		t.Fatalf("no chat request reached the mock: %v", paths)
	}
	if chat["model"] != "upstream-name" || chat["max_tokens"] != float64(1) {
		t.Errorf("chat request = %v", chat)
	}
	msg, ok := paths["/v1/messages"]
	if !ok {
		t.Fatalf("no Anthropic request reached the mock: %v", paths)
	}
	if msg["max_tokens"] != float64(1) {
		t.Errorf("messages request = %v", msg)
	}
}

// TestCheckNativeModelLists checks that the cheap probe of Anthropic and
// Gemini entries asks for their model lists with their own credentials.
func TestCheckNativeModelLists(t *testing.T) {
	type seen struct{ path, apiKey, version, googKey, query string }
	got := make(chan seen, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("X-Api-Key"), r.Header.Get("Anthropic-Version"), r.Header.Get("X-Goog-Api-Key"), r.URL.RawQuery}
		w.Write([]byte(`{"data":[]}`))
	}))
	defer up.Close()
	out, err := runCheckOn(t, `{"models": [
		{"id": "claude", "adapter": "anthropic", "base_url": "`+up.URL+`/v1", "api_key": "`+checkKey+`"},
		{"id": "gem", "adapter": "gemini", "base_url": "`+up.URL+`", "api_key": "`+checkKey+`"}
	]}`)
	if err != nil {
		t.Fatalf("err = %v; output:\n%s", err, out)
	}
	if row := rowOf(t, out, "claude"); row[2] != "anthropic" || row[5] != "yes" {
		t.Errorf("claude row = %q", row)
	}
	if row := rowOf(t, out, "gem"); row[2] != "gemini" || row[5] != "yes" {
		t.Errorf("gem row = %q", row)
	}
	close(got)
	byPath := map[string]seen{}
	for s := range got {
		byPath[s.path] = s
	}
	if a := byPath["/v1/models"]; a.apiKey != checkKey || a.version == "" {
		t.Errorf("Anthropic probe = %+v", a)
	}
	if g := byPath["/v1beta/models"]; g.googKey != checkKey || g.query != "" {
		t.Errorf("Gemini probe = %+v (the key belongs in the header, not the URL)", g)
	}
}
