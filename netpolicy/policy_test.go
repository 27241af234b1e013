// SPDX-License-Identifier: Apache-2.0

package netpolicy_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/netpolicy"
	"github.com/tailops/tailops/netpolicy/policytest"
)

func mustPolicy(t *testing.T, c netpolicy.Config) *netpolicy.Policy {
	t.Helper()
	p, err := netpolicy.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicyParseHostRefusesEncodingTricks covers every way to write an
// address that some parser reads differently: each is refused outright
// or parsed to the address it means (and then refused as that address).
func TestPolicyParseHostRefusesEncodingTricks(t *testing.T) {
	for _, tt := range []struct {
		in       string
		wantName string // canonical name, if accepted as a name
		wantAddr string // canonical address, if accepted as an address
		wantRule string // rule of the refusal, if refused
	}{
		{in: "127.0.0.1", wantAddr: "127.0.0.1"},
		{in: "2130706433", wantRule: "IPv4 literal form"},                   // decimal
		{in: "0177.0.0.1", wantRule: "IPv4 literal form"},                   // octal
		{in: "0x7f.0.0.1", wantRule: "IPv4 literal form"},                   // hex
		{in: "0x7f000001", wantRule: "IPv4 literal form"},                   // one hex number
		{in: "0X7F.1", wantRule: "IPv4 literal form"},                       // mixed case hex, short
		{in: "127.1", wantRule: "IPv4 literal form"},                        // short
		{in: "127.0.1", wantRule: "IPv4 literal form"},                      // short
		{in: "127.000.000.001", wantRule: "IPv4 literal form"},              // leading zeros
		{in: "1.2.3.4.5", wantRule: "IPv4 literal form"},                    // too many parts
		{in: "127.0.0.1.", wantAddr: "127.0.0.1"},                           // trailing dot: still the address
		{in: "127.0.0.1..", wantRule: "host syntax"},                        // empty label
		{in: "１２７.０.０.１", wantAddr: "127.0.0.1"},                            // full-width digits fold (IDNA)
		{in: "127。0。0。1", wantAddr: "127.0.0.1"},                            // ideographic full stops fold
		{in: "::ffff:127.0.0.1", wantAddr: "::ffff:127.0.0.1"},              // IPv4-mapped: checked as 127.0.0.1
		{in: "[::ffff:7f00:1]", wantAddr: "::ffff:127.0.0.1"},               // mapped, hex, brackets
		{in: "::127.0.0.1", wantAddr: "::7f00:1"},                           // IPv4-compatible: checked later
		{in: "fe80::1%eth0", wantRule: "zone identifier"},                   // zone
		{in: "[fe80::1%25eth0]", wantRule: "zone identifier"},               // escaped zone
		{in: "[::1", wantRule: "host syntax"},                               // unclosed
		{in: "[127.0.0.1]", wantRule: "host syntax"},                        // IPv4 in brackets
		{in: "127.0.0.1%lo", wantRule: "host syntax"},                       // zone on IPv4
		{in: "%31%32%37.0.0.1", wantRule: "host syntax"},                    // percent-encoding
		{in: "allowed@127.0.0.1", wantRule: "host syntax"},                  // userinfo
		{in: "a\\b", wantRule: "host syntax"},                               // backslash
		{in: "LocalHost", wantName: "localhost"},                            // mixed case
		{in: "localhost.", wantName: "localhost"},                           // trailing dot
		{in: "ｌｏｃａｌｈｏｓｔ", wantName: "localhost"},                            // full-width letters
		{in: "local\u200bhost", wantName: "localhost"},                      // zero-width space folds away
		{in: "Bücher.Example", wantName: "xn--bcher-kva.example"},           // IDNA
		{in: "a_b.example", wantRule: "host syntax"},                        // not a host name
		{in: "", wantRule: "host syntax"},                                   // empty
		{in: "-a.example", wantRule: "host syntax"},                         // leading hyphen
		{in: strings.Repeat("a", 64) + ".example", wantRule: "host syntax"}, // label too long
		{in: "1.2.3.4.nip.io", wantName: "1.2.3.4.nip.io"},                  // a name; its addresses are checked
	} {
		t.Run(tt.in, func(t *testing.T) {
			h, err := netpolicy.ParseHost(tt.in)
			if tt.wantRule != "" {
				var re *netpolicy.RefusedError
				if !errors.As(err, &re) || re.Rule != tt.wantRule || !errors.Is(err, netpolicy.ErrRefused) {
					t.Fatalf("ParseHost(%q) = %+v, %v; want refusal by rule %q", tt.in, h, err, tt.wantRule)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHost(%q): %v", tt.in, err)
			}
			if h.Name != tt.wantName || (tt.wantAddr != "" && h.Addr != netip.MustParseAddr(tt.wantAddr)) || (tt.wantAddr == "" && h.IsAddr()) {
				t.Errorf("ParseHost(%q) = name %q addr %v; want name %q addr %q", tt.in, h.Name, h.Addr, tt.wantName, tt.wantAddr)
			}
		})
	}
}

// TestPolicyRefusesNonCanonicalIPv4SaysWhatItMeans checks that the
// refusal of an alternative IPv4 form says which address it would be.
func TestPolicyRefusesNonCanonicalIPv4SaysWhatItMeans(t *testing.T) {
	for in, means := range map[string]string{
		"2130706433": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "0x7f.1": "127.0.0.1",
		"127.1": "127.0.0.1", "0x7f.0x0.0x0.0x1": "127.0.0.1", "10.1": "10.0.0.1", "0": "0.0.0.0",
	} {
		_, err := netpolicy.ParseHost(in)
		if err == nil || !strings.Contains(err.Error(), "read it as "+means+")") {
			t.Errorf("ParseHost(%q) error %v; want it to say it means %s", in, err, means)
		}
	}
}

// TestPolicyDefaultDeny checks every default-deny range, its IPv4-mapped,
// IPv4-compatible, NAT64 and 6to4 forms, and that public addresses pass.
func TestPolicyDefaultDeny(t *testing.T) {
	p := mustPolicy(t, netpolicy.Config{})
	for _, tt := range []struct {
		addr string
		rule string // substring of the rule; "" means allowed
	}{
		{"127.0.0.1", "loopback (127.0.0.0/8)"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback (::1/128)"},
		{"10.1.2.3", "private (RFC 1918) (10.0.0.0/8)"},
		{"172.16.0.1", "private (RFC 1918) (172.16.0.0/12)"},
		{"172.31.255.255", "RFC 1918"},
		{"192.168.1.10", "private (RFC 1918) (192.168.0.0/16)"},
		{"169.254.1.1", "link-local (169.254.0.0/16)"},
		{"fe80::1", "link-local (fe80::/10)"},
		{"100.64.0.1", "CGNAT and Tailscale"},
		{"100.100.100.100", "CGNAT and Tailscale"},
		{"100.127.255.255", "CGNAT and Tailscale"},
		{"fd7a:115c:a1e0::1", "Tailscale"},
		{"fc00::1", "unique local"},
		{"fd12:3456::1", "unique local"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"255.255.255.255", "broadcast"},
		{"169.254.169.254", "metadata"},
		{"169.254.170.2", "metadata"},
		{"100.100.100.200", "metadata"},
		{"168.63.129.16", "metadata"},
		{"fd00:ec2::254", "metadata"},
		{"192.0.2.1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"240.0.0.1", "reserved"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "RFC 1918"},
		{"::ffff:169.254.169.254", "metadata"},
		{"::127.0.0.1", "IPv4-compatible form"},
		{"::8.8.8.8", "IPv4-compatible form"},
		{"::ffff:0:127.0.0.1", "IPv4-translated form"},
		{"64:ff9b::127.0.0.1", "loopback"},
		{"64:ff9b::a9fe:a9fe", "metadata"},
		{"2002:7f00:1::", "loopback"},
		{"2002:c0a8:101::1", "RFC 1918"},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.32.0.1", ""},
	} {
		_, err := p.CheckAddr(netip.MustParseAddr(tt.addr), 443)
		if tt.rule == "" {
			if err != nil {
				t.Errorf("%s: %v; want allowed", tt.addr, err)
			}
			continue
		}
		var re *netpolicy.RefusedError
		if !errors.As(err, &re) || !strings.Contains(re.Rule, tt.rule) {
			t.Errorf("%s: %v; want refused by %q", tt.addr, err, tt.rule)
		}
	}
}

// TestPolicyAllowList checks what each kind of entry lifts, and what it
// does not.
func TestPolicyAllowList(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    netpolicy.Config
		host   string // a name is checked as reached through that name
		addr   string
		port   uint16
		allow  bool
		errHas string
	}{
		{name: "CIDR lifts private", cfg: netpolicy.Config{Allow: []string{"192.168.1.0/24"}}, addr: "192.168.1.10", port: 80, allow: true},
		{name: "CIDR outside", cfg: netpolicy.Config{Allow: []string{"192.168.1.0/24"}}, addr: "192.168.2.10", port: 80, errHas: "--diag-allow 192.168.2.10/32"},
		{name: "address entry", cfg: netpolicy.Config{Allow: []string{"127.0.0.2"}}, addr: "127.0.0.2", port: 80, allow: true},
		{name: "address entry is one address", cfg: netpolicy.Config{Allow: []string{"127.0.0.2"}}, addr: "127.0.0.1", port: 80, errHas: "loopback"},
		{name: "unmasked CIDR is masked", cfg: netpolicy.Config{Allow: []string{"10.77.0.9/24"}}, addr: "10.77.0.200", allow: true},
		{name: "IPv6 CIDR", cfg: netpolicy.Config{Allow: []string{"fd77::/16"}}, addr: "fd77:1::2", allow: true},
		{name: "host:port entry on its port", cfg: netpolicy.Config{Allow: []string{"127.0.0.1:8080"}}, addr: "127.0.0.1", port: 8080, allow: true},
		{name: "host:port entry on another port", cfg: netpolicy.Config{Allow: []string{"127.0.0.1:8080"}}, addr: "127.0.0.1", port: 9090,
			errHas: "the allow-list entry 127.0.0.1:8080 does not cover port 9090; allow it with --diag-allow 127.0.0.1:9090"},
		{name: "CIDR:port", cfg: netpolicy.Config{Allow: []string{"10.0.0.0/24:22"}}, addr: "10.0.0.7", port: 22, allow: true},
		{name: "[v6]:port", cfg: netpolicy.Config{Allow: []string{"[::1]:53"}}, addr: "::1", port: 53, allow: true},
		{name: "mapped form of an allowed address", cfg: netpolicy.Config{Allow: []string{"127.0.0.1/32"}}, addr: "::ffff:127.0.0.1", port: 80, allow: true},
		{name: "name lifts private", cfg: netpolicy.Config{Allow: []string{"nas.lan"}}, host: "nas.lan", addr: "192.168.1.10", port: 443, allow: true},
		{name: "name does not lift loopback", cfg: netpolicy.Config{Allow: []string{"nas.lan"}}, host: "nas.lan", addr: "127.0.0.1", port: 443,
			errHas: "nas.lan resolved to 127.0.0.1, which is loopback (127.0.0.0/8, default deny); the host-name entry nas.lan does not extend to loopback addresses"},
		{name: "name does not lift link-local", cfg: netpolicy.Config{Allow: []string{"nas.lan"}}, host: "nas.lan", addr: "fe80::1", errHas: "link-local"},
		{name: "name does not lift metadata", cfg: netpolicy.Config{Allow: []string{"nas.lan"}}, host: "nas.lan", addr: "169.254.169.254", errHas: "metadata"},
		{name: "other name", cfg: netpolicy.Config{Allow: []string{"nas.lan"}}, host: "evil.lan", addr: "192.168.1.10", port: 443,
			errHas: "allow the name with --diag-allow evil.lan or the address with --diag-allow 192.168.1.10/32"},
		{name: "wildcard", cfg: netpolicy.Config{Allow: []string{"*.home.arpa"}}, host: "nas.home.arpa", addr: "10.0.0.5", allow: true},
		{name: "wildcard is not the apex", cfg: netpolicy.Config{Allow: []string{"*.home.arpa"}}, host: "home.arpa", addr: "10.0.0.5", errHas: "RFC 1918"},
		{name: "wildcard is a label boundary", cfg: netpolicy.Config{Allow: []string{"*.home.arpa"}}, host: "evilhome.arpa", addr: "10.0.0.5", errHas: "RFC 1918"},
		{name: "name entries are case- and dot-insensitive", cfg: netpolicy.Config{Allow: []string{"NAS.Lan."}}, host: "nas.lan", addr: "10.0.0.5", allow: true},
		{name: "IDNA name entry", cfg: netpolicy.Config{Allow: []string{"bücher.lan"}}, host: "xn--bcher-kva.lan", addr: "10.0.0.5", allow: true},
		{name: "metadata needs an exact entry", cfg: netpolicy.Config{Allow: []string{"169.254.0.0/16"}}, addr: "169.254.169.254",
			errHas: "only an entry naming exactly this address allows it: --diag-allow 169.254.169.254/32"},
		{name: "metadata with an exact entry", cfg: netpolicy.Config{Allow: []string{"169.254.169.254/32"}}, addr: "169.254.169.254", allow: true},
		{name: "GCP IPv6 metadata needs an exact entry", cfg: netpolicy.Config{Allow: []string{"fd00::/8"}}, addr: "fd20:ce::254", errHas: "metadata"},
		{name: "name does not lift IPv6 metadata", cfg: netpolicy.Config{Allow: []string{"nas.lan"}}, host: "nas.lan", addr: "fd20:ce::254", errHas: "metadata"},
		{name: "Scaleway IPv6 metadata", cfg: netpolicy.Config{Allow: []string{"fd00::/8"}}, addr: "fd00:42::42", errHas: "metadata"},
		{name: "Scaleway metadata", cfg: netpolicy.Config{Allow: []string{"169.254.0.0/16"}}, addr: "169.254.42.42", errHas: "metadata"},
		{name: "EKS pod identity", cfg: netpolicy.Config{Allow: []string{"169.254.0.0/16"}}, addr: "169.254.170.23", errHas: "metadata"},
		{name: "EKS pod identity over IPv6", cfg: netpolicy.Config{Allow: []string{"fd00::/8"}}, addr: "fd00:ec2::23", errHas: "metadata"},
		{name: "link-local CIDR", cfg: netpolicy.Config{Allow: []string{"169.254.0.0/16"}}, addr: "169.254.10.1", allow: true},
		{name: "unspecified is never allowed", cfg: netpolicy.Config{Allow: []string{"0.0.0.0/0"}}, addr: "0.0.0.0", errHas: "never allowed"},
		{name: "multicast is never allowed", cfg: netpolicy.Config{Allow: []string{"224.0.0.0/4"}}, addr: "224.0.0.1", errHas: "never allowed"},
		{name: "port list refuses other ports", cfg: netpolicy.Config{Ports: []uint16{80, 443}}, addr: "8.8.8.8", port: 8080,
			errHas: "port 8080 of 8.8.8.8 is not on the diagnostics port allow-list (80, 443); allow it with --diag-port 8080, or for this host only with --diag-allow 8.8.8.8:8080"},
		{name: "port list allows its ports", cfg: netpolicy.Config{Ports: []uint16{80, 443}}, addr: "8.8.8.8", port: 443, allow: true},
		{name: "port list does not apply to ICMP", cfg: netpolicy.Config{Ports: []uint16{80}}, addr: "8.8.8.8", port: 0, allow: true},
		{name: "host:port entry passes the port list", cfg: netpolicy.Config{Ports: []uint16{443}, Allow: []string{"nas.lan:8443"}}, host: "nas.lan", addr: "10.0.0.5", port: 8443, allow: true},
		{name: "host-wide entry does not pass the port list", cfg: netpolicy.Config{Ports: []uint16{443}, Allow: []string{"10.0.0.0/8"}}, addr: "10.0.0.5", port: 22, errHas: "port allow-list"},
		{name: "loopback hint with a port list", cfg: netpolicy.Config{Ports: []uint16{443}}, addr: "127.0.0.1", port: 22, errHas: "--diag-allow 127.0.0.1:22"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.addr
			if tt.host != "" { // reached through a name: serve it
				typ := "A"
				if netip.MustParseAddr(tt.addr).Is6() {
					typ = "AAAA"
				}
				dns := policytest.StartDNS(t, "127.0.0.1", policytest.Zone(t, tt.host+". 60 IN "+typ+" "+tt.addr))
				tt.cfg.Resolver, host = dns.Addr, tt.host
			}
			p := mustPolicy(t, tt.cfg)
			d, err := p.Resolve(context.Background(), host, tt.port)
			if tt.allow {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !d.Explicit && tt.cfg.Allow != nil {
					t.Errorf("allowed but not marked explicit")
				}
				return
			}
			if !errors.Is(err, netpolicy.ErrRefused) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("got %v; want a refusal containing %q", err, tt.errHas)
			}
		})
	}
}

func TestPolicyNewRefusesBadEntries(t *testing.T) {
	for _, tt := range []struct {
		cfg    netpolicy.Config
		errHas string
	}{
		{netpolicy.Config{Allow: []string{"192.168.1.0/33"}}, "not a CIDR"},
		{netpolicy.Config{Allow: []string{"2130706433"}}, "dotted-decimal"},
		{netpolicy.Config{Allow: []string{"0x7f.1/32"}}, "not a CIDR"},
		{netpolicy.Config{Allow: []string{"nas.lan:0"}}, "invalid port"},
		{netpolicy.Config{Allow: []string{"nas.lan:99999"}}, "invalid port"},
		{netpolicy.Config{Allow: []string{" nas.lan"}}, "spaces"},
		{netpolicy.Config{Allow: []string{""}}, "empty"},
		{netpolicy.Config{Allow: []string{"fe80::1%eth0"}}, "zone"},
		{netpolicy.Config{Allow: []string{"::ffff:10.0.0.1"}}, "IPv4 form"},
		{netpolicy.Config{Allow: []string{"::ffff:10.0.0.0/104"}}, "IPv4 form"},
		{netpolicy.Config{Allow: []string{"*.10.0.0.1"}}, "wildcard"},
		{netpolicy.Config{Allow: []string{"a_b.lan"}}, "not a valid host name"},
		{netpolicy.Config{Ports: []uint16{0}}, "port 0"},
		{netpolicy.Config{Resolver: "dns.google"}, "not an IP address"},
		{netpolicy.Config{Resolver: "127.0.0.1:0"}, "invalid port"},
	} {
		if _, err := netpolicy.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("New(%+v) = %v; want an error containing %q", tt.cfg, err, tt.errHas)
		}
	}
}

func TestPolicyExplicitlyAllowed(t *testing.T) {
	p := mustPolicy(t, netpolicy.Config{
		Allow: []string{"192.168.1.0/24", "nas.lan", "*.home.arpa", "printer.lan:631", "127.0.0.1:8080", "203.0.113.7"},
		Ports: []uint16{80, 443, 8080},
	})
	for host, want := range map[string]bool{
		"192.168.1.10":            true,
		"192.168.1.10:443":        true,
		"192.168.1.10:22":         false, // the port list refuses 22
		"nas.lan":                 true,
		"NAS.LAN.:443":            true,
		"x.home.arpa:80":          true,
		"home.arpa":               false,
		"printer.lan:631":         true, // the entry's port passes the port list
		"printer.lan:80":          false,
		"printer.lan":             false,
		"127.0.0.1:8080":          true,
		"127.0.0.1:80":            false,
		"127.0.0.1":               false,
		"203.0.113.7:443":         true,
		"8.8.8.8:443":             false, // allowed, but not by an entry
		"example.com:443":         false,
		"2130706433":              false,
		"[::ffff:127.0.0.1]:8080": true,
		"fe80::1%eth0":            false,
	} {
		if got := p.ExplicitlyAllowed(host); got != want {
			t.Errorf("ExplicitlyAllowed(%q) = %v, want %v", host, got, want)
		}
	}
	for u, want := range map[string]bool{
		"http://nas.lan/":                true,
		"https://nas.lan:443/x":          true,
		"http://127.0.0.1:8080/":         true,
		"http://allowed@127.0.0.1:8080/": false,
		"ftp://nas.lan/":                 false,
		"http://example.com/":            false,
		"https://printer.lan:631/":       true,
		"http://[fe80::1%25eth0]:8080/":  false,
		"http://192.168.1.10:22/":        false,
		"http://0x7f.1:8080/":            false,
	} {
		if got := p.ExplicitlyAllowedURL(u); got != want {
			t.Errorf("ExplicitlyAllowedURL(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestPolicyConnectPortsAgreeWithLandlock(t *testing.T) {
	p := mustPolicy(t, netpolicy.Config{})
	if ports, any := p.ConnectPorts(); !any || ports != nil {
		t.Errorf("no port list: ConnectPorts() = %v, %v; want any", ports, any)
	}
	p = mustPolicy(t, netpolicy.Config{Ports: []uint16{443, 80, 443}, Allow: []string{"nas.lan:8443", "10.0.0.0/8", "[::1]:5353"}, Resolver: "127.0.0.1:5300"})
	ports, any := p.ConnectPorts()
	if want := []uint16{53, 80, 443, 5300, 5353, 8443}; any || !slices.Equal(ports, want) {
		t.Errorf("ConnectPorts() = %v, %v; want %v", ports, any, want)
	}
	// Every port the policy can allow is in the list, and a port outside
	// it is refused for a destination with no entry.
	for _, port := range []uint16{80, 443} {
		if _, err := p.CheckAddr(netip.MustParseAddr("8.8.8.8"), port); err != nil {
			t.Errorf("port %d: %v", port, err)
		}
	}
	if _, err := p.CheckAddr(netip.MustParseAddr("8.8.8.8"), 8443); err == nil {
		t.Error("port 8443 allowed for a host without an entry")
	}
}
