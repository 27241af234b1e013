// SPDX-License-Identifier: Apache-2.0

package tailnet

import (
	"net"
	"time"
)

// NewHostAddrsFrom is NewHostAddrs listing interfaces with list.
func NewHostAddrsFrom(list func() ([]net.Addr, error)) *HostAddrs {
	h := &HostAddrs{list: list}
	h.refresh(time.Now())
	return h
}

// RefreshNow lists the interfaces again at once.
func (h *HostAddrs) RefreshNow() { h.refresh(time.Now()) }
