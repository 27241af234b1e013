// SPDX-License-Identifier: Apache-2.0

package host

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	gphost "github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	psnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/tailops/tailops/tools"
)

// System is the system part of get_inventory: the host and its hardware.
type System struct {
	Identity
	Virtualization string       `json:"virtualization,omitempty" jsonschema_description:"the hypervisor or container system the host runs in, when it runs in one"`
	UptimeSeconds  uint64       `json:"uptime_seconds"`
	CPUModel       string       `json:"cpu_model,omitempty"`
	CPUCount       int          `json:"cpu_count"`
	MemoryBytes    uint64       `json:"memory_bytes"`
	Disks          []DiskStatus `json:"disks"`
}

// Listener is a socket waiting for connections (TCP) or datagrams (UDP).
type Listener struct {
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	PID      int32  `json:"pid,omitempty"`
	Process  string `json:"process,omitempty" jsonschema_description:"the owning process's name, where this server may see it"`
}

// Listening is the listening part of get_inventory.
type Listening struct {
	Listeners []Listener `json:"listeners"`
	Note      string     `json:"note,omitempty"`
}

// maxListeners bounds the listening part.
const maxListeners = 500

// InventoryParts returns the system and listening parts of
// get_inventory, read as get_system_status and get_active_connections
// read.
func (t *Toolset) InventoryParts() []tools.InventoryPart {
	return []tools.InventoryPart{
		{Name: "system", Needs: t.systemNeeds(), Get: func(ctx context.Context) (any, error) { return t.system(t.ctx(ctx)) }},
		{Name: "listening", Tool: "get_active_connections", Needs: t.systemNeeds(), Get: func(ctx context.Context) (any, error) { return listening(t.ctx(ctx)) }},
	}
}

// system reads the host and its hardware.
func (t *Toolset) system(ctx context.Context) (System, error) {
	var s System
	var err error
	if s.Identity, err = identity(ctx, t.static); err != nil {
		return s, err
	}
	if sys, role, err := gphost.VirtualizationWithContext(ctx); err == nil && role == "guest" {
		s.Virtualization = sys
	}
	if s.UptimeSeconds, err = gphost.UptimeWithContext(ctx); err != nil {
		return s, fmt.Errorf("reading uptime: %w", err)
	}
	s.CPUCount, _ = cpu.CountsWithContext(ctx, true)
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		s.CPUModel = infos[0].ModelName
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return s, fmt.Errorf("reading memory: %w", err)
	}
	s.MemoryBytes = vm.Total
	if s.Disks, err = disks(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// listening lists the sockets that wait for connections or datagrams,
// with their process where /proc shows it (another user's processes are
// hidden from a server that runs unprivileged).
func listening(ctx context.Context) (Listening, error) {
	cs, err := psnet.ConnectionsWithContext(ctx, "inet")
	if err != nil {
		return Listening{}, fmt.Errorf("reading sockets: %w", err)
	}
	out := Listening{Listeners: []Listener{}}
	names := map[int32]string{}
	for _, c := range cs {
		udp := c.Type == 2 // SOCK_DGRAM: bound, not connected
		if !(c.Status == "LISTEN" || udp && c.Raddr.IP == "" && c.Laddr.Port != 0) {
			continue
		}
		l := Listener{Protocol: protoName(c.Family, c.Type), Address: addrText(c.Laddr), PID: c.Pid}
		if c.Pid > 0 {
			name, ok := names[c.Pid]
			if !ok {
				if p, err := process.NewProcessWithContext(ctx, c.Pid); err == nil {
					name = processName(ctx, p)
				}
				names[c.Pid] = name
			}
			l.Process = name
		}
		out.Listeners = append(out.Listeners, l)
	}
	slices.SortFunc(out.Listeners, func(a, b Listener) int {
		return strings.Compare(a.Protocol+" "+a.Address, b.Protocol+" "+b.Address)
	})
	out.Listeners = slices.CompactFunc(out.Listeners, func(a, b Listener) bool { return a == b })
	if len(out.Listeners) > maxListeners {
		out.Note = fmt.Sprintf("%d listeners, the first %d shown", len(out.Listeners), maxListeners)
		out.Listeners = out.Listeners[:maxListeners]
	}
	return out, nil
}
