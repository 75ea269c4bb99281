package api_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/inbound/responses"
)

// With the shared store's Redis unreachable, the answer still arrives, and
// both ways of reading a stored response say 503 store_unavailable (SDKs
// retry a 503; the response may be there once Redis is back), never a
// misleading "not found" or a 500.
func TestResponsesStoreDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	store, err := responses.NewRedisStore(context.Background(), "redis://"+addr+"/0", responses.RedisStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d := defaultDialects()
	d.Responses = responses.New(responses.Options{Store: store})
	g := startGateway(t, gatewayOptions{dialects: &d})
	status, _, body := g.post(t, "/v1/responses", `{"model":"chat","input":"hi"}`)
	id := gjson.Get(body, "id").Str
	if status != 200 || gjson.Get(body, "status").Str != "completed" || id == "" {
		t.Fatalf("answer with the store down: %d %s", status, body)
	}
	status, _, body = g.do(t, http.MethodGet, "/v1/responses/"+id, "")
	if status != 503 || gjson.Get(body, "error.code").Str != "store_unavailable" || gjson.Get(body, "error.type").Str != "service_unavailable_error" {
		t.Errorf("GET with the store down: %d %s", status, body)
	}
	status, _, body = g.post(t, "/v1/responses", `{"model":"chat","input":"more","previous_response_id":"`+id+`"}`)
	if status != 503 || gjson.Get(body, "error.code").Str != "store_unavailable" {
		t.Errorf("follow-up with the store down: %d %s", status, body)
	}
}
