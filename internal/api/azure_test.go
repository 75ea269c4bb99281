package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"

	"aigateway/internal/mockllm"
)

// azureKey is the key of the Azure-style deployment, sent as "api-key".
const azureKey = "azure-secret-key-9876543210"

// azureUpstream is an Azure OpenAI look-alike: it serves the mock under
// /openai/deployments/{name}/{operation}?api-version=..., checks the
// "api-key" header, and records what every request carried.
type azureUpstream struct {
	mock *mockllm.Server
	mu   sync.Mutex
	seen []azureRequest
}

type azureRequest struct {
	path, query, apiKey, authorization string
}

func (a *azureUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, azureRequest{path: r.URL.Path, query: r.URL.RawQuery,
		apiKey: r.Header.Get("Api-Key"), authorization: r.Header.Get("Authorization")})
	a.mu.Unlock()
	op, ok := strings.CutPrefix(r.URL.Path, "/openai/deployments/gpt4o/")
	if !ok || r.URL.Query().Get("api-version") != "2024-10-21" || r.Header.Get("Api-Key") != azureKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":"404","message":"Resource not found"}}`)
		return
	}
	r.URL.Path, r.URL.RawQuery = "/v1/"+op, ""
	a.mock.ServeHTTP(w, r)
}

func (a *azureUpstream) requests() []azureRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]azureRequest(nil), a.seen...)
}

// TestAzureDeployment: an Azure OpenAI deployment is configured with its
// query in base_url and its key in an "api-key" header. Every upstream
// call (chat, streamed chat, embeddings) goes to the deployment path with
// the query kept after it, carries api-key, and no Authorization.
func TestAzureDeployment(t *testing.T) {
	az := &azureUpstream{mock: mockllm.New(mockllm.Options{})}
	srv := httptest.NewServer(az)
	t.Cleanup(srv.Close)
	g := startGateway(t, gatewayOptions{
		env: map[string]string{"AZURE_OPENAI_API_KEY": azureKey},
		extraModels: fmt.Sprintf(`{"id": "azure", "adapter": "openai_compat", "model": "gpt-4o",
			"base_url": %q, "api_key": "ENV:AZURE_OPENAI_API_KEY", "headers": {"api-key": "{api_key}"}}`,
			srv.URL+"/openai/deployments/gpt4o/?api-version=2024-10-21"),
	})
	c := g.client(t)
	ctx := context.Background()

	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "azure", Messages: userMessage("Hello")})
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if len(resp.Choices) == 0 || resp.Choices[0].Message.Content == "" {
		t.Errorf("chat answer has no content: %+v", resp)
	}

	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "azure", Messages: userMessage("Hello")})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(acc.Choices) == 0 || acc.Choices[0].Message.Content == "" {
		t.Errorf("streamed answer has no content: %+v", acc.ChatCompletion)
	}

	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "azure",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one"}}})
	if err != nil {
		t.Fatalf("embeddings: %v", err)
	}
	if len(emb.Data) != 1 || len(emb.Data[0].Embedding) == 0 {
		t.Errorf("embeddings answer = %+v, want one vector", emb.Data)
	}

	wantPaths := []string{
		"/openai/deployments/gpt4o/chat/completions",
		"/openai/deployments/gpt4o/chat/completions",
		"/openai/deployments/gpt4o/embeddings",
	}
	seen := az.requests()
	if len(seen) != len(wantPaths) {
		t.Fatalf("upstream saw %d requests, want %d: %+v", len(seen), len(wantPaths), seen)
	}
	for i, r := range seen {
		if r.path != wantPaths[i] || r.query != "api-version=2024-10-21" {
			t.Errorf("request %d went to %s?%s, want %s?api-version=2024-10-21", i, r.path, r.query, wantPaths[i])
		}
		if r.apiKey != azureKey {
			t.Errorf("request %d: api-key = %q, want the configured key", i, r.apiKey)
		}
		if r.authorization != "" {
			t.Errorf("request %d: Authorization = %q, want none (api-key replaces it)", i, r.authorization)
		}
	}
}

// TestCredentialsInQueryAndHeadersRedacted: a key passed as a base_url
// query parameter, and a literal credential header, are secrets like
// api_key: an upstream that echoes them, and a transport error that quotes
// the URL, reach neither the client nor the log; the log names the
// upstream with the key's value replaced.
func TestCredentialsInQueryAndHeadersRedacted(t *testing.T) {
	const queryKey, headerKey = "query-secret-5551234", "header-secret-5559876"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"message":"key %s with api-key %s refused (url %s)"}}`,
			r.URL.Query().Get("key"), r.Header.Get("Api-Key"), r.URL.RequestURI())
	}))
	t.Cleanup(echo.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing listens there any more: a transport error
	g := startGateway(t, gatewayOptions{extraModels: fmt.Sprintf(`
		{"id": "echo", "adapter": "openai_compat", "base_url": %q, "headers": {"api-key": %q}},
		{"id": "dead", "adapter": "openai_compat", "base_url": %q}`,
		echo.URL+"/v1?api-version=1&key="+queryKey, headerKey, dead.URL+"/v1?api-version=1&key="+queryKey)})

	for _, model := range []string{"echo", "dead"} {
		status, _, body := g.post(t, "/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
		if status < 400 {
			t.Errorf("%s: status %d, want an error", model, status)
		}
		if strings.Contains(body, queryKey) || strings.Contains(body, headerKey) {
			t.Errorf("%s: the client's error holds a secret: %s", model, body)
		}
		if model == "echo" && !strings.Contains(body, "[redacted]") {
			t.Errorf("echo: the upstream's message lost more than its secrets: %s", body)
		}
	}
	logs := g.logs.String()
	if strings.Contains(logs, queryKey) || strings.Contains(logs, headerKey) {
		t.Errorf("the log holds a secret:\n%s", logs)
	}
	if !strings.Contains(logs, "/v1?api-version=1&key=[redacted]") {
		t.Errorf("the log does not name the upstream with its key redacted:\n%s", logs)
	}
}
