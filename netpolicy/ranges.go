// SPDX-License-Identifier: Apache-2.0

package netpolicy

import (
	"net/netip"
)

// kind says how far an allow-list entry can lift a class's refusal.
type kind int

const (
	// kindPrivate is lifted by any entry that covers the address: a CIDR,
	// an address, or a host-name entry the destination was reached by.
	kindPrivate kind = iota + 1
	// kindLocal (loopback, link-local) is lifted only by a CIDR or
	// address entry: a host name that resolves there is a rebinding, not
	// a homelab.
	kindLocal
	// kindMetadata is lifted only by an entry naming exactly that address
	// (a /32 or /128), never by a wider CIDR or a host name.
	kindMetadata
	// kindNever cannot be lifted: the address does not name one remote
	// host (unspecified reaches this host, multicast and broadcast reach
	// many).
	kindNever
)

// class is a range refused by default.
type class struct {
	prefix netip.Prefix
	name   string
	kind   kind
}

func (c class) describe() string { return c.name + " (" + c.prefix.String() + ")" }

// never says why a kindNever class cannot be allowed.
func (c class) never() string {
	if c.name == "unspecified" {
		return "connecting to it reaches this host"
	}
	return "it does not name one host"
}

// metadata are cloud metadata endpoints: AWS, GCP, Azure, OpenStack and
// DigitalOcean IMDS (169.254.169.254, and fd00:ec2::254 on AWS and
// fd20:ce::254 on GCP over IPv6), the AWS ECS task endpoint, EKS Pod
// Identity's agent, the AWS VPC resolver and time server, Azure's wire
// server, Alibaba's, Oracle's and Scaleway's metadata services.
var metadata = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"),
	netip.MustParsePrefix("169.254.169.253/32"),
	netip.MustParsePrefix("169.254.169.123/32"),
	netip.MustParsePrefix("169.254.170.2/32"),
	netip.MustParsePrefix("168.63.129.16/32"),
	netip.MustParsePrefix("100.100.100.200/32"),
	netip.MustParsePrefix("192.0.0.192/32"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("fd00:ec2::253/128"),
	netip.MustParsePrefix("fd00:ec2::123/128"),
	netip.MustParsePrefix("169.254.170.23/32"),
	netip.MustParsePrefix("fd00:ec2::23/128"),
	netip.MustParsePrefix("fd20:ce::254/128"),
	netip.MustParsePrefix("169.254.42.42/32"),
	netip.MustParsePrefix("fd00:42::42/128"),
}

// classes are the ranges refused by default, most specific first: the
// first that contains an address names the rule. Addresses in none of
// them are public and allowed (subject to the port allow-list).
var classes = func() []class {
	var cs []class
	for _, m := range metadata {
		cs = append(cs, class{m, "a cloud metadata address", kindMetadata})
	}
	for _, c := range []struct {
		prefix, name string
		kind         kind
	}{
		{"255.255.255.255/32", "the limited broadcast address", kindNever},
		{"0.0.0.0/8", "unspecified", kindNever},
		{"::/128", "unspecified", kindNever},
		{"224.0.0.0/4", "multicast", kindNever},
		{"ff00::/8", "multicast", kindNever},
		{"127.0.0.0/8", "loopback", kindLocal},
		{"::1/128", "loopback", kindLocal},
		{"169.254.0.0/16", "link-local", kindLocal},
		{"fe80::/10", "link-local", kindLocal},
		{"10.0.0.0/8", "private (RFC 1918)", kindPrivate},
		{"172.16.0.0/12", "private (RFC 1918)", kindPrivate},
		{"192.168.0.0/16", "private (RFC 1918)", kindPrivate},
		{"100.64.0.0/10", "shared address space (CGNAT and Tailscale)", kindPrivate},
		{"fd7a:115c:a1e0::/48", "Tailscale's unique local range", kindPrivate},
		{"fc00::/7", "unique local (ULA)", kindPrivate},
		{"fec0::/10", "site-local (deprecated)", kindPrivate},
		{"64:ff9b:1::/48", "local-use NAT64", kindPrivate},
		{"192.0.0.0/24", "IETF protocol assignments", kindPrivate},
		{"192.0.2.0/24", "documentation (TEST-NET-1)", kindPrivate},
		{"198.51.100.0/24", "documentation (TEST-NET-2)", kindPrivate},
		{"203.0.113.0/24", "documentation (TEST-NET-3)", kindPrivate},
		{"2001:db8::/32", "documentation", kindPrivate},
		{"198.18.0.0/15", "benchmarking", kindPrivate},
		{"240.0.0.0/4", "reserved", kindPrivate},
		{"100::/64", "discard-only", kindPrivate},
	} {
		cs = append(cs, class{netip.MustParsePrefix(c.prefix), c.name, c.kind})
	}
	return cs
}()

// classify returns the default-deny class of a, or false for a public
// address. a must not be IPv4-mapped (callers unmap first).
func classify(a netip.Addr) (class, bool) {
	for _, c := range classes {
		if c.prefix.Contains(a) {
			return c, true
		}
	}
	return class{}, false
}

// embedding is an IPv6 range that carries an IPv4 address.
type embedding struct {
	prefix netip.Prefix
	name   string
	// offset is the byte offset of the IPv4 address in the IPv6 one.
	offset int
}

// embeddings are IPv6 forms that carry an IPv4 address a packet may end
// up at: the deprecated IPv4-compatible form, SIIT's IPv4-translated form,
// NAT64's well-known prefix and 6to4. (IPv4-mapped addresses are unmapped
// before any check; they are the IPv4 address.)
var embeddings = []embedding{
	{netip.MustParsePrefix("::/96"), "IPv4-compatible", 12},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated", 12},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64", 12},
	{netip.MustParsePrefix("2002::/16"), "6to4", 2},
}

// embedded returns the IPv4 address a carries in one of the embeddings,
// and the embedding's name.
func embedded(a netip.Addr) (netip.Addr, string, bool) {
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}, "", false
	}
	for _, e := range embeddings {
		if !e.prefix.Contains(a) {
			continue
		}
		b := a.As16()
		v4 := netip.AddrFrom4([4]byte(b[e.offset : e.offset+4]))
		return v4, e.name, true
	}
	return netip.Addr{}, "", false
}
