package registry

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the HTTP transport the gateway uses for upstreams.
// http.DefaultTransport keeps only 2 idle connections per host, so under
// concurrent load most requests would open a new connection; this one keeps
// enough for hundreds of concurrent requests to one provider.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
