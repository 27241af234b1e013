// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/tailops/tailops/labtest"
)

// TestLocalListenerBindsTailnetAddresses: in local mode a listener on one
// of the host's tailnet addresses takes only what arrives on the
// interface holding it (the attack itself is
// tailnet.TestBindToDeviceRefusesSpoofedPeer); one on another address is
// not bound, and a tailnet address no interface holds is an error.
func TestLocalListenerBindsTailnetAddresses(t *testing.T) {
	ns := labtest.NewNetNS(t)
	labtest.IP(t, "-n", ns, "link", "add", "tailscale0", "type", "veth", "peer", "name", "ts-peer")
	labtest.IP(t, "-n", ns, "link", "set", "tailscale0", "up")
	for _, a := range []string{"100.100.1.1/32", "fd7a:115c:a1e0::5/128"} {
		labtest.IP(t, "-n", ns, "addr", "add", a, "dev", "tailscale0", "nodad")
	}
	for _, tc := range []struct{ addr, dev, err string }{
		{"100.100.1.1:0", "tailscale0", ""},
		{"[fd7a:115c:a1e0::5]:0", "tailscale0", ""},
		{"127.0.0.1:0", "", ""},
		{"100.100.1.2:0", "", "no network interface holds 100.100.1.2"},
	} {
		var s served
		err := labtest.InNetNS(ns, func() (err error) {
			s, err = localListener(context.Background(), tc.addr)
			return err
		})
		if s.ln != nil {
			s.ln.Close()
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error saying %q", tc.addr, err, tc.err)
			}
			continue
		}
		if err != nil || s.dev != tc.dev {
			t.Errorf("%s: interface %q, %v; want %q", tc.addr, s.dev, err, tc.dev)
		}
	}
}
