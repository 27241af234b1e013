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

// peerAPINote says where the tsnet engine's peer API listens.
const peerAPINote = "tsnet: the engine's peer API listens only inside its userspace network stack: before the engine starts, " +
	"the server forbids itself new host TCP listeners (a Landlock layer refusing TCP bind, and seccomp refusing MPTCP), so the " +
	"engine's own attempt to listen on 0.0.0.0 (at a port from 32768 up derived from the node's tailnet address) fails and it " +
	"falls back to the userspace stack; no host port is bound but --listen's. With --sandbox off, or best-effort on a kernel " +
	"without Landlock ABI 4 or seccomp, that host listener exists and closes every connection whose source is not a tailnet address"
