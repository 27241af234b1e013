// SPDX-License-Identifier: Apache-2.0

package netpolicy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseHost: ParseHost never panics; what it accepts is one
// unambiguous host — its String() parses again to the same host — and
// what another parser could read as a different address (short, octal,
// hex or decimal IPv4, zones) is refused.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"example.com", "EXAMPLE.com.", "127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "[::1]", "::1",
		"fe80::1%eth0", "ｅｘａｍｐｌｅ．ｃｏｍ", "xn--nxasmq6b.com", "a..b", "-a.com", "1.2.3.4.5", "[1.2.3.4]", "%31", "host:80", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHost(s)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("ParseHost(%q): %v is not a refusal", s, err)
			}
			return
		}
		again, err := ParseHost(h.String())
		if err != nil || again.String() != h.String() || again.IsAddr() != h.IsAddr() {
			t.Fatalf("ParseHost(%q) = %s, which parses again as %s, %v", s, h, again, err)
		}
		if h.IsAddr() && strings.Contains(h.String(), "%") {
			t.Fatalf("ParseHost(%q) kept a zone: %s", s, h)
		}
		if !h.IsAddr() {
			if _, err := netip.ParseAddr(h.String()); err == nil {
				t.Fatalf("ParseHost(%q) = name %s, which is an address", s, h)
			}
		}
	})
}

// FuzzCheck: with an allow-list of one private network and one domain,
// a loopback or link-local address is refused whatever name it comes
// with (name entries never extend to them), a private address outside
// the network is refused unless the name matches the domain, and nothing
// panics. Public addresses are the policy's default allow.
func FuzzCheck(f *testing.F) {
	p, err := New(Config{Allow: []string{"10.0.0.0/8", "*.home.arpa"}, Ports: []uint16{443}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"nas.home.arpa", "home.arpa", "evil.com", "x.home.arpa.evil.com", ""} {
		f.Add(s, []byte{10, 1, 2, 3}, uint16(443))
		f.Add(s, []byte{192, 168, 1, 1}, uint16(443))
		f.Add(s, []byte{127, 0, 0, 1}, uint16(443))
	}
	f.Fuzz(func(t *testing.T, name string, ip []byte, port uint16) {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		_, err := p.check(name, a, port)
		if err == nil {
			u := a.Unmap()
			named := name != "" && strings.HasSuffix(name, ".home.arpa")
			switch {
			case u.IsLoopback() || u.IsLinkLocalUnicast() || u.IsUnspecified():
				t.Fatalf("check(%q, %s, %d) allowed a loopback, link-local or unspecified address", name, a, port)
			case u.IsPrivate() && !netip.MustParsePrefix("10.0.0.0/8").Contains(u) && !named:
				t.Fatalf("check(%q, %s, %d) allowed a private address outside the allow-list", name, a, port)
			}
		}
	})
}
