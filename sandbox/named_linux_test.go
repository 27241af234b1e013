// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestNamedNumbersMatchTheKernel: the portable tables of capability and
// netlink protocol numbers agree with golang.org/x/sys/unix's.
func TestNamedNumbersMatchTheKernel(t *testing.T) {
	for name, want := range map[string]int{
		"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
		"CAP_SETPCAP": unix.CAP_SETPCAP, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
		"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
		"CAP_SETFCAP": unix.CAP_SETFCAP, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ, "CAP_PERFMON": unix.CAP_PERFMON,
		"CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
	} {
		if got, ok := capabilityNumber(name); !ok || got != want {
			t.Errorf("%s = %d, %v; want %d", name, got, ok, want)
		}
	}
	if len(capabilityNames) != unix.CAP_LAST_CAP+1 {
		t.Errorf("%d capability names, want %d", len(capabilityNames), unix.CAP_LAST_CAP+1)
	}
	for name, want := range map[string]int{
		"NETLINK_ROUTE": unix.NETLINK_ROUTE, "NETLINK_SOCK_DIAG": unix.NETLINK_SOCK_DIAG, "NETLINK_AUDIT": unix.NETLINK_AUDIT,
		"NETLINK_NETFILTER": unix.NETLINK_NETFILTER, "NETLINK_KOBJECT_UEVENT": unix.NETLINK_KOBJECT_UEVENT,
		"NETLINK_GENERIC": unix.NETLINK_GENERIC, "NETLINK_XFRM": unix.NETLINK_XFRM, "NETLINK_CONNECTOR": unix.NETLINK_CONNECTOR,
		"NETLINK_SMC": unix.NETLINK_SMC, "NETLINK_CRYPTO": unix.NETLINK_CRYPTO, "NETLINK_RDMA": unix.NETLINK_RDMA,
	} {
		if got := netlinkProtocols[name]; got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}
