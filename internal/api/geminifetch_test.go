package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// imageServer serves /cat.png, /big.png (size bytes) and /endless.png (a
// body that never ends), counting the requests it gets; more paths can be
// added to its mux.
type imageServer struct {
	*httptest.Server
	mux    *http.ServeMux
	served atomic.Int64
}

func startImageServer(t *testing.T, size int) *imageServer {
	s := &imageServer{mux: http.NewServeMux()}
	s.mux.HandleFunc("/cat.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\nfake-image-bytes"))
	})
	s.mux.HandleFunc("/big.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(make([]byte, size))
	})
	s.mux.HandleFunc("/endless.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		chunk := make([]byte, 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.served.Add(1)
		s.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// imageRequest is a chat request for model "gemini" with one text part and
// an image part per URL.
func imageRequest(urls ...string) string {
	parts := []any{map[string]any{"type": "text", "text": "What is this?"}}
	for _, u := range urls {
		parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]any{"url": u}})
	}
	b, _ := json.Marshal(map[string]any{"model": "gemini", "messages": []any{map[string]any{"role": "user", "content": parts}}})
	return string(b)
}

// errorBody decodes an OpenAI error body.
func errorBody(t *testing.T, body string) (code, param, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Param, Message string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Code, e.Error.Param, e.Error.Message
}

const geminiFetching = `{"id": "gemini", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", "fetch_images": true}`

// A model with fetch_images does not fetch from loopback, named or not:
// the client gets one generic 400 that says nothing of what was there,
// the image server is never asked, Gemini is never called, and the log
// has the reason.
func TestGeminiFetchImagesRefusesPrivateAddresses(t *testing.T) {
	images := startImageServer(t, 0)
	_, port, _ := net.SplitHostPort(images.Listener.Addr().String())
	g := startGateway(t, gatewayOptions{extraModels: geminiFetching})
	for _, u := range []string{images.URL + "/cat.png", "http://localhost:" + port + "/cat.png", "http://[::ffff:127.0.0.1]:" + port + "/cat.png"} {
		status, _, body := g.post(t, "/v1/chat/completions", imageRequest(u))
		code, param, msg := errorBody(t, body)
		if status != 400 || code != "image_fetch_failed" || param != "messages[0].content[1].image_url.url" ||
			!strings.Contains(msg, "only public http(s) URLs") {
			t.Errorf("%s: %d %s", u, status, body)
		}
		for _, leak := range []string{"127.0.0.1", "not a public", "refused", "localhost"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: the message tells the client %q: %s", u, leak, msg)
			}
		}
	}
	if n := images.served.Load(); n != 0 {
		t.Errorf("the image server was asked %d times", n)
	}
	if n := len(g.mock.Requests()); n != 0 {
		t.Errorf("Gemini was called %d times", n)
	}
	if logs := g.logs.String(); !strings.Contains(logs, "not a public address") {
		t.Errorf("the log lacks the reason:\n%s", logs)
	}
}

// Through a public-looking name (served locally by the registry's hooks),
// a download works and follows up to three redirects; a redirect to the
// metadata service or to loopback, a fourth redirect, and a redirect to
// another scheme are refused with the same generic 400.
func TestGeminiFetchImagesRedirects(t *testing.T) {
	images := startImageServer(t, 0)
	_, port, _ := net.SplitHostPort(images.Listener.Addr().String())
	redirect := func(path, to string) {
		images.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
	}
	redirect("/to-metadata", "http://metadata.example/latest/meta-data/iam/security-credentials/")
	redirect("/to-loopback", "http://127.0.0.1:"+port+"/cat.png")
	redirect("/to-file", "file:///etc/passwd")
	for i := 1; i <= 4; i++ {
		to := fmt.Sprintf("/r%d", i-1)
		if i == 1 {
			to = "/cat.png"
		}
		redirect(fmt.Sprintf("/r%d", i), to)
	}
	var dialed []string
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "images.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		case "metadata.example":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		}
		return nil, errors.New("no such host")
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr) // downloads of one request run one after another
		if addr != "93.184.216.34:80" {
			return nil, errors.New("test network: unreachable")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, images.Listener.Addr().String())
	}
	g := startGateway(t, gatewayOptions{extraModels: geminiFetching, imageLookup: lookup, imageDial: dial})

	for _, path := range []string{"/cat.png", "/r3"} {
		status, _, body := g.post(t, "/v1/chat/completions", imageRequest("http://images.example"+path))
		if status != 200 {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	if up := string(g.lastUpstream(t).Body); !strings.Contains(up, `"data":"iVBORw0KGgpmYWtlLWltYWdlLWJ5dGVz"`) {
		t.Errorf("upstream body lacks the inline image:\n%s", up)
	}
	for path, cause := range map[string]string{
		"/to-metadata": "169.254.169.254:80 (metadata.example): not a public address",
		"/to-loopback": "127.0.0.1:" + port + " (127.0.0.1): not a public address",
		"/r4":          "more than 3 redirects",
		"/to-file":     `redirect to a \"file\" URL`,
	} {
		status, _, body := g.post(t, "/v1/chat/completions", imageRequest("http://images.example"+path))
		if code, _, _ := errorBody(t, body); status != 400 || code != "image_fetch_failed" {
			t.Errorf("%s: %d %s", path, status, body)
		}
		if !strings.Contains(g.logs.String(), cause) {
			t.Errorf("%s: the log lacks %q", path, cause)
		}
	}
	for _, a := range dialed {
		if a != "93.184.216.34:80" {
			t.Errorf("dialed %s", a)
		}
	}
}

// The per-request limits: at most 16 image URLs, 20 MiB of images in all,
// 20 MiB for one image, however the server sends it. Each is a 400 naming
// the limit, and nothing past the limit is asked for or read.
func TestGeminiFetchImagesLimits(t *testing.T) {
	images := startImageServer(t, 8<<20)
	g := startGateway(t, gatewayOptions{extraModels: strings.Replace(geminiFetching, `"fetch_images": true`, `"fetch_images": true, "fetch_private_addresses": true`, 1)})

	urls := make([]string, 17)
	for i := range urls {
		urls[i] = images.URL + "/cat.png"
	}
	status, _, body := g.post(t, "/v1/chat/completions", imageRequest(urls...))
	code, param, msg := errorBody(t, body)
	if status != 400 || code != "too_many_images" || param != "messages[0].content[17].image_url.url" || !strings.Contains(msg, "at most 16 image URLs per request") {
		t.Errorf("17 images: %d %s", status, body)
	}
	if n := images.served.Load(); n != 16 {
		t.Errorf("the image server was asked %d times, want 16", n)
	}

	status, _, body = g.post(t, "/v1/chat/completions", imageRequest(images.URL+"/big.png", images.URL+"/big.png", images.URL+"/big.png"))
	code, param, msg = errorBody(t, body)
	if status != 400 || code != "images_too_large" || param != "messages[0].content[3].image_url.url" || !strings.Contains(msg, "20 MiB") {
		t.Errorf("three 8 MiB images: %d %s", status, body)
	}

	status, _, body = g.post(t, "/v1/chat/completions", imageRequest(images.URL+"/endless.png"))
	code, _, msg = errorBody(t, body)
	if status != 400 || code != "image_too_large" || !strings.Contains(msg, "larger than 20 MiB") {
		t.Errorf("endless image: %d %s", status, body)
	}
	if n := len(g.mock.Requests()); n != 0 {
		t.Errorf("Gemini was called %d times", n)
	}
}
