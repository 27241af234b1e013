// SPDX-License-Identifier: Apache-2.0

package tailnet

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// DeviceOf returns the name of the network interface that holds addr,
// or "" when none does (a tailscaled in userspace-networking mode keeps
// its tailnet addresses on no interface).
func DeviceOf(addr netip.Addr) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("listing network interfaces: %w", err)
	}
	addr = addr.Unmap()
	for _, i := range ifs {
		as, err := i.Addrs()
		if err != nil {
			return "", fmt.Errorf("listing addresses of %s: %w", i.Name, err)
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr {
					return i.Name, nil
				}
			}
		}
	}
	return "", nil
}

// BindToDevice makes the sockets lc opens take only the traffic that
// arrives on the interface named dev (SO_BINDTODEVICE, which needs no
// privilege since Linux 5.7). In local mode the listeners on the host's
// tailnet addresses are bound to the interface that holds them
// (tailscale0): otherwise a process allowed to configure the host's
// network (CAP_NET_ADMIN, as VPN containers have) could put a peer's
// tailnet address on lo, connect from it, and be named that peer by
// WhoIs; tailscaled drops such IPv4 packets, not IPv6 ones.
func BindToDevice(lc *net.ListenConfig, dev string) {
	prev := lc.Control
	lc.Control = func(network, address string, c syscall.RawConn) error {
		if prev != nil {
			if err := prev(network, address, c); err != nil {
				return err
			}
		}
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("binding the socket to interface %s (SO_BINDTODEVICE needs Linux 5.7 or CAP_NET_RAW): %w", dev, serr)
		}
		return nil
	}
}
