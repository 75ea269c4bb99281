package gemini

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPublicAddress(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.10", "198.18.0.1",
		"::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd00:ec2::254", "ff02::1", "fec0::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
		"64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2001:0:4136:e378::1", "2001:db8::1",
	}
	allowed := []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"}
	for _, s := range refused {
		if publicAddress(netip.MustParseAddr(s)) {
			t.Errorf("%s is allowed", s)
		}
	}
	for _, s := range allowed {
		if !publicAddress(netip.MustParseAddr(s)) {
			t.Errorf("%s is refused", s)
		}
	}
}

// fetchFor returns an imageQuota of a fetcher with o, for one request.
func fetchFor(o FetchOptions) *imageQuota {
	return &imageQuota{f: newFetcher(o)}
}

// Image downloads stay within their size and time limits, accept only
// images, and encode what they read as base64.
func TestFetchImageLimits(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ten.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("0123456789"))
		case "/eleven.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("0123456789x"))
		case "/endless.png": // no length, never ends: the read must stop at the limit
			w.Header().Set("Content-Type", "image/png")
			for r.Context().Err() == nil {
				if _, err := w.Write(make([]byte, 4096)); err != nil {
					return
				}
			}
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
	o := FetchOptions{MaxBytes: 10, MaxTotalBytes: 1000, Timeout: 200 * time.Millisecond, AllowPrivate: true}
	cases := []struct{ path, limitCode, cause string }{
		{"/ten.png", "", ""},
		{"/eleven.png", "image_too_large", ""},
		{"/endless.png", "image_too_large", ""},
		{"/page.html", "", "not an image"},
		{"/missing.png", "", "HTTP 404"},
		{"/slow.png", "", "no answer within 200ms"},
	}
	for _, tc := range cases {
		data, mt, err := fetchFor(o).fetch(context.Background(), srv.URL+tc.path)
		var limit *imageLimitError
		switch {
		case tc.limitCode == "" && tc.cause == "":
			if err != nil || data != base64.StdEncoding.EncodeToString([]byte("0123456789")) || mt != "image/png" {
				t.Errorf("%s: %q, %q, %v", tc.path, data, mt, err)
			}
		case tc.limitCode != "":
			if !errors.As(err, &limit) || limit.code != tc.limitCode || !strings.Contains(limit.msg, "10 bytes") {
				t.Errorf("%s: error %v, want limit %s naming 10 bytes", tc.path, err, tc.limitCode)
			}
		default:
			if err == nil || errors.As(err, &limit) || !strings.Contains(err.Error(), tc.cause) {
				t.Errorf("%s: error %v, want a fetch failure with %q", tc.path, err, tc.cause)
			}
		}
	}
}

// A request fetches at most MaxImages URLs and MaxTotalBytes in all; the
// next request starts afresh.
func TestFetchImageRequestLimits(t *testing.T) {
	var mu sync.Mutex
	served := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("0123456789"))
	}))
	defer srv.Close()
	f := newFetcher(FetchOptions{MaxBytes: 10, MaxTotalBytes: 25, MaxImages: 3, AllowPrivate: true})

	q := &imageQuota{f: f}
	for i := range 2 {
		if _, _, err := q.fetch(context.Background(), srv.URL); err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
	}
	_, _, err := q.fetch(context.Background(), srv.URL) // 30 bytes > 25
	var limit *imageLimitError
	if !errors.As(err, &limit) || limit.code != "images_too_large" || !strings.Contains(limit.msg, "25 bytes") {
		t.Errorf("third image: %v, want images_too_large naming 25 bytes", err)
	}
	_, _, err = q.fetch(context.Background(), srv.URL)
	if !errors.As(err, &limit) || limit.code != "too_many_images" || !strings.Contains(limit.msg, "at most 3 image URLs") {
		t.Errorf("fourth image: %v, want too_many_images", err)
	}
	if served != 3 {
		t.Errorf("the server was asked %d times, want 3 (none past the count)", served)
	}

	q = &imageQuota{f: f}
	if _, _, err := q.fetch(context.Background(), srv.URL); err != nil {
		t.Errorf("a new request is refused: %v", err)
	}
}

// publicNet serves a public-looking name from a local test server: Lookup
// answers for the names in addrs, and Dial connects the public address
// 93.184.216.34 (whatever port) to the server, recording every address it
// was asked to connect to. Any other name resolves as usual.
type publicNet struct {
	srv   *httptest.Server
	addrs map[string]string
	mu    sync.Mutex
	dials []string
}

func (p *publicNet) options() FetchOptions {
	return FetchOptions{Lookup: p.lookup, Dial: p.dial, Timeout: 2 * time.Second}
}

func (p *publicNet) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, ok := p.addrs[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

func (p *publicNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	p.mu.Lock()
	p.dials = append(p.dials, addr)
	p.mu.Unlock()
	if strings.HasPrefix(addr, "93.184.216.34:") {
		var d net.Dialer
		return d.DialContext(ctx, network, p.srv.Listener.Addr().String())
	}
	return nil, errors.New("test network: unreachable " + addr)
}

// Downloads connect only to public addresses, checked on the address each
// connection goes to: a literal private address, a name that resolves to
// one, and a redirect to one are all refused, and the refused address is
// never dialed. Redirects are limited in number and scheme.
func TestFetchImageRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(nil)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("/cat.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG"))
	})
	redirect := func(path, to string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
	}
	redirect("/to-metadata", "http://metadata.test/latest/meta-data/")
	redirect("/to-loopback", "http://127.0.0.1:"+port+"/cat.png")
	redirect("/to-localhost", "http://localhost:"+port+"/cat.png")
	redirect("/to-mapped", "http://[::ffff:127.0.0.1]:"+port+"/cat.png")
	redirect("/to-file", "file:///etc/passwd")
	redirect("/to-gopher", "gopher://public.test/")
	redirect("/r1", "/cat.png")
	redirect("/r2", "/r1")
	redirect("/r3", "/r2")
	redirect("/r4", "/r3")
	srv.Config.Handler = mux
	pn := &publicNet{srv: srv, addrs: map[string]string{
		"public.test": "93.184.216.34", "metadata.test": "169.254.169.254", "private.test": "10.0.0.8", "mapped.test": "::ffff:192.168.0.1",
	}}

	cases := []struct{ url, cause string }{
		{"http://public.test/cat.png", ""},
		{"http://public.test/r3", ""}, // three redirects are followed
		{"http://127.0.0.1:" + port + "/cat.png", "not a public address"},
		{"http://localhost:" + port + "/cat.png", "not a public address"},
		{"http://[::1]:" + port + "/cat.png", "not a public address"},
		{"http://metadata.test/latest/meta-data/", "not a public address"},
		{"http://private.test/cat.png", "not a public address"},
		{"http://mapped.test/cat.png", "not a public address"},
		{"http://public.test/to-metadata", "169.254.169.254:80 (metadata.test): not a public address"},
		{"http://public.test/to-loopback", "not a public address"},
		{"http://public.test/to-localhost", "not a public address"},
		{"http://public.test/to-mapped", "not a public address"},
		{"http://public.test/r4", "more than 3 redirects"},
		{"http://public.test/to-file", `redirect to a "file" URL`},
		{"http://public.test/to-gopher", `redirect to a "gopher" URL`},
	}
	for _, tc := range cases {
		q := fetchFor(pn.options())
		data, _, err := q.fetch(context.Background(), tc.url)
		if tc.cause == "" {
			if err != nil || data != base64.StdEncoding.EncodeToString([]byte("\x89PNG")) {
				t.Errorf("%s: %q, %v", tc.url, data, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.cause) {
			t.Errorf("%s: error %v, want %q", tc.url, err, tc.cause)
		}
	}
	for _, a := range pn.dials {
		if ap := netip.MustParseAddrPort(a); !publicAddress(ap.Addr()) {
			t.Errorf("dialed %s", a)
		}
	}

	// With the model's allowance, private addresses are reached.
	o := pn.options()
	o.AllowPrivate = true
	o.Dial = nil
	if _, _, err := fetchFor(o).fetch(context.Background(), "http://127.0.0.1:"+port+"/cat.png"); err != nil {
		t.Errorf("allowed private address: %v", err)
	}
}

// The socket-level check refuses a non-public address even when the
// dialer is reached without the resolver's check.
func TestGuardedDialerControl(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := &guardedDialer{}
	conn, err := d.connect(context.Background(), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
		t.Fatal("connected to a loopback address")
	}
	if !errors.Is(err, errNotPublic) {
		t.Errorf("error %v, want errNotPublic", err)
	}
}
