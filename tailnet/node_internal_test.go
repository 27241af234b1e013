// SPDX-License-Identifier: Apache-2.0

package tailnet

import (
	"net/netip"
	"slices"
	"testing"

	"tailscale.com/ipn/ipnstate"
)

// TestHTTPSAndHostNames: HTTPS only when the tailnet gives the node a
// certificate name (MagicDNS and HTTPS on), and the Host names accepted
// are the node's addresses and names.
func TestHTTPSAndHostNames(t *testing.T) {
	ips := []netip.Addr{netip.MustParseAddr("100.64.0.5"), netip.MustParseAddr("fd7a:115c:a1e0::5")}
	tests := []struct {
		name      string
		mode      Mode
		st        *ipnstate.Status
		wantHTTPS bool
		wantHosts []string
	}{
		{name: "no MagicDNS", mode: ModeTSNet, st: &ipnstate.Status{TailscaleIPs: ips},
			wantHosts: []string{"100.64.0.5", "fd7a:115c:a1e0::5"}},
		{name: "MagicDNS without HTTPS", mode: ModeTSNet, st: &ipnstate.Status{TailscaleIPs: ips,
			CurrentTailnet: &ipnstate.TailnetStatus{MagicDNSEnabled: true},
			Self:           &ipnstate.PeerStatus{DNSName: "Ops-Box.tail1234.ts.net.", HostName: "ops-box"}},
			wantHosts: []string{"100.64.0.5", "fd7a:115c:a1e0::5", "ops-box.tail1234.ts.net", "ops-box"}},
		{name: "MagicDNS and HTTPS", mode: ModeTSNet, st: &ipnstate.Status{TailscaleIPs: ips,
			CurrentTailnet: &ipnstate.TailnetStatus{MagicDNSEnabled: true}, CertDomains: []string{"ops-box.tail1234.ts.net"},
			Self: &ipnstate.PeerStatus{DNSName: "ops-box.tail1234.ts.net."}},
			wantHTTPS: true, wantHosts: []string{"100.64.0.5", "fd7a:115c:a1e0::5", "ops-box.tail1234.ts.net", "ops-box"}},
		{name: "local mode serves HTTP itself", mode: ModeLocal, st: &ipnstate.Status{TailscaleIPs: ips,
			CurrentTailnet: &ipnstate.TailnetStatus{MagicDNSEnabled: true}, CertDomains: []string{"host.tail1234.ts.net"},
			Self: &ipnstate.PeerStatus{DNSName: "host.tail1234.ts.net."}},
			wantHosts: []string{"100.64.0.5", "fd7a:115c:a1e0::5", "host.tail1234.ts.net", "host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &Node{mode: tt.mode, status: tt.st}
			if got := n.HTTPS(); got != tt.wantHTTPS {
				t.Errorf("HTTPS() = %v, want %v", got, tt.wantHTTPS)
			}
			if got := n.HostNames(); !slices.Equal(got, tt.wantHosts) {
				t.Errorf("HostNames() = %q, want %q", got, tt.wantHosts)
			}
		})
	}
}

// TestDialerFor: only a tsnet node dials for itself, and only hosts of
// its tailnet (its addresses' ranges, names under its MagicDNS suffix);
// everything else goes through the host's dialer (nil).
func TestDialerFor(t *testing.T) {
	st := &ipnstate.Status{CurrentTailnet: &ipnstate.TailnetStatus{MagicDNSSuffix: "tail1234.ts.net"}}
	tsnetNode := &Node{mode: ModeTSNet, ts: new(tsServer), status: st}
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"idp.tail1234.ts.net", true},
		{"IDP.Tail1234.TS.net.", true},
		{"100.64.0.7", true},
		{"fd7a:115c:a1e0::7", true},
		{"[fd7a:115c:a1e0::7]", true},
		{"tail1234.ts.net", false},
		{"idp.other5678.ts.net", false},
		{"idp.tail1234.ts.net.evil.example", false},
		{"eviltail1234.ts.net", false},
		{"idp.example.com", false},
		{"127.0.0.1", false},
		{"10.0.0.7", false},
		{"::ffff:100.64.0.7", true},
		{"", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			if got := tsnetNode.DialerFor(tc.host) != nil; got != tc.want {
				t.Errorf("tsnet: DialerFor(%q) is the node's: %v, want %v", tc.host, got, tc.want)
			}
			local := &Node{mode: ModeLocal, status: st}
			if local.DialerFor(tc.host) != nil {
				t.Errorf("local: DialerFor(%q) is not the host's", tc.host)
			}
		})
	}
	var none *Node
	if none.DialerFor("idp.tail1234.ts.net") != nil {
		t.Error("no node: DialerFor is not the host's")
	}
	noSuffix := &Node{mode: ModeTSNet, ts: new(tsServer), status: &ipnstate.Status{}}
	if noSuffix.DialerFor("idp.ts.net") != nil {
		t.Error("a tailnet without MagicDNS suffix: a name is dialled through the node")
	}
}
