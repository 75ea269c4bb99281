package gemini

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Image URLs come from clients, so without a check a client could make the
// gateway read what only the gateway can reach: its own loopback services,
// the private network, the cloud metadata service at 169.254.169.254. The
// check is made on the address actually connected to, after DNS, for every
// connection (redirects included), so that neither a name that resolves to
// a private address nor a redirect can get around it; a check of the URL's
// host name before fetching could not see either.

// nonPublicPrefixes are ranges that netip's predicates do not cover and
// that no public image server lives in (IANA special-purpose registries).
// The IPv6 ranges that embed an IPv4 address (NAT64, 6to4, Teredo) are
// refused whole, since the embedded address could be a private one.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, shared address space
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo among them
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// publicAddress reports whether a is a public unicast address: not
// loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with the
// metadata service, fe80::/10), unspecified, multicast, or one of
// nonPublicPrefixes. An IPv4-mapped IPv6 address is judged as the IPv4
// address it maps.
func publicAddress(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false // also loopback, link-local, unspecified, multicast
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// errNotPublic is the cause of a refused connection, for the log.
var errNotPublic = errors.New("not a public address")

// guardedDialer connects image downloads to public addresses only.
type guardedDialer struct {
	allowPrivate bool
	// lookup resolves a host name; nil means net.DefaultResolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// dial connects to a checked "ip:port"; nil means a net.Dialer that
	// checks the address again as the socket connects.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialContext resolves address and connects to the first of its addresses
// that is allowed and answers. It is an http.Transport's DialContext.
func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portText, err)
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), uint16(port))
		if !d.allowPrivate && !publicAddress(a) {
			errs = append(errs, fmt.Errorf("%s (%s): %w", ap, host, errNotPublic))
			continue
		}
		conn, err := d.connect(ctx, network, ap.String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%s: no addresses", host)
	}
	return nil, errors.Join(errs...)
}

func (d *guardedDialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if d.lookup != nil {
		return d.lookup(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

func (d *guardedDialer) connect(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.dial != nil {
		return d.dial(ctx, network, addr)
	}
	nd := net.Dialer{Timeout: 10 * time.Second, Control: d.control}
	return nd.DialContext(ctx, network, addr)
}

// control checks the address once more as the socket connects: whatever
// path led here, nothing connects to a refused address.
func (d *guardedDialer) control(network, address string, _ syscall.RawConn) error {
	if d.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%s: %w", address, err)
	}
	if !publicAddress(ap.Addr()) {
		return fmt.Errorf("%s: %w", address, errNotPublic)
	}
	return nil
}
