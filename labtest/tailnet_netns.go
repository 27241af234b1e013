// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// netnsEnv marks a test binary that ReexecInLoopbackNetNS already moved
// into a namespace of its own.
const netnsEnv = "TAILOPS_LABTEST_LOOPBACK_NETNS"

// TailnetEnv is the environment every Tailscale node of a test runs with,
// set by ReexecInLoopbackNetNS for the test binary and inherited by the
// processes it starts (tailscaled, the tailops binary):
//
//   - TS_DISABLE_PORTMAPPER=1: no UPnP, NAT-PMP or PCP probes of a gateway;
//   - TS_NO_LOGS_NO_SUPPORT=true: no log upload to log.tailscale.com;
//   - TS_ASSUME_NETWORK_UP_FOR_TEST=1: a namespace with only loopback has
//     no default route, and without this a node outside `go test` would
//     think it is offline and never talk to the (local) control server.
var TailnetEnv = []string{
	"TS_DISABLE_PORTMAPPER=1",
	"TS_NO_LOGS_NO_SUPPORT=true",
	"TS_ASSUME_NETWORK_UP_FOR_TEST=1",
}

// ReexecInLoopbackNetNS makes the test binary run in a network namespace
// that has only loopback. Call it first thing in TestMain of a package
// whose tests start Tailscale nodes:
//
//	func TestMain(m *testing.M) {
//		labtest.ReexecInLoopbackNetNS()
//		os.Exit(m.Run())
//	}
//
// Outside such a namespace it replaces the process with `unshare -n`
// running `ip link set lo up` and then the same test binary with the same
// arguments and TailnetEnv, so it never returns there. Inside, it checks
// that no interface but lo has an address and returns. It exits the
// process with a message when it cannot do either (not root, unshare or
// ip missing, an interface with an address in the namespace). We run as
// root; unshare needs CAP_SYS_ADMIN.
func ReexecInLoopbackNetNS() {
	if os.Getenv(netnsEnv) == "1" {
		if err := CheckLoopbackOnly(); err != nil {
			fmt.Fprintln(os.Stderr, "labtest:", err)
			os.Exit(1)
		}
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "labtest: moving the test binary into a loopback-only network namespace:", err)
		os.Exit(1)
	}
	if os.Geteuid() != 0 {
		fail(errors.New("needs root (unshare -n); the tests that start Tailscale nodes must run inside a namespace with only loopback"))
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fail(fmt.Errorf("%w; install util-linux", err))
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		fail(fmt.Errorf("%w; install iproute2", err))
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	// sh -c 'IP link set lo up && exec "$@"' sh SELF ARGS...
	argv := append([]string{unshare, "--net", "--", "/bin/sh", "-c", ip + ` link set lo up && exec "$@"`, "sh", self}, os.Args[1:]...)
	env := append(os.Environ(), netnsEnv+"=1")
	env = append(env, TailnetEnv...)
	fail(syscall.Exec(unshare, argv, env))
}

// Iface is a network interface and its addresses, as CheckLoopbackOnly
// sees it.
type Iface struct {
	Name  string
	Addrs []string
}

// CheckLoopbackOnly returns an error unless every network interface
// other than lo is without addresses: the only network a Tailscale node
// of a test may see is loopback, so that nothing can reach a real
// Tailscale service, a gateway, or anything else off the machine.
func CheckLoopbackOnly() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("listing network interfaces: %w", err)
	}
	var list []Iface
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			return fmt.Errorf("listing addresses of %s: %w", i.Name, err)
		}
		e := Iface{Name: i.Name}
		for _, a := range addrs {
			e.Addrs = append(e.Addrs, a.String())
		}
		list = append(list, e)
	}
	return loopbackOnly(list)
}

// loopbackOnly is CheckLoopbackOnly on a given list of interfaces.
func loopbackOnly(ifs []Iface) error {
	var bad []string
	lo := false
	for _, i := range ifs {
		if i.Name == "lo" {
			lo = len(i.Addrs) > 0
			continue
		}
		if len(i.Addrs) > 0 {
			bad = append(bad, fmt.Sprintf("%s (%s)", i.Name, strings.Join(i.Addrs, ", ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("refusing to start a Tailscale node: interface %s has an address; tests that start nodes must run in a network namespace with only loopback (ReexecInLoopbackNetNS, or unshare -n)",
			strings.Join(bad, ", "))
	}
	if !lo {
		return errors.New("refusing to start a Tailscale node: lo has no address (is it up? ip link set lo up)")
	}
	return nil
}
