// SPDX-License-Identifier: Apache-2.0

package tailnet

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"tailscale.com/net/tsaddr"
)

// hostAddrsEvery is how often HostAddrs lists the interfaces again.
const hostAddrsEvery = 10 * time.Second

// HostAddrs are this host's own addresses in Tailscale's ranges: those of
// a tailscaled running beside a tsnet server, on its kernel interface
// (tailscale0). A connection from one of that node's addresses may come
// from any process or container on this host, which the node carries
// into the tailnet under its owner's identity; Identify refuses it.
// Listing interfaces needs a netlink socket, which the kernel sandbox may
// deny: the last list made stays in use, the first one made before the
// sandbox is applied (NewHostAddrs).
type HostAddrs struct {
	mu    sync.Mutex
	addrs []netip.Addr
	at    time.Time
	list  func() ([]net.Addr, error)
}

// NewHostAddrs lists the host's interfaces once, now.
func NewHostAddrs() *HostAddrs {
	h := &HostAddrs{list: net.InterfaceAddrs}
	h.refresh(time.Now())
	return h
}

// Contains reports whether a is one of the host's own Tailscale addresses.
func (h *HostAddrs) Contains(a netip.Addr) bool {
	now := time.Now()
	h.mu.Lock()
	if now.Sub(h.at) >= hostAddrsEvery {
		h.mu.Unlock()
		h.refresh(now)
		h.mu.Lock()
	}
	defer h.mu.Unlock()
	return slices.Contains(h.addrs, a.Unmap())
}

// refresh lists the interfaces; on failure the last list stays.
func (h *HostAddrs) refresh(now time.Time) {
	as, err := h.list()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = now
	if err != nil {
		return
	}
	var out []netip.Addr
	for _, a := range as {
		p, err := netip.ParsePrefix(a.String())
		if err == nil && tsaddr.IsTailscaleIP(p.Addr().Unmap()) {
			out = append(out, p.Addr().Unmap())
		}
	}
	h.addrs = out
}
