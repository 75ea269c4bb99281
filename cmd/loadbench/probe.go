package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// probe is an upstream that records what the gateway sends it and refuses
// every request with a 400, which the gateway neither retries nor falls
// back from. The matrix sends one request per row and mode through each
// upstream's twin entry that points at the probe, to report whether the
// gateway passed the client's body through or converted it: which the
// configuration implies is what the row is meant to measure, and the probe
// shows what this build does.
type probe struct {
	url  string
	got  chan probed
	srv  *http.Server
	done chan struct{}
}

// probed is one request the probe received.
type probed struct {
	path string
	body []byte
}

func startProbe() (*probe, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	p := &probe{url: "http://" + ln.Addr().String(), got: make(chan probed, 16), done: make(chan struct{})}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case p.got <- probed{r.URL.Path, body}:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"loadbench probe","type":"invalid_request_error"}}`) //nolint:errcheck // the gateway reads it or not
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(p.done)
		p.srv.Serve(ln) //nolint:errcheck // ends with Close
	}()
	return p, nil
}

func (p *probe) close() {
	p.srv.Close()
	<-p.done
}

// path sends w, whose model is u's probe twin, through the gateway and
// describes what reached the probe: "passthrough" when the body is the
// client's with only the model rewritten, else "converted", with the
// upstream path.
func (p *probe) path(w workload, u upstream) string {
	for len(p.got) > 0 {
		<-p.got
	}
	w.check = nil
	load(w, 1, 1)
	var got probed
	select {
	case got = <-p.got:
	case <-time.After(2 * time.Second):
		return "no upstream request"
	}
	path := got.path
	if m, i := strings.Index(path, "/models/"), strings.LastIndexByte(path, ':'); m >= 0 && i > m {
		path = path[:m] + "/models/{model}" + path[i:] // Gemini's model is in the path
	}
	// The gateway rewrites the model in the body, or in the URL for Gemini.
	sent := bytes.Replace(w.body, fmt.Appendf(nil, "%q", probePrefix+u.model), fmt.Appendf(nil, "%q", u.upstreamModel), 1)
	if bytes.Equal(got.body, sent) {
		return "passthrough " + path
	}
	return "converted " + path
}
