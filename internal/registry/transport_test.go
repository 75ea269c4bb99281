package registry

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"aigateway/internal/adapter"
)

// The deployment's connect timeout reaches the dialer through the context.
func TestDialUsesConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial without a timeout: %v", err)
	}
	conn.Close()
	_, err = dial(adapter.WithConnectTimeout(context.Background(), time.Nanosecond), "tcp", ln.Addr().String())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("dial with a 1ns connect timeout: %v, want a timeout", err)
	}
}
