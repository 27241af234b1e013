// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"tailscale.com/derp/derpserver"
	"tailscale.com/net/stun/stuntest"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
	"tailscale.com/types/logger"
	"tailscale.com/types/nettype"
)

// runDERPAndSTUN starts a DERP relay (TLS) and a STUN server on ip and
// returns the DERP map naming them, as tailscale.com/tstest/integration's
// RunDERPAndSTUN does. labtest does not import that package: it links all
// of tailscaled's dependencies, some of which (feature/ssh, util/syspolicy)
// do not build with the Tailscale feature tags every TailOps build uses
// (tailscale.tags).
func runDERPAndSTUN(t testing.TB, logf logger.Logf, ip string) *tailcfg.DERPMap {
	t.Helper()
	d := derpserver.New(key.NewNode(), logf)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(derpserver.Handler(d))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ErrorLog = logger.StdLogger(logf)
	srv.Config.TLSNextProto = make(map[string]func(*http.Server, *tls.Conn, http.Handler))
	srv.StartTLS()
	stunAddr, stunCleanup := stuntest.ServeWithPacketListener(t, nettype.Std{})
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		d.Close()
		stunCleanup()
		ln.Close()
	})
	return &tailcfg.DERPMap{Regions: map[int]*tailcfg.DERPRegion{1: {
		RegionID: 1, RegionCode: "test",
		Nodes: []*tailcfg.DERPNode{{
			Name: "t1", RegionID: 1, HostName: ip, IPv4: ip, IPv6: "none",
			STUNPort: stunAddr.Port, DERPPort: ln.Addr().(*net.TCPAddr).Port,
			InsecureForTests: true, STUNTestIP: ip,
		}},
	}}}
}
