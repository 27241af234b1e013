// SPDX-License-Identifier: Apache-2.0

package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// maxAddrs bounds how many addresses one name may resolve to; a larger
// answer is refused rather than half-checked.
const maxAddrs = 64

// Dest is a destination the policy allowed: its host, port and every
// address it resolved to, each checked. Dial it with DialContext or
// DialAddr, which connect to those addresses and nothing else.
type Dest struct {
	Host Host
	// Port is the destination port; 0 for ICMP.
	Port uint16
	// Addrs are the checked addresses, in the resolver's order,
	// IPv4-mapped ones unmapped.
	Addrs []netip.Addr
	// Explicit is set when an allow-list entry allowed every address.
	Explicit bool
	// LookupTime is how long resolution took; 0 for an IP literal.
	LookupTime time.Duration

	policy *Policy
}

// String returns host or host:port.
func (d *Dest) String() string {
	if d.Port == 0 {
		return d.Host.String()
	}
	return joinHostPort(d.Host.String(), d.Port)
}

// Resolve parses host (see ParseHost), resolves it when it is a name,
// and checks every address on port (0 for ICMP). Any refused address
// refuses the destination, with a *RefusedError naming it.
func (p *Policy) Resolve(ctx context.Context, host string, port uint16) (*Dest, error) {
	h, err := ParseHost(host)
	if err != nil {
		if re := (*RefusedError)(nil); errors.As(err, &re) {
			re.Port = port
		}
		return nil, err
	}
	d := &Dest{Host: h, Port: port, policy: p}
	var addrs []netip.Addr
	if h.IsAddr() {
		addrs = []netip.Addr{h.Addr}
	} else {
		start := time.Now()
		addrs, err = p.lookup(ctx, h.Name)
		d.LookupTime = time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", h.Name, err)
		}
	}
	if err := d.checkAll(addrs); err != nil {
		return nil, err
	}
	return d, nil
}

// checkAll checks addrs on d.Port and sets d.Addrs and d.Explicit.
func (d *Dest) checkAll(addrs []netip.Addr) error {
	d.Addrs, d.Explicit = nil, len(addrs) > 0
	for _, a := range addrs {
		explicit, err := d.policy.check(d.Host.Name, a, d.Port)
		if err != nil {
			return err
		}
		d.Explicit = d.Explicit && explicit
		if a = a.Unmap(); !slices.Contains(d.Addrs, a) {
			d.Addrs = append(d.Addrs, a)
		}
	}
	return nil
}

// WithPort returns the destination on another port, checked again (the
// port allow-list and entries with ports) without resolving again.
func (d *Dest) WithPort(port uint16) (*Dest, error) {
	n := &Dest{Host: d.Host, Port: port, LookupTime: d.LookupTime, policy: d.policy}
	if err := n.checkAll(d.Addrs); err != nil {
		return nil, err
	}
	return n, nil
}

// DialContext connects to the destination's addresses in order until one
// answers. network is "tcp" or "udp".
func (d *Dest) DialContext(ctx context.Context, network string) (net.Conn, error) {
	var errs []error
	for _, a := range d.Addrs {
		c, err := d.DialAddr(ctx, network, a)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("connecting to %s: no addresses", d)
	}
	return nil, errors.Join(errs...)
}

// DialAddr connects to a, which must be one of the destination's checked
// addresses, on the destination's port. The socket is checked once more
// just before connect(2): it must be exactly that address and port.
func (d *Dest) DialAddr(ctx context.Context, network string, a netip.Addr) (net.Conn, error) {
	a = a.Unmap()
	ap := netip.AddrPortFrom(a, d.Port)
	if !slices.Contains(d.Addrs, a) {
		return nil, &RefusedError{Dest: d.String(), Addr: a, Port: d.Port, Rule: "checked addresses",
			Reason: fmt.Sprintf("%s is not an address %s was checked for", a, d.Host)}
	}
	switch network {
	case "tcp", "udp":
		if a.Is4() {
			network += "4"
		} else {
			network += "6"
		}
	default:
		return nil, fmt.Errorf("dialing %s: unsupported network %q", ap, network)
	}
	dl := net.Dialer{ControlContext: onlyTo(ap)}
	c, err := dl.DialContext(ctx, network, ap.String())
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", ap, err)
	}
	return c, nil
}

// onlyTo returns a dialer control function that refuses any connect(2)
// but to ap: the last check, on the socket address itself.
func onlyTo(ap netip.AddrPort) func(context.Context, string, string, syscall.RawConn) error {
	return func(_ context.Context, _, address string, _ syscall.RawConn) error {
		got, err := netip.ParseAddrPort(address)
		if err != nil || netip.AddrPortFrom(got.Addr().Unmap(), got.Port()) != ap {
			return &RefusedError{Dest: address, Rule: "checked addresses",
				Reason: fmt.Sprintf("the socket was about to connect to %s, not the checked %s", address, ap)}
		}
		return nil
	}
}

// DialContext resolves and checks address ("host:port"), then connects to
// the checked addresses: a drop-in for http.Transport.DialContext.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		return nil, fmt.Errorf("dialing %s: no port", address)
	}
	d, err := p.Resolve(ctx, host, port)
	if err != nil {
		return nil, err
	}
	return d.DialContext(ctx, network)
}

// lookup resolves name to its addresses with the configured resolver, or
// the system's.
func (p *Policy) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	if p.resolver == "" {
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
		if err != nil {
			return nil, err
		}
		for i := range addrs {
			addrs[i] = addrs[i].Unmap() // the system resolver returns A answers in 16-byte form
		}
		if len(addrs) > maxAddrs {
			return nil, fmt.Errorf("%d addresses, more than %d", len(addrs), maxAddrs)
		}
		return addrs, nil
	}
	var (
		wg   sync.WaitGroup
		res  [2][]netip.Addr
		errs [2]error
	)
	for i, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		wg.Go(func() { res[i], errs[i] = p.lookupType(ctx, name, qt) })
	}
	wg.Wait()
	addrs := append(res[0], res[1]...)
	switch {
	case len(addrs) > maxAddrs:
		return nil, fmt.Errorf("%d addresses, more than %d", len(addrs), maxAddrs)
	case len(addrs) > 0:
		return addrs, nil
	case errs[0] != nil:
		return nil, errs[0]
	case errs[1] != nil:
		return nil, errs[1]
	}
	return nil, fmt.Errorf("no addresses")
}

// lookupType asks the configured resolver for name's records of type qt
// (A or AAAA) and follows the CNAME chain within the answer.
func (p *Policy) lookupType(ctx context.Context, name string, qt uint16) ([]netip.Addr, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qt)
	m.SetEdns0(1232, false)
	ans, err := p.Query(ctx, m, "")
	if err != nil {
		return nil, err
	}
	r := ans.Msg
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, fmt.Errorf("no such host (NXDOMAIN from %s)", ans.Server)
	default:
		return nil, fmt.Errorf("%s answered %s", ans.Server, dns.RcodeToString[r.Rcode])
	}
	target := dns.Fqdn(name)
	var out []netip.Addr
	for range 16 { // CNAME chain links
		next := ""
		for _, rr := range r.Answer {
			if !strings.EqualFold(rr.Header().Name, target) {
				continue
			}
			switch rr := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(rr.A.To4()); ok && qt == dns.TypeA {
					out = append(out, a)
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok && qt == dns.TypeAAAA {
					out = append(out, a) // kept mapped, so a refusal can say so
				}
			case *dns.CNAME:
				next = rr.Target
			}
		}
		if len(out) > 0 || next == "" {
			break
		}
		target = next
	}
	return out, nil
}

// Answer is a DNS answer and how it was obtained.
type Answer struct {
	Msg *dns.Msg
	// Server is the server that answered, host:port.
	Server string
	// Protocol is udp, or tcp when the UDP answer was truncated.
	Protocol string
	// RTT is the exchange's round-trip time.
	RTT time.Duration
}

// Query sends m to server and returns the answer, retrying over TCP when
// the UDP answer is truncated. server is an IP address with an optional
// port (53 by default), checked against the policy like any destination,
// or "" for the configured resolver, or the system's first nameserver
// when none is configured; those two are trusted configuration.
func (p *Policy) Query(ctx context.Context, m *dns.Msg, server string) (*Answer, error) {
	var addr netip.AddrPort
	switch {
	case server != "":
		ap, err := parseServer(server)
		if err != nil {
			var re *RefusedError
			if errors.As(err, &re) {
				return nil, err
			}
			return nil, fmt.Errorf("parsing resolver address: %w", err)
		}
		if _, err := p.CheckAddr(ap.Addr(), ap.Port()); err != nil {
			return nil, err
		}
		addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case p.resolver != "":
		addr = netip.MustParseAddrPort(p.resolver)
	default:
		ap, err := systemResolver()
		if err != nil {
			return nil, err
		}
		addr = ap
	}
	ans := &Answer{Server: addr.String(), Protocol: "udp"}
	c := &dns.Client{Net: "udp", UDPSize: 1232, Timeout: 5 * time.Second, Dialer: &net.Dialer{ControlContext: onlyTo(addr)}}
	if dl, ok := ctx.Deadline(); ok {
		c.Timeout = max(time.Until(dl), time.Millisecond)
	}
	r, rtt, err := c.ExchangeContext(ctx, m, addr.String())
	if err == nil && r.Truncated {
		c.Net, ans.Protocol = "tcp", "tcp"
		r, rtt, err = c.ExchangeContext(ctx, m, addr.String())
	}
	if err != nil {
		return nil, fmt.Errorf("querying %s over %s: %w", addr, c.Net, err)
	}
	ans.Msg, ans.RTT = r, rtt
	return ans, nil
}

// systemResolver returns the first nameserver of /etc/resolv.conf.
func systemResolver() (netip.AddrPort, error) {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reading the system resolver: %w", err)
	}
	for _, s := range cc.Servers {
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			return netip.AddrPortFrom(a.Unmap(), 53), nil
		}
	}
	return netip.AddrPort{}, errors.New("reading the system resolver: no usable nameserver in /etc/resolv.conf")
}

// ReverseName returns a's name from a PTR lookup with the configured
// resolver (or the system's), without the trailing dot; "" when there is
// none or the lookup fails. It contacts only the resolver.
func (p *Policy) ReverseName(ctx context.Context, a netip.Addr) string {
	if p.resolver == "" {
		names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
		if err != nil || len(names) == 0 {
			return ""
		}
		return strings.TrimSuffix(names[0], ".")
	}
	rev, err := dns.ReverseAddr(a.String())
	if err != nil {
		return ""
	}
	m := new(dns.Msg)
	m.SetQuestion(rev, dns.TypePTR)
	ans, err := p.Query(ctx, m, "")
	if err != nil {
		return ""
	}
	for _, rr := range ans.Msg.Answer {
		if ptr, ok := rr.(*dns.PTR); ok {
			return strings.TrimSuffix(ptr.Ptr, ".")
		}
	}
	return ""
}
