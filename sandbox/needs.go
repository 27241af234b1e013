// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"cmp"
	"slices"
)

// Needs are what one grantee (a tool, a prompt, a resource) needs from the
// kernel, as concrete, already-resolved resources: paths as they are on
// this host (a toolset applies host prefixes, HostPaths, before it
// declares them), sockets, ports. The policy is the union of the grants'
// needs and the server's own (Config); nothing else is granted.
type Needs struct {
	// Read are paths read: a directory with everything beneath it, or a
	// file.
	Read []string
	// Write are paths read and written, created, truncated, renamed and
	// removed beneath.
	Write []string
	// Sockets are pathname unix sockets connected to (Landlock ABI 9).
	Sockets []string
	// TCPPorts are TCP ports connected to, on any host (Landlock
	// restricts ports, not hosts).
	TCPPorts []uint16
	// AnyTCPPort connects over TCP to any port: where to is checked by the
	// grantee's own destination policy, not by the kernel.
	AnyTCPPort bool
	// DNS resolves names: TCP port 53 (unless AnyTCPPort), and UDP port 53
	// on Landlock ABI 10 or later.
	DNS bool
	// Exec are binaries executed, by path or by name in PATH; empty means
	// no exec.
	Exec []string
	// Syscalls are syscalls needed beyond the Go runtime's baseline
	// allow-list.
	Syscalls []string
	// Netlink are the netlink protocols sockets are opened for, by their
	// Linux names ("NETLINK_ROUTE"); every other protocol is refused.
	Netlink []string
	// Capabilities are the Linux capabilities needed when TailOps runs
	// with them (as root), by name ("CAP_DAC_READ_SEARCH"); every other
	// one is dropped before serving.
	Capabilities []string
}

// Grant is what the policy grants one grantee: its Needs, and who it is,
// as explain and check show it beside each rule ("tool read_file").
type Grant struct {
	Who   string
	Needs Needs
}

// Merge returns the union of n and o: what a grantee needs that does the
// work of both (get_inventory, which reads through other toolsets' code).
func (n Needs) Merge(o Needs) Needs {
	return Needs{
		Read: union(n.Read, o.Read), Write: union(n.Write, o.Write), Sockets: union(n.Sockets, o.Sockets),
		TCPPorts: union(n.TCPPorts, o.TCPPorts), AnyTCPPort: n.AnyTCPPort || o.AnyTCPPort, DNS: n.DNS || o.DNS,
		Exec: union(n.Exec, o.Exec), Syscalls: union(n.Syscalls, o.Syscalls), Netlink: union(n.Netlink, o.Netlink),
		Capabilities: union(n.Capabilities, o.Capabilities),
	}
}

// union returns the sorted elements of a and b, each once; nil when both
// are empty.
func union[T cmp.Ordered](a, b []T) []T {
	if len(a)+len(b) == 0 {
		return nil
	}
	s := append(slices.Clone(a), b...)
	slices.Sort(s)
	return slices.Compact(s)
}
