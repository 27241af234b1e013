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
