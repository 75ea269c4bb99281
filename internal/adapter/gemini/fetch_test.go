package gemini

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Image downloads for fetch_images stay within their size and time limits
// and accept only images.
func TestFetchImageLimits(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("0123456789"))
		case "/big.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte(strings.Repeat("x", 11)))
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		case "/slow.png":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release)
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	f := &fetcher{transport: transport, maxBytes: 10, timeout: 200 * time.Millisecond}
	cases := []struct{ path, wantErr string }{
		{"/small.png", ""},
		{"/big.png", "larger than 10 bytes"},
		{"/page.html", "not an image"},
		{"/missing.png", "HTTP 404"},
		{"/slow.png", "longer than 200ms"},
	}
	for _, tc := range cases {
		data, mt, err := f.fetch(context.Background(), srv.URL+tc.path)
		switch {
		case tc.wantErr == "" && (err != nil || string(data) != "0123456789" || mt != "image/png"):
			t.Errorf("%s: %q, %q, %v", tc.path, data, mt, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.path, err, tc.wantErr)
		}
	}
}
