// SPDX-License-Identifier: Apache-2.0

package netpolicy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Host is a destination host in canonical form: either a host name or an
// IP address, never both.
type Host struct {
	// Name is the host name in ASCII (IDNA), lower case, without a
	// trailing dot; empty when the host is an address.
	Name string
	// Addr is the address when the host is an IP literal. IPv4-mapped
	// IPv6 literals are kept as given; the policy checks (and dials) them
	// as the IPv4 address they map.
	Addr netip.Addr
	// Input is the host as given.
	Input string
}

// String returns the name or the address.
func (h Host) String() string {
	if h.Name != "" {
		return h.Name
	}
	return h.Addr.String()
}

// IsAddr reports whether the host is an IP literal.
func (h Host) IsAddr() bool { return h.Addr.IsValid() }

// ParseHost parses a destination host: a host name, a dotted-decimal IPv4
// address, or an IPv6 address with or without brackets. Names are mapped
// with IDNA (UTS #46: full-width forms, ideographic full stops, case and
// invisible characters all fold) and lose one trailing dot. Anything
// another parser could read as a different address is refused, with a
// *RefusedError: decimal, octal, hex and short IPv4 forms ("2130706433",
// "0177.0.0.1", "0x7f.1", "127.1"), zone identifiers, percent signs and
// names that are not valid host names.
func ParseHost(s string) (Host, error) {
	h := Host{Input: s}
	refuse := func(rule, format string, a ...any) (Host, error) {
		return Host{}, &RefusedError{Dest: s, Rule: rule, Reason: fmt.Sprintf(format, a...)}
	}
	if s == "" {
		return refuse("host syntax", "the host is empty")
	}
	if len(s) > 1024 {
		return refuse("host syntax", "the host is %d bytes long", len(s))
	}
	if !utf8.ValidString(s) {
		return refuse("host syntax", "the host is not valid UTF-8")
	}
	inner, bracketed := strings.CutPrefix(s, "[")
	if bracketed {
		var ok bool
		if inner, ok = strings.CutSuffix(inner, "]"); !ok {
			return refuse("host syntax", "%q has an unclosed bracket", s)
		}
	}
	if bracketed || strings.Contains(inner, ":") {
		if i := strings.IndexByte(inner, '%'); i >= 0 {
			return refuse("zone identifier", "%q has a zone identifier (%s); zone identifiers are refused", s, inner[i:])
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() {
			return refuse("host syntax", "%q is not a valid IPv6 address", s)
		}
		h.Addr = a
		return h, nil
	}
	if strings.ContainsAny(s, "%/\\@ ") {
		return refuse("host syntax", "%q is not a host name or IP address", s)
	}
	name, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return refuse("host syntax", "%q is not a valid host name: %v", s, err)
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if endsInNumber(name) {
		if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
			h.Addr = a
			return h, nil
		}
		if a, ok := looseIPv4(name); ok {
			return refuse("IPv4 literal form", "%q is not a dotted-decimal IPv4 address (other parsers read it as %s); "+
				"decimal, octal, hex and short forms are refused: write the address as four decimal numbers", s, a)
		}
		return refuse("IPv4 literal form", "%q is not a valid IPv4 address", s)
	}
	if err := checkName(name); err != nil {
		return refuse("host syntax", "%q is not a valid host name: %v", s, err)
	}
	h.Name = name
	return h, nil
}

// checkName checks a name's length and labels after IDNA mapping.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 bytes")
	}
	for _, l := range strings.Split(name, ".") {
		switch {
		case l == "":
			return fmt.Errorf("empty label")
		case len(l) > 63:
			return fmt.Errorf("label longer than 63 bytes")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("character %q", r)
			}
		}
	}
	return nil
}

// endsInNumber reports whether a host's last label is a number, decimal
// or 0x-hex, as the WHATWG URL standard has it: such a host is an IPv4
// address to browsers and C libraries, never a name to look up.
func endsInNumber(name string) bool {
	labels := strings.Split(name, ".")
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// looseIPv4 parses s as inet_aton and the WHATWG URL standard do: one to
// four parts, each decimal, octal (leading 0) or hex (0x), the last
// filling the remaining bytes. It is used only to say what a refused
// form would have meant.
func looseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x"):
			p, base = p[2:], 16
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			p, base = p[1:], 8
		}
		n, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// SplitHostPort splits "host:port", "[v6]:port", or a bare host (port 0).
// A bare IPv6 address is a host without a port.
func SplitHostPort(s string) (host string, port uint16, err error) {
	i := strings.LastIndexByte(s, ':')
	switch {
	case i < 0:
		return s, 0, nil
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		return s, 0, nil
	case !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1:
		return s, 0, nil // a bare IPv6 address
	}
	host = s[:i]
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil || p == 0 {
		return "", 0, fmt.Errorf("invalid port %q in %q", s[i+1:], s)
	}
	if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") {
		return "", 0, fmt.Errorf("unbalanced brackets in %q", s)
	}
	return host, uint16(p), nil
}
