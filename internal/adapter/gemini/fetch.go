package gemini

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// FetchOptions configure image downloads (Options.FetchImages). Zero values
// mean the documented defaults.
type FetchOptions struct {
	MaxBytes      int64         // one image; zero means DefaultFetchMaxBytes
	MaxTotalBytes int64         // all images of one request; zero means DefaultFetchMaxTotalBytes
	MaxImages     int           // image URLs per request; zero means DefaultFetchMaxImages
	Timeout       time.Duration // one image, redirects included; zero means DefaultFetchTimeout
	// AllowPrivate lets downloads reach loopback, private, link-local and
	// other non-public addresses (netguard.go), which are refused when
	// false.
	AllowPrivate bool
	// Lookup resolves host names; nil means the system resolver.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dial connects to an address that passed the check ("ip:port"); nil
	// means a plain TCP connection. Tests use Lookup and Dial to give a
	// public-looking name any address, and to reach a local server through
	// a public-looking one.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Limits for downloading image URLs when FetchImages is on. Gemini takes at
// most 20 MB of inline data in one request, so a request's images together
// get the same limit as one image.
const (
	DefaultFetchMaxBytes      = 20 << 20
	DefaultFetchMaxTotalBytes = 20 << 20
	DefaultFetchMaxImages     = 16
	DefaultFetchTimeout       = 10 * time.Second
	// maxFetchRedirects is how many redirects one download follows.
	maxFetchRedirects = 3
)

// fetcher downloads image URLs for Gemini, within size, count and time
// limits, from public addresses only unless allowed otherwise. It is safe
// for concurrent use; per-request limits are counted by an imageQuota.
type fetcher struct {
	client    *http.Client
	maxBytes  int64
	maxTotal  int64
	maxImages int
	timeout   time.Duration
}

func newFetcher(o FetchOptions) *fetcher {
	f := &fetcher{maxBytes: o.MaxBytes, maxTotal: o.MaxTotalBytes, maxImages: o.MaxImages, timeout: o.Timeout}
	if f.maxBytes <= 0 {
		f.maxBytes = DefaultFetchMaxBytes
	}
	if f.maxTotal <= 0 {
		f.maxTotal = DefaultFetchMaxTotalBytes
	}
	if f.maxImages <= 0 {
		f.maxImages = DefaultFetchMaxImages
	}
	if f.timeout <= 0 {
		f.timeout = DefaultFetchTimeout
	}
	d := &guardedDialer{allowPrivate: o.AllowPrivate, lookup: o.Lookup, dial: o.Dial}
	// Its own transport: not the upstream one, whose connections and proxy
	// settings are for configured upstreams, and never a proxy, which would
	// connect on the gateway's behalf where the address check cannot see.
	// Connections are not kept: image hosts are whatever clients name, and
	// an idle pool would outlive the adapter after a reload.
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		DisableKeepAlives:      true,
		TLSHandshakeTimeout:    f.timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	f.client = &http.Client{Transport: t, CheckRedirect: checkRedirect}
	return f
}

// checkRedirect limits redirects and their schemes. Each hop connects
// through the same guarded dialer.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxFetchRedirects {
		return fmt.Errorf("more than %d redirects", maxFetchRedirects)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("redirect to a %q URL", s)
	}
	return nil
}

// imageLimitError is a download refused because it would pass one of the
// fetcher's limits. Unlike other download failures, the client is told
// which: the message names a limit of the gateway, nothing about the URL.
type imageLimitError struct {
	code string // OpenAI error code
	msg  string
}

func (e *imageLimitError) Error() string { return e.msg }

// imageQuota counts the downloads of one request against the per-request
// limits. It is not safe for concurrent use.
type imageQuota struct {
	f      *fetcher
	images int
	bytes  int64
}

// fetch downloads the image at u and returns it base64-encoded with its
// MIME type.
func (q *imageQuota) fetch(ctx context.Context, u string) (string, string, error) {
	f := q.f
	if q.images >= f.maxImages {
		return "", "", &imageLimitError{code: "too_many_images", msg: fmt.Sprintf(
			"the gateway fetches at most %d image URLs per request; send further images inline as data: URLs", f.maxImages)}
	}
	q.images++
	limit := min(f.maxBytes, f.maxTotal-q.bytes)
	data, mt, n, err := f.get(ctx, u, limit)
	if errors.Is(err, errImageTooLarge) {
		if limit < f.maxBytes {
			return "", "", &imageLimitError{code: "images_too_large", msg: fmt.Sprintf(
				"the images fetched for this request would pass %s, the gateway's limit for one request (Gemini takes at most 20 MB of inline data per request)", byteSize(f.maxTotal))}
		}
		return "", "", &imageLimitError{code: "image_too_large", msg: fmt.Sprintf(
			"the image is larger than %s, the gateway's limit for one image", byteSize(f.maxBytes))}
	}
	if err != nil {
		return "", "", err
	}
	q.bytes += n
	return data, mt, nil
}

// errImageTooLarge is get's answer for a body past its limit.
var errImageTooLarge = errors.New("image too large")

// get downloads u, at most limit bytes, and returns the body base64-encoded
// (encoded as it arrives, so that the raw bytes are never held whole), its
// MIME type and its size. Errors carry the detail for the log; the client
// is told only that the download failed.
func (f *fetcher) get(ctx context.Context, u string, limit int64) (data, mimeType string, n int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", "", 0, fmt.Errorf("image URL: %w", err)
	}
	where := logURL(req.URL)
	req.Header.Set("Accept", "image/*")
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL may hold credentials in the query
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return "", "", 0, fmt.Errorf("fetching %s: no answer within %s", where, f.timeout)
		}
		return "", "", 0, fmt.Errorf("fetching %s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", 0, fmt.Errorf("fetching %s: HTTP %d", where, resp.StatusCode)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "image/") {
		return "", "", 0, fmt.Errorf("fetching %s: Content-Type %q is not an image", where, mt)
	}
	if resp.ContentLength > limit {
		return "", "", 0, errImageTooLarge // said so up front: not worth reading
	}
	var sb doublingBuilder
	enc := base64.NewEncoder(base64.StdEncoding, &sb)
	n, err = io.Copy(enc, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", "", 0, fmt.Errorf("fetching %s: reading the body: %w", where, err)
	}
	if n > limit {
		return "", "", 0, errImageTooLarge
	}
	enc.Close() // writes the padding; a strings.Builder does not fail
	return sb.String(), mt, n, nil
}

// doublingBuilder is a strings.Builder that doubles its capacity when it
// must grow: append's gentler growth for large slices would allocate about
// five times the final size of a 27 MB base64 image, doubling about twice.
type doublingBuilder struct{ strings.Builder }

func (b *doublingBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.Cap() {
		b.Grow(len(p)) // to twice the capacity plus len(p)
	}
	return b.Builder.Write(p)
}

// logURL is u for the log: without user info, query or fragment, which
// may hold credentials (signed URLs).
func logURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// byteSize formats n for messages: whole MiB when it is, else bytes.
func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
