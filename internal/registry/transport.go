package registry

import (
	"context"
	"net"
	"net/http"
	"time"

	"aigateway/internal/adapter"
)

// NewTransport returns the HTTP transport the gateway uses for upstreams.
// http.DefaultTransport keeps only 2 idle connections per host, so under
// concurrent load most requests would open a new connection; this one keeps
// enough for hundreds of concurrent requests to one provider.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// DefaultConnectTimeout bounds a TCP connect when the deployment sets none.
const DefaultConnectTimeout = 10 * time.Second

// dial connects with the deployment's connect timeout, which arrives in the
// request context (adapter.WithConnectTimeout).
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second}
	if t := adapter.ConnectTimeout(ctx); t > 0 {
		d.Timeout = t
	}
	return d.DialContext(ctx, network, addr)
}
