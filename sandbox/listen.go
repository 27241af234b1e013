// SPDX-License-Identifier: Apache-2.0

package sandbox

import "net"

// ListenConfig returns the ListenConfig the server opens its listeners
// with: Multipath TCP off. Since Go 1.24 net.Listen tries MPTCP first,
// and Landlock does not cover MPTCP, so a bind that Landlock should
// refuse would succeed. Under the seccomp filter MPTCP sockets cannot be
// created at all (Go then falls back to plain TCP by itself); this keeps
// listeners on plain TCP also where seccomp is missing.
func ListenConfig() *net.ListenConfig {
	lc := &net.ListenConfig{}
	lc.SetMultipathTCP(false)
	return lc
}
