// SPDX-License-Identifier: Apache-2.0

// Package sandbox confines the TailOps process with Landlock and seccomp,
// so that even a bug in TailOps' own checks cannot read /etc/shadow, exec
// a shell or bind a port it does not serve on.
//
// The policy is computed, never kept by hand: [Compute] takes the enabled
// tools' [tools.Needs] plus the server configuration and derives every
// readable and writable path, every TCP port and every allowed syscall
// from them. [Policy.Explain] prints it; [Apply] makes the process (all of
// its threads) restrict itself, irreversibly; [Check] applies a policy and
// then attacks itself to show that what must be refused is refused.
//
// The order in the server is: read the configuration, open listeners,
// sockets and files, then [Apply], then serve. Listeners should come from
// [ListenConfig], which turns Multipath TCP off: Landlock does not cover
// MPTCP, and the seccomp filter refuses MPTCP sockets outright.
//
// Landlock and seccomp need Linux; on other systems [Apply] in enforce
// mode fails and [Supported] reports nothing.
package sandbox
