// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"reflect"
	"testing"
)

func TestNeedsMerge(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a, b, want Needs
	}{
		{"both empty", Needs{}, Needs{}, Needs{}},
		{"one side", Needs{Read: []string{"/proc"}, DNS: true}, Needs{}, Needs{Read: []string{"/proc"}, DNS: true}},
		{"union, each once, sorted",
			Needs{Read: []string{"/sys", "/proc"}, Sockets: []string{"/run/docker.sock"}, TCPPorts: []uint16{443}, Syscalls: []string{"statfs"}},
			Needs{Read: []string{"/proc", "/var/lib/dpkg/status"}, TCPPorts: []uint16{53, 443}, AnyTCPPort: true, Netlink: []string{"NETLINK_ROUTE"},
				Capabilities: []string{"CAP_NET_ADMIN"}, Exec: []string{"ping"}, Write: []string{"/var/lib/tailops"}},
			Needs{Read: []string{"/proc", "/sys", "/var/lib/dpkg/status"}, Write: []string{"/var/lib/tailops"}, Sockets: []string{"/run/docker.sock"},
				TCPPorts: []uint16{53, 443}, AnyTCPPort: true, Exec: []string{"ping"}, Syscalls: []string{"statfs"}, Netlink: []string{"NETLINK_ROUTE"},
				Capabilities: []string{"CAP_NET_ADMIN"}}},
	} {
		if got := tc.a.Merge(tc.b); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
