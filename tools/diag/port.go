// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/tailops/tailops/netpolicy"
	"github.com/tailops/tailops/tools"
)

// PortArgs is test_port_connectivity's input.
type PortArgs struct {
	Host      string `json:"host" jsonschema_description:"Host name or IP address."`
	Ports     []int  `json:"ports" jsonschema_description:"TCP ports to try, 1 to 64 of them, each 1 to 65535."`
	TimeoutMS *int   `json:"timeout_ms,omitempty" jsonschema_description:"Milliseconds to wait for each connection, 100 to 10000; default 2000. A port that does not answer in time is filtered."`
}

// PortState is one port's outcome.
type PortState struct {
	Port   int     `json:"port"`
	State  string  `json:"state" jsonschema:"enum=open,enum=closed,enum=filtered" jsonschema_description:"open: connected; closed: refused (RST); filtered: no answer in time, or an ICMP unreachable."`
	RTTMS  float64 `json:"rtt_ms" jsonschema_description:"Time to the answer (or the timeout)."`
	Detail string  `json:"detail,omitempty" jsonschema_description:"Why a port is filtered."`
}

// PortResult is test_port_connectivity's output.
type PortResult struct {
	Host     string      `json:"host" jsonschema_description:"The host, as given."`
	Address  string      `json:"address" jsonschema_description:"The address tried."`
	Open     int         `json:"open"`
	Closed   int         `json:"closed"`
	Filtered int         `json:"filtered"`
	Ports    []PortState `json:"ports"`
}

// portParallel bounds concurrent connection attempts.
const portParallel = 16

func (g *diag) testPorts(ctx context.Context, in PortArgs) (PortResult, error) {
	if err := hostArg("host", in.Host); err != nil {
		return PortResult{}, err
	}
	if len(in.Ports) == 0 || len(in.Ports) > 64 {
		return PortResult{}, tools.ArgErrorf("ports", "must list 1 to 64 ports, got %d", len(in.Ports))
	}
	seen := map[int]bool{}
	for _, p := range in.Ports {
		if p < 1 || p > 65535 {
			return PortResult{}, tools.ArgErrorf("ports", "%d is not a port (1 to 65535)", p)
		}
		if seen[p] {
			return PortResult{}, tools.ArgErrorf("ports", "port %d is listed twice", p)
		}
		seen[p] = true
	}
	timeout, err := durationArg("timeout_ms", in.TimeoutMS, 2000, 100, 10000)
	if err != nil {
		return PortResult{}, err
	}
	pol := g.policy
	// Resolved for the first port (an entry with a port allows the host
	// only for its port), then checked for each.
	dest, err := pol.Resolve(ctx, in.Host, uint16(in.Ports[0]))
	if err != nil {
		return PortResult{}, err
	}
	// Every port is checked before any is tried, so a refusal leaves no
	// half-done scan behind.
	dests := make([]*netpolicy.Dest, len(in.Ports))
	for i, p := range in.Ports {
		if dests[i], err = dest.WithPort(uint16(p)); err != nil {
			return PortResult{}, err
		}
	}
	addr := dest.Addrs[0]
	res := PortResult{Host: in.Host, Address: addr.String(), Ports: make([]PortState, len(in.Ports))}
	var wg sync.WaitGroup
	sem := make(chan struct{}, portParallel)
	for i, d := range dests {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res.Ports[i] = probePort(ctx, d, timeout)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return PortResult{}, fmt.Errorf("testing ports of %s: %w", addr, err)
	}
	for _, p := range res.Ports {
		switch p.State {
		case "open":
			res.Open++
		case "closed":
			res.Closed++
		default:
			res.Filtered++
		}
	}
	return res, nil
}

// probePort tries one TCP connection to d's first address.
func probePort(ctx context.Context, d *netpolicy.Dest, timeout time.Duration) PortState {
	st := PortState{Port: int(d.Port)}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	c, err := d.DialAddr(cctx, "tcp", d.Addrs[0])
	st.RTTMS = ms(time.Since(start))
	var ne net.Error
	switch {
	case err == nil:
		c.Close()
		st.State = "open"
	case errors.Is(err, syscall.ECONNREFUSED):
		st.State = "closed"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		st.State, st.Detail = "filtered", fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, syscall.EHOSTUNREACH):
		st.State, st.Detail = "filtered", "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		st.State, st.Detail = "filtered", "network unreachable"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		st.State, st.Detail = "filtered", "permission denied on this host (a local firewall rule or the sandbox)"
	default:
		st.State, st.Detail = "filtered", err.Error()
	}
	return st
}
