// SPDX-License-Identifier: Apache-2.0

// Package netpolicy is the destination policy of the network diagnostics
// tools: the one piece of code that decides whether a tool may send
// traffic to a host, resolves the host, and dials exactly the addresses
// it checked.
//
// # Rules
//
// A destination is resolved first (with the configured resolver, or the
// system's), every address it resolves to is checked, and the call is
// refused if any one is refused: a name that answers with a public
// address and a loopback one is a rebinding attempt, not a choice. The
// checked addresses are then dialed as addresses, so no second
// resolution can change them.
//
// Refused by default: loopback, RFC 1918, link-local, CGNAT and the
// Tailscale range 100.64.0.0/10, fc00::/7, fe80::/10, multicast,
// unspecified, broadcast, documentation, benchmarking and reserved
// ranges, the cloud metadata addresses, and the IPv4-mapped, -compatible,
// NAT64 and 6to4 forms of any of those. Public addresses are allowed.
//
// Allow-list entries lift the default: a CIDR or address lifts it for the
// addresses it covers; a host name ("nas.lan", or "*.home.arpa" for the
// names below it) lifts it for what that name resolves to, except
// loopback, link-local and metadata addresses, which only address entries
// lift (a name resolving to loopback is how rebinding attacks look);
// metadata addresses need an entry naming exactly that address;
// unspecified, multicast and broadcast addresses are never allowed. An
// entry with a port ("nas.lan:8443", "10.0.0.5:22", "[fd00::1]:443",
// "10.0.0.0/24:80") lifts it on that port only.
//
// An optional port allow-list restricts every TCP and UDP destination
// port; an entry with a port allows that port for what it names.
//
// # Host forms
//
// ParseHost refuses every form that one parser reads as a name and
// another as an address, or that names an interface: decimal, octal, hex
// and short IPv4 forms, zone identifiers, percent-encoding. IDNA folding
// (full-width digits, ideographic full stops, case) happens before the
// check, so "１２７。０。０。１" is 127.0.0.1 and refused as loopback.
//
// Every refusal is a *RefusedError whose message names the rule and, when
// the destination can be allowed, the --diag-allow entry that would.
package netpolicy

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrRefused is matched (errors.Is) by every *RefusedError.
var ErrRefused = errors.New("refused by policy")

// RefusedError is a destination the policy refuses.
type RefusedError struct {
	// Dest is the destination as asked for.
	Dest string
	// Addr is the refused address; invalid when the host's form was
	// refused before any address was known.
	Addr netip.Addr
	// Port is the destination port; 0 for ICMP and for host-form refusals.
	Port uint16
	// Rule names the rule that refused: "loopback (127.0.0.0/8)", "port
	// allow-list", "IPv4 literal form"...
	Rule string
	// Reason says what was refused and why, for people.
	Reason string
	// Hint says how to allow the destination; empty when no entry can.
	Hint string
}

// Error returns "refused by policy: REASON; HINT".
func (e *RefusedError) Error() string {
	if e.Hint == "" {
		return "refused by policy: " + e.Reason
	}
	return "refused by policy: " + e.Reason + "; " + e.Hint
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Config is the policy's configuration. The zero Config refuses the
// default-deny ranges, allows every public destination on any port, and
// resolves names with the system resolver.
type Config struct {
	// Allow are the allow-list entries (--diag-allow and the config
	// file's diag_allow): CIDRs or addresses ("192.168.1.0/24",
	// "127.0.0.1", "fd00::/8"), host names ("nas.lan", "*.home.arpa"),
	// and either with a port ("nas.lan:8443", "127.0.0.1:8080",
	// "[fd00::1]:443", "10.0.0.0/24:80").
	Allow []string
	// Ports, when not empty, is the port allow-list: destinations on
	// other ports (TCP, and DNS servers given per query) are refused
	// unless an entry with that port covers them. Empty means any port.
	// Destinations checked without a port (port 0: ping, and traceroute,
	// whose probes are meant to be refused) are not affected.
	Ports []uint16
	// Resolver is the DNS server names are resolved with, as an address
	// with an optional port ("192.168.1.1", "[fd00::53]:5353"); empty
	// means the system resolver. It is configuration, so it is trusted:
	// it is not itself checked against the policy.
	Resolver string
}

// addrEntry is a CIDR or address entry.
type addrEntry struct {
	text   string
	prefix netip.Prefix
	port   uint16 // 0: any port
}

// nameEntry is a host-name entry.
type nameEntry struct {
	text     string
	name     string // without "*."
	wildcard bool   // matches names below name, not name itself
	port     uint16
}

func (e nameEntry) matches(name string) bool {
	if e.wildcard {
		return strings.HasSuffix(name, "."+e.name)
	}
	return name == e.name
}

// Policy is a parsed Config. Its methods are safe for concurrent use.
type Policy struct {
	addrs    []addrEntry
	names    []nameEntry
	ports    []uint16
	resolver string // host:port, or "" for the system resolver
}

// New parses c. An invalid entry is an error naming it.
func New(c Config) (*Policy, error) {
	p := &Policy{}
	for _, s := range c.Allow {
		if err := p.addEntry(s); err != nil {
			return nil, fmt.Errorf("parsing diagnostics allow-list entry %q: %w", s, err)
		}
	}
	for _, port := range c.Ports {
		if port == 0 {
			return nil, errors.New("parsing diagnostics port allow-list: port 0")
		}
		if !slices.Contains(p.ports, port) {
			p.ports = append(p.ports, port)
		}
	}
	slices.Sort(p.ports)
	if c.Resolver != "" {
		r, err := parseServer(c.Resolver)
		if err != nil {
			return nil, fmt.Errorf("parsing diagnostics resolver: %w", err)
		}
		p.resolver = r.String()
	}
	return p, nil
}

// parseServer parses a DNS server address: an IP address with an optional
// port, 53 by default.
func parseServer(s string) (netip.AddrPort, error) {
	host, port, err := SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if port == 0 {
		port = 53
	}
	h, err := ParseHost(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if !h.IsAddr() {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP address", s)
	}
	return netip.AddrPortFrom(h.Addr, port), nil
}

func (p *Policy) addEntry(s string) error {
	if strings.TrimSpace(s) != s || s == "" {
		return errors.New("empty, or surrounded by spaces")
	}
	host, port, err := SplitHostPort(s)
	if err != nil {
		return err
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.Contains(host, "/") {
		pfx, err := netip.ParsePrefix(host)
		if err != nil {
			return fmt.Errorf("not a CIDR: %w", err)
		}
		if pfx.Addr().Is4In6() {
			return errors.New("write IPv4 ranges in IPv4 form")
		}
		p.addrs = append(p.addrs, addrEntry{text: s, prefix: pfx.Masked(), port: port})
		return nil
	}
	wildcard := false
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		host, wildcard = rest, true
	}
	h, err := ParseHost(host)
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return errors.New(re.Reason)
		}
		return err
	}
	if h.IsAddr() {
		if wildcard {
			return errors.New("a wildcard needs a name after \"*.\"")
		}
		if h.Addr.Is4In6() {
			return errors.New("write IPv4 addresses in IPv4 form")
		}
		p.addrs = append(p.addrs, addrEntry{text: s, prefix: netip.PrefixFrom(h.Addr, h.Addr.BitLen()), port: port})
		return nil
	}
	p.names = append(p.names, nameEntry{text: s, name: h.Name, wildcard: wildcard, port: port})
	return nil
}

// Resolver returns the configured resolver as host:port, or "" for the
// system resolver.
func (p *Policy) Resolver() string { return p.resolver }

// Ports returns the port allow-list; empty means any port.
func (p *Policy) Ports() []uint16 { return slices.Clone(p.ports) }

// ConnectPorts returns the TCP ports the diagnostics tools may connect
// to, for the sandbox's Landlock connect rule: any is true when the
// policy has no port allow-list. Otherwise the ports are the allow-list,
// the ports of entries with a port, 53 (DNS over TCP) and the configured
// resolver's port.
func (p *Policy) ConnectPorts() (ports []uint16, any bool) {
	if len(p.ports) == 0 {
		return nil, true
	}
	ports = slices.Clone(p.ports)
	for _, e := range p.addrs {
		ports = append(ports, e.port)
	}
	for _, e := range p.names {
		ports = append(ports, e.port)
	}
	ports = append(ports, 53)
	if p.resolver != "" {
		ports = append(ports, netip.MustParseAddrPort(p.resolver).Port())
	}
	ports = slices.DeleteFunc(ports, func(port uint16) bool { return port == 0 })
	slices.Sort(ports)
	return slices.Compact(ports), false
}

// portAllowed reports whether port passes the port allow-list by itself.
func (p *Policy) portAllowed(port uint16) bool {
	return port == 0 || len(p.ports) == 0 || slices.Contains(p.ports, port)
}

func portsText(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ", ")
}

// CheckAddr checks one address on port (0 for ICMP) as a destination
// given as that address. It reports whether an allow-list entry allowed
// it explicitly.
func (p *Policy) CheckAddr(a netip.Addr, port uint16) (explicit bool, err error) {
	return p.check("", a, port)
}

// check decides one address, reached through name ("" for a literal) on
// port (0: no port). explicit is set when an entry matched.
func (p *Policy) check(name string, a netip.Addr, port uint16) (explicit bool, err error) {
	dest := a.String()
	if name != "" {
		dest = name
	}
	if port != 0 {
		dest = joinHostPort(dest, port)
	}
	refuse := func(rule, reason, hint string) (bool, error) {
		return false, &RefusedError{Dest: dest, Addr: a, Port: port, Rule: rule, Reason: reason, Hint: hint}
	}
	if !a.IsValid() {
		return refuse("host syntax", "no address", "")
	}
	if a.Zone() != "" {
		return refuse("zone identifier", fmt.Sprintf("%s has a zone identifier; zone identifiers are refused", a), "")
	}
	subject := a.String() + " is"
	if name != "" {
		subject = fmt.Sprintf("%s resolved to %s, which is", name, a)
	}
	if a.Is4In6() {
		subject = fmt.Sprintf("%s is the IPv4-mapped form of %s, which is", a, a.Unmap())
		if name != "" {
			subject = fmt.Sprintf("%s resolved to %s, the IPv4-mapped form of %s, which is", name, a, a.Unmap())
		}
		a = a.Unmap()
	}
	cls, restricted := classify(a)
	if v4, form, ok := embedded(a); ok && !restricted {
		c4, r4 := classify(v4)
		switch {
		case form == "IPv4-compatible" || form == "IPv4-translated":
			return refuse(form+" form", fmt.Sprintf("%s the deprecated %s form of %s; it is never allowed", subject, form, v4), "")
		case r4:
			subject = fmt.Sprintf("%s is the %s form of %s, which is", a, form, v4)
			if name != "" {
				subject = fmt.Sprintf("%s resolved to %s, the %s form of %s, which is", name, a, form, v4)
			}
			cls, restricted = class{prefix: c4.prefix, name: c4.name, kind: c4.kind}, true
		}
	}

	if restricted && cls.kind == kindNever {
		return refuse(cls.describe(), fmt.Sprintf("%s %s: %s, so it is never allowed", subject, cls.describe(), cls.never()), "")
	}

	// The entries that cover the destination, whatever their port, and
	// the ones that cover it on this port.
	var match, otherPort, nameCannot []string
	matchPort := false // an entry with this very port matched
	for _, e := range p.addrs {
		if !e.prefix.Contains(a) {
			continue
		}
		if restricted && cls.kind == kindMetadata && e.prefix.Bits() != a.BitLen() {
			continue
		}
		if e.port != 0 && e.port != port {
			otherPort = append(otherPort, e.text)
			continue
		}
		match = append(match, e.text)
		matchPort = matchPort || (e.port != 0 && e.port == port)
	}
	if name != "" {
		for _, e := range p.names {
			if !e.matches(name) {
				continue
			}
			if restricted && cls.kind >= kindLocal {
				nameCannot = append(nameCannot, e.text)
				continue
			}
			if e.port != 0 && e.port != port {
				otherPort = append(otherPort, e.text)
				continue
			}
			match = append(match, e.text)
			matchPort = matchPort || (e.port != 0 && e.port == port)
		}
	}

	if restricted && len(match) == 0 {
		what := fmt.Sprintf("%s %s (%s, default deny)", subject, cls.name, cls.prefix)
		if cls.kind == kindMetadata {
			return refuse(cls.describe(), what,
				fmt.Sprintf("only an entry naming exactly this address allows it: --diag-allow %s", p.allowHint(a, port, false)))
		}
		reason := what
		if len(nameCannot) > 0 {
			reason += fmt.Sprintf("; the host-name entry %s does not extend to %s addresses", strings.Join(nameCannot, ", "), cls.name)
		}
		if len(otherPort) > 0 {
			reason += fmt.Sprintf("; the allow-list entry %s does not cover port %d", strings.Join(otherPort, ", "), port)
		}
		withPort := len(otherPort) > 0
		hint := "allow it with --diag-allow " + p.allowHint(a, port, withPort)
		if name != "" {
			hint = "allow the address with --diag-allow " + p.allowHint(a, port, withPort)
			if cls.kind == kindPrivate {
				hint = fmt.Sprintf("allow the name with --diag-allow %s or the address with --diag-allow %s",
					p.nameHint(name, port, withPort), p.allowHint(a, port, withPort))
			}
		}
		return refuse(cls.describe(), reason, hint)
	}
	if !p.portAllowed(port) && !matchPort {
		host := a.String()
		if name != "" {
			host = name
		}
		return refuse("port allow-list", fmt.Sprintf("port %d of %s is not on the diagnostics port allow-list (%s)", port, host, portsText(p.ports)),
			fmt.Sprintf("allow it with --diag-port %d, or for this host only with --diag-allow %s", port, joinHostPort(host, port)))
	}
	return len(match) > 0, nil
}

// allowHint is the entry that would allow a on port: the address as a
// /32 or /128, or address:port when withPort is set or the port
// allow-list would refuse the port.
func (p *Policy) allowHint(a netip.Addr, port uint16, withPort bool) string {
	if port != 0 && (withPort || !p.portAllowed(port)) {
		return joinHostPort(a.String(), port)
	}
	return netip.PrefixFrom(a, a.BitLen()).String()
}

func (p *Policy) nameHint(name string, port uint16, withPort bool) string {
	if port != 0 && (withPort || !p.portAllowed(port)) {
		return joinHostPort(name, port)
	}
	return name
}

func joinHostPort(host string, port uint16) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(int(port))
	}
	return host + ":" + strconv.Itoa(int(port))
}

// ExplicitlyAllowed reports whether host ("name", "address", or either
// with ":port") is on an explicit allow-list entry and passes the policy
// without resolution: an address covered by a CIDR or address entry, or
// a name matched by a host-name entry, on a port the entry and the port
// allow-list allow. It never resolves names, so a name allowed only
// because its addresses fall in an allowed CIDR is not explicitly
// allowed. The server uses it to let http_request_test run without
// approval; the call itself is still checked in full.
func (p *Policy) ExplicitlyAllowed(host string) bool {
	h, port, err := SplitHostPort(host)
	if err != nil {
		return false
	}
	ph, err := ParseHost(h)
	if err != nil {
		return false
	}
	if ph.IsAddr() {
		explicit, err := p.check("", ph.Addr, port)
		return err == nil && explicit
	}
	for _, e := range p.names {
		if !e.matches(ph.Name) || (e.port != 0 && e.port != port) {
			continue
		}
		if e.port != 0 || p.portAllowed(port) {
			return true
		}
	}
	return false
}

// ExplicitlyAllowedURL is ExplicitlyAllowed for an http or https URL's
// host and port (80 or 443 when the URL has none). A URL that does not
// parse, has another scheme, or carries user info is not.
func (p *Policy) ExplicitlyAllowedURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Host == "" {
		return false
	}
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "http":
		port = cmp.Or(port, "80")
	case "https":
		port = cmp.Or(port, "443")
	default:
		return false
	}
	return p.ExplicitlyAllowed(net.JoinHostPort(u.Hostname(), port))
}
