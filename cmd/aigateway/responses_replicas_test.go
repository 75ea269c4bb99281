package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"aigateway/internal/mockllm"
)

// TestReplicasShareStoredResponses runs two gateway processes on one Redis
// in front of one upstream: a response stored on replica A is continued
// (previous_response_id) and read back (GET /v1/responses/{id}) on replica
// B, through the official SDK, and B's upstream request carries A's turn.
func TestReplicasShareStoredResponses(t *testing.T) {
	redisURL := os.Getenv("AIGW_REDIS_URL")
	if redisURL == "" {
		t.Skip("set AIGW_REDIS_URL (.ci/run does) to run the stored-responses replica test")
	}
	mock := mockllm.New(mockllm.Options{Record: true})
	up := httptest.NewServer(mock)
	defer up.Close()
	t.Setenv("AIGW_TEST_REDIS", redisURL)
	// A key of this run: Redis keeps state between runs.
	key := fmt.Sprintf("gw-responses-replica-%x", rand.Uint64())
	path := filepath.Join(t.TempDir(), "models.json")
	cfg := fmt.Sprintf(`{"redis_url": "ENV:AIGW_TEST_REDIS",
		"keys": [{"name": "replicas", "key": %q}],
		"models": [{"id": "chat", "adapter": "openai_compat", "base_url": %q, "model": "mock-model"}]}`, key, up.URL+"/v1")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := startReplica(t, path, 0), startReplica(t, path, 0)
	for _, r := range []*replica{a, b} {
		if !strings.Contains(r.logs.String(), "store=redis") {
			t.Errorf("replica %s does not say it stores responses in Redis:\n%s", r.addr, r.logs.String())
		}
	}
	client := func(r *replica) openai.Client {
		return openai.NewClient(option.WithBaseURL("http://"+r.addr+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	ca, cb := client(a), client(b)
	ctx := context.Background()

	const question = "Remember the word PAPAYA-7."
	first, err := ca.Responses.New(ctx, responses.ResponseNewParams{
		Model: "chat",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(question)},
		Store: openai.Bool(true),
	})
	if err != nil {
		t.Fatalf("replica A: %v", err)
	}
	answer := first.OutputText()
	if first.Status != "completed" || answer == "" {
		t.Fatalf("replica A: status %s, text %q", first.Status, answer)
	}

	second, err := cb.Responses.New(ctx, responses.ResponseNewParams{
		Model:              "chat",
		Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("Which word?")},
		PreviousResponseID: openai.String(first.ID),
	})
	if err != nil {
		t.Fatalf("replica B, previous_response_id from A: %v", err)
	}
	if second.Status != "completed" || second.PreviousResponseID != first.ID {
		t.Errorf("replica B: status %s, previous_response_id %q", second.Status, second.PreviousResponseID)
	}
	reqs := mock.Requests()
	if len(reqs) != 2 {
		t.Fatalf("the upstream got %d requests, want 2", len(reqs))
	}
	// B's upstream request is the whole conversation: A's question, A's
	// answer as the assistant's turn, then the follow-up.
	var turns []string
	for _, m := range gjson.GetBytes(reqs[1].Body, "messages").Array() {
		turns = append(turns, m.Get("role").Str+": "+m.Get("content").String())
	}
	if len(turns) != 3 || turns[0] != "user: "+question || turns[1] != "assistant: "+answer || turns[2] != "user: Which word?" {
		t.Errorf("replica B's upstream request does not carry A's turn:\n%s\n%s", strings.Join(turns, "\n"), reqs[1].Body)
	}

	got, err := cb.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatalf("GET /v1/responses/%s on B: %v", first.ID, err)
	}
	if got.ID != first.ID || got.OutputText() != answer {
		t.Errorf("GET on B: id %s, text %q; want A's response", got.ID, got.OutputText())
	}
	if !bytes.Contains([]byte(got.RawJSON()), []byte(first.ID)) {
		t.Errorf("GET on B: %s", got.RawJSON())
	}
	// And the other way: A reads B's response.
	if got, err := ca.Responses.Get(ctx, second.ID, responses.ResponseGetParams{}); err != nil || got.ID != second.ID {
		t.Errorf("GET /v1/responses/%s on A: %v", second.ID, err)
	}
}
