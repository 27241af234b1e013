// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		name string
		ifs  []Iface
		want string // substring of the error; "" for none
	}{
		{name: "lo only", ifs: []Iface{{Name: "lo", Addrs: []string{"127.0.0.1/8", "::1/128"}}}},
		{name: "another interface without address", ifs: []Iface{{Name: "lo", Addrs: []string{"127.0.0.1/8"}}, {Name: "v1"}}},
		{name: "eth0 with an address", ifs: []Iface{{Name: "lo", Addrs: []string{"127.0.0.1/8"}}, {Name: "eth0", Addrs: []string{"10.0.0.5/24"}}},
			want: "interface eth0 (10.0.0.5/24) has an address"},
		{name: "only a link-local address", ifs: []Iface{{Name: "lo", Addrs: []string{"127.0.0.1/8"}}, {Name: "wlan0", Addrs: []string{"fe80::1/64"}}},
			want: "wlan0"},
		{name: "lo down", ifs: []Iface{{Name: "lo"}}, want: "lo has no address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loopbackOnly(tt.ifs)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

const checkChildEnv = "LABTEST_CHECK_LOOPBACK_CHILD"

// TestCheckLoopbackOnlyInNamespaces runs CheckLoopbackOnly in fresh
// network namespaces: with only lo up it passes; with a veth interface
// that has an address, or with lo down, it refuses.
func TestCheckLoopbackOnlyInNamespaces(t *testing.T) {
	if os.Getenv(checkChildEnv) != "" {
		if err := CheckLoopbackOnly(); err != nil {
			fmt.Println("CHECK: refused:", err)
		} else {
			fmt.Println("CHECK: ok")
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root (unshare -n)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, setup, want string
	}{
		{"lo only", "ip link set lo up", "CHECK: ok"},
		{"veth with an address", "ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 10.99.0.1/24 dev v0",
			"CHECK: refused: refusing to start a Tailscale node: interface v0 (10.99.0.1/24) has an address"},
		{"lo down", "true", "CHECK: refused: refusing to start a Tailscale node: lo has no address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("unshare", "--net", "--", "/bin/sh", "-c", tt.setup+` && exec "$@"`, "sh",
				self, "-test.run=^TestCheckLoopbackOnlyInNamespaces$", "-test.count=1")
			cmd.Env = append(os.Environ(), checkChildEnv+"=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("child said:\n%s\nwant %q", out, tt.want)
			}
		})
	}
}
