package gemini

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeJSON decodes b into a generic value, failing the test if b is not
// exactly one JSON value.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return v
}

// diffJSON returns the cmp.Diff (-want +got) of two JSON documents compared
// as values (key order and spacing ignored).
func diffJSON(t testing.TB, want, got []byte) string {
	t.Helper()
	return cmp.Diff(decodeJSON(t, want), decodeJSON(t, got))
}

// chatRequest decodes an OpenAI chat request body as the handler does.
func chatRequest(t testing.TB, body string) *openai.ChatRequest {
	t.Helper()
	req, oerr := openai.DecodeChatRequest([]byte(body))
	if oerr != nil {
		t.Fatalf("DecodeChatRequest: %s", oerr.Message)
	}
	return req
}

// convert runs ConvertRequest on body and returns the decoded result.
func convert(t testing.TB, body string, o RequestOptions) map[string]any {
	t.Helper()
	out, err := ConvertRequest(chatRequest(t, body), o)
	if err != nil {
		t.Fatalf("ConvertRequest: %v", err)
	}
	return decodeJSON(t, out).(map[string]any)
}

// asAdapterError fails the test unless err is an *adapter.Error.
func asAdapterError(t testing.TB, err error) *adapter.Error {
	t.Helper()
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *adapter.Error", err, err)
	}
	return ae
}

// jsonOf encodes v for comparisons in failure messages and tests.
func jsonOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustRead reads a testdata file outside a test (for table literals).
func mustRead(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return b
}
