// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"io"
	"net"
	"testing"
)

// RelayToUnix copies each connection ln accepts to the unix socket sock,
// until the test ends, and returns ln's address: a daemon's socket
// reached over TCP (or TLS, with a tls.NewListener), as a remote API
// would be.
func RelayToUnix(t testing.TB, ln net.Listener, sock string) string {
	t.Helper()
	return relay(t, ln, "unix", sock)
}

// relay copies each connection ln accepts to addr on network, until the
// test ends, and returns ln's address.
func relay(t testing.TB, ln net.Listener, network, addr string) string {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				u, err := net.Dial(network, addr)
				if err != nil {
					c.Close()
					return
				}
				// Whichever side ends first ends both.
				go func() { io.Copy(u, c); u.Close(); c.Close() }()
				io.Copy(c, u)
				c.Close()
				u.Close()
			}()
		}
	}()
	return ln.Addr().String()
}
