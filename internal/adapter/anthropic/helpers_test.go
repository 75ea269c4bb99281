package anthropic

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonValue decodes b, failing the test if it is not JSON.
func jsonValue(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

// diffJSON compares two JSON documents as values ("" when equal).
func diffJSON(t testing.TB, want, got []byte) string {
	t.Helper()
	return cmp.Diff(jsonValue(t, want), jsonValue(t, got))
}

func decodeRequest(t testing.TB, body string) *openai.ChatRequest {
	t.Helper()
	req, e := openai.DecodeChatRequest([]byte(body))
	if e != nil {
		t.Fatalf("DecodeChatRequest: %s", e.Message)
	}
	return req
}

// asAdapterError returns err as an *adapter.Error, failing the test if it is
// not one.
func asAdapterError(t testing.TB, err error) *adapter.Error {
	t.Helper()
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *adapter.Error", err, err)
	}
	return ae
}
