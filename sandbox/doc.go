// SPDX-License-Identifier: Apache-2.0

// Package sandbox confines the TailOps process with Landlock and seccomp,
// so that even a bug in TailOps' own checks cannot read /etc/shadow, exec
// a shell or bind a port it does not serve on.
//
// The policy is computed, never kept by hand: [Compute] takes a list of
// [Grant]s, each the concrete [Needs] of one grantee (a tool, say: paths,
// unix sockets, TCP ports or any port, exec, syscalls, netlink protocols,
// capabilities), plus the server's own needs ([Config]), and derives
// every readable and writable path, every TCP port, every allowed syscall
// and netlink protocol, and the capabilities kept from them. The package
// knows nothing of what a grantee is: it imports no other TailOps package,
// and reads no environment ([Config] carries what it needs of it). [Policy.Explain]
// prints it and writes nothing; [Apply] makes the process (all of its
// threads) drop every other capability and restrict itself,
// irreversibly; [Check] applies a policy and then attacks itself to show
// that what must be refused is refused.
//
// The order in the server is: read the configuration, open listeners,
// sockets and files, then [Apply], then serve. A server that runs the
// Tailscale engine in process calls [NoNewTCPListeners] once its own
// listeners are open and before the engine starts. Listeners should come from
// [ListenConfig], which turns Multipath TCP off: Landlock does not cover
// MPTCP, and the seccomp filter refuses MPTCP sockets outright.
//
// To have a process outside the sandbox to signal, Check starts a copy of
// the running binary with the command line "tailops-sandbox-check-target"
// (argv[0], no arguments); any binary that links this package, started
// so, only waits for its standard input to close.
//
// Landlock and seccomp need Linux; on other systems [Apply] in enforce
// mode fails and [Supported] reports nothing.
package sandbox
