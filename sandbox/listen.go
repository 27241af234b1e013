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

// engineListenNote says why the tsnet engine opens no host listener.
const engineListenNote = "tsnet: the engine opens no host TCP listener: TailOps is built without Tailscale's peer API server " +
	"(ts_omit_peerapiserver), and before the engine starts the server forbids itself new host TCP listeners (a Landlock layer " +
	"refusing TCP bind, and seccomp refusing MPTCP); no host port is bound but --listen's"
