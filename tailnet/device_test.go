// SPDX-License-Identifier: Apache-2.0

package tailnet_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
)

// TestBindToDeviceRefusesSpoofedPeer is the attack on local mode's
// listener: two network namespaces joined by a veth pair stand for the
// host (its v0 holding the host's tailnet addresses, as tailscale0 does)
// and a peer. A process on the host with CAP_NET_ADMIN puts the peer's
// address on lo and connects from it. A listener bound to v0
// (tailnet.BindToDevice) refuses that connection and takes the peer's
// real one; an unbound listener beside it takes both, so the test can
// fail.
func TestBindToDeviceRefusesSpoofedPeer(t *testing.T) {
	host, peer := labtest.NewNetNS(t), labtest.NewNetNS(t)
	labtest.IP(t, "-n", host, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", peer)
	for _, tc := range []struct{ hostAddr, peerAddr, bits string }{
		{"fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", "128"},
		{"100.64.0.1", "100.64.0.2", "32"},
	} {
		t.Run(tc.hostAddr, func(t *testing.T) {
			for _, ns := range []struct{ name, dev, self, other string }{{host, "v0", tc.hostAddr, tc.peerAddr}, {peer, "v1", tc.peerAddr, tc.hostAddr}} {
				labtest.IP(t, "-n", ns.name, "addr", "add", ns.self+"/"+tc.bits, "dev", ns.dev, "nodad")
				labtest.IP(t, "-n", ns.name, "link", "set", ns.dev, "up")
				labtest.IP(t, "-n", ns.name, "route", "add", ns.other+"/"+tc.bits, "dev", ns.dev)
			}
			var bound, open net.Listener
			err := labtest.InNetNS(host, func() error {
				dev, err := tailnet.DeviceOf(netip.MustParseAddr(tc.hostAddr))
				if err != nil || dev != "v0" {
					return fmt.Errorf("DeviceOf(%s) = %q, %v; want v0", tc.hostAddr, dev, err)
				}
				if dev, err := tailnet.DeviceOf(netip.MustParseAddr("fd7a:115c:a1e0::99")); err != nil || dev != "" {
					return fmt.Errorf("DeviceOf(an address no interface holds) = %q, %v; want \"\"", dev, err)
				}
				lc := &net.ListenConfig{}
				tailnet.BindToDevice(lc, dev)
				if bound, err = lc.Listen(context.Background(), "tcp", net.JoinHostPort(tc.hostAddr, "0")); err != nil {
					return err
				}
				open, err = net.Listen("tcp", net.JoinHostPort(tc.hostAddr, "0"))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer bound.Close()
			defer open.Close()
			accepted := map[net.Listener]<-chan string{bound: acceptor(bound), open: acceptor(open)}

			// The peer, through v1 and v0: both listeners take it.
			for _, ln := range []net.Listener{bound, open} {
				if from, err := connect(peer, "", ln, accepted[ln]); err != nil || from != tc.peerAddr {
					t.Errorf("the peer's connection to %s: accepted from %q, %v; want from %s", ln.Addr(), from, err, tc.peerAddr)
				}
			}
			// The spoof: the peer's address on the host's lo.
			labtest.IP(t, "-n", host, "addr", "add", tc.peerAddr+"/"+tc.bits, "dev", "lo")
			defer labtest.IP(t, "-n", host, "addr", "del", tc.peerAddr+"/"+tc.bits, "dev", "lo")
			// Refused without an answer: the reset goes out through v0.
			if from, err := connect(host, tc.peerAddr, bound, accepted[bound]); err == nil {
				t.Errorf("a host process with the peer's address on lo reached the bound listener (accepted from %s)", from)
			}
			if from, err := connect(host, tc.peerAddr, open, accepted[open]); err != nil || from != tc.peerAddr {
				t.Errorf("the spoofed connection to the unbound listener: from %q, %v; the test would not catch a missing bind", from, err)
			}
		})
	}
}

// acceptor hands on the address each connection to ln came from.
func acceptor(ln net.Listener) <-chan string {
	from := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			from <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap().String()
			c.Close()
		}
	}()
	return from
}

// connect dials ln from inside the network namespace ns, from the
// address local when it is not "", and returns the address ln accepted
// the connection from (through accepted, ln's acceptor).
func connect(ns, local string, ln net.Listener, accepted <-chan string) (string, error) {
	err := labtest.InNetNS(ns, func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return "", err
	}
	select {
	case from := <-accepted:
		return from, nil
	case <-time.After(5 * time.Second):
		return "", fmt.Errorf("connected, but %s accepted nothing", ln.Addr())
	}
}
