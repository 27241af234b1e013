// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/tools"
)

// TraceroutePort is the UDP port traceroute's probes go to, the first
// port classic traceroute uses: nothing listens there, so the destination
// answers with ICMP port unreachable. Every probe goes from a socket of
// its own, so one port is enough to tell probes apart; a sandbox that
// restricts UDP (Landlock ABI 10) must allow sending to it.
const TraceroutePort = 33434

// traceMaxDuration bounds a whole trace.
const traceMaxDuration = 3 * time.Minute

// TracerouteArgs is traceroute's input.
type TracerouteArgs struct {
	Host         string `json:"host" jsonschema_description:"Host name or IP address to trace the route to."`
	MaxHops      *int   `json:"max_hops,omitempty" jsonschema_description:"Largest TTL to probe, 1 to 64; default 30."`
	Probes       *int   `json:"probes,omitempty" jsonschema_description:"Probes per hop, 1 to 5; default 3."`
	TimeoutMS    *int   `json:"timeout_ms,omitempty" jsonschema_description:"Milliseconds to wait for each probe's answer, 100 to 5000; default 1000."`
	ResolveNames *bool  `json:"resolve_names,omitempty" jsonschema_description:"Look up each hop's name (PTR) with the configured resolver; default true."`
}

// TraceProbe is one probe's outcome.
type TraceProbe struct {
	Address string  `json:"address,omitempty" jsonschema_description:"Who answered; empty when nobody did in time."`
	RTTMS   float64 `json:"rtt_ms,omitempty"`
	Timeout bool    `json:"timeout,omitempty" jsonschema_description:"No answer in time."`
	Note    string  `json:"note,omitempty" jsonschema_description:"reached (the destination answered), or why it is unreachable: !N network, !H host, !P protocol, !X administratively prohibited, !<code>."`
}

// TraceHop is one TTL's probes.
type TraceHop struct {
	TTL     int          `json:"ttl"`
	Address string       `json:"address,omitempty" jsonschema_description:"The first address that answered at this TTL."`
	Name    string       `json:"name,omitempty" jsonschema_description:"The address's PTR name, when it has one."`
	RTTsMS  []float64    `json:"rtts_ms" jsonschema_description:"Round-trip times of the probes that were answered."`
	Probes  []TraceProbe `json:"probes"`
}

// TracerouteResult is traceroute's output.
type TracerouteResult struct {
	Host       string     `json:"host" jsonschema_description:"The host, as given."`
	Address    string     `json:"address" jsonschema_description:"The address traced to."`
	Method     string     `json:"method" jsonschema_description:"How probes were sent."`
	Reached    bool       `json:"reached" jsonschema_description:"The destination answered."`
	Stopped    string     `json:"stopped,omitempty" jsonschema_description:"Why the trace ended before the destination or max_hops, if it did."`
	Hops       []TraceHop `json:"hops"`
	DurationMS float64    `json:"duration_ms" jsonschema_description:"How long the trace took."`
}

func (g *diag) traceroute(ctx context.Context, in TracerouteArgs) (TracerouteResult, error) {
	if err := hostArg("host", in.Host); err != nil {
		return TracerouteResult{}, err
	}
	maxHops, err := tools.IntArg("max_hops", in.MaxHops, 30, 1, 64)
	if err != nil {
		return TracerouteResult{}, err
	}
	probes, err := tools.IntArg("probes", in.Probes, 3, 1, 5)
	if err != nil {
		return TracerouteResult{}, err
	}
	timeout, err := durationArg("timeout_ms", in.TimeoutMS, 1000, 100, 5000)
	if err != nil {
		return TracerouteResult{}, err
	}
	pol := g.policy
	// Probes are meant to be refused, so the port allow-list does not
	// apply: the destination is checked like ping's, without a port.
	dest, err := pol.Resolve(ctx, in.Host, 0)
	if err != nil {
		return TracerouteResult{}, err
	}
	addr := dest.Addrs[0]
	start := time.Now()
	res := TracerouteResult{Host: in.Host, Address: addr.String(), Hops: []TraceHop{},
		Method: fmt.Sprintf("UDP to port %d with IP_RECVERR (unprivileged)", TraceroutePort)}
	tctx, cancel := context.WithTimeout(ctx, traceMaxDuration)
	defer cancel()
	for ttl := 1; ttl <= maxHops && !res.Reached && res.Stopped == ""; ttl++ {
		hop := TraceHop{TTL: ttl, RTTsMS: []float64{}, Probes: []TraceProbe{}}
		for range probes {
			pr, err := traceProbe(tctx, addr, ttl, timeout)
			if err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("tracing the route to %s: %w", addr, ctx.Err())
				}
				if tctx.Err() != nil {
					res.Stopped = fmt.Sprintf("the trace took longer than %s", traceMaxDuration)
					break
				}
				return res, fmt.Errorf("tracing the route to %s (TTL %d): %w", addr, ttl, err)
			}
			if pr.Address != "" {
				hop.RTTsMS = append(hop.RTTsMS, pr.RTTMS)
				if hop.Address == "" {
					hop.Address = pr.Address
				}
			}
			switch {
			case pr.Note == "reached":
				res.Reached = true
			case strings.HasPrefix(pr.Note, "!") && pr.Address == "":
				res.Stopped = fmt.Sprintf("this host has no route to the destination (%s)", pr.Note)
			case strings.HasPrefix(pr.Note, "!"):
				res.Stopped = fmt.Sprintf("%s reported the destination unreachable (%s)", pr.Address, pr.Note)
			}
			hop.Probes = append(hop.Probes, pr)
		}
		res.Hops = append(res.Hops, hop)
	}
	if in.ResolveNames == nil || *in.ResolveNames {
		names := map[string]string{}
		for i := range res.Hops {
			h := &res.Hops[i]
			if h.Address == "" {
				continue
			}
			if _, ok := names[h.Address]; !ok {
				nctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				names[h.Address] = pol.ReverseName(nctx, netip.MustParseAddr(h.Address))
				cancel()
			}
			h.Name = names[h.Address]
		}
	}
	res.DurationMS = ms(time.Since(start))
	return res, nil
}

// traceProbe sends one UDP probe to a with the given TTL from a socket of
// its own and waits for the ICMP error (or, rarely, a UDP answer) it
// causes. A probe nobody answers is a TraceProbe with Timeout set; the
// error is for failures of the socket itself.
func traceProbe(ctx context.Context, a netip.Addr, ttl int, timeout time.Duration) (TraceProbe, error) {
	family, level, recvErr, hops := unix.AF_INET, unix.IPPROTO_IP, unix.IP_RECVERR, unix.IP_TTL
	var sa unix.Sockaddr
	if a.Is4() {
		sa = &unix.SockaddrInet4{Port: TraceroutePort, Addr: a.As4()}
	} else {
		family, level, recvErr, hops = unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, unix.IPV6_UNICAST_HOPS
		sa = &unix.SockaddrInet6{Port: TraceroutePort, Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return TraceProbe{}, fmt.Errorf("opening a UDP socket: %w", err)
	}
	defer unix.Close(fd)
	for _, o := range []struct{ opt, v int }{{recvErr, 1}, {hops, ttl}} {
		if err := unix.SetsockoptInt(fd, level, o.opt, o.v); err != nil {
			return TraceProbe{}, fmt.Errorf("setting socket options: %w", err)
		}
	}
	// a is one of the addresses the policy checked; connect pins the
	// socket to it.
	if err := unix.Connect(fd, sa); err != nil {
		if pr, ok := localUnreachable(err); ok {
			return pr, nil
		}
		return TraceProbe{}, fmt.Errorf("connecting the probe socket: %w", err)
	}
	sent := time.Now()
	deadline := sent.Add(timeout)
	if _, err := unix.Write(fd, []byte("tailops traceroute probe")); err != nil {
		if pr, ok := localUnreachable(err); ok {
			return pr, nil
		}
		return TraceProbe{}, fmt.Errorf("sending the probe: %w", err)
	}
	buf, oob := make([]byte, 512), make([]byte, 512)
	for {
		if err := ctx.Err(); err != nil {
			return TraceProbe{}, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return TraceProbe{Timeout: true}, nil
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}}
		n, err := unix.Poll(fds, int(min(left, 100*time.Millisecond)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return TraceProbe{}, fmt.Errorf("waiting for the answer: %w", err)
		}
		if n == 0 {
			continue
		}
		rtt := ms(time.Since(sent))
		if fds[0].Revents&unix.POLLERR != 0 {
			_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_ERRQUEUE)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) {
					continue
				}
				return TraceProbe{}, fmt.Errorf("reading the ICMP error: %w", err)
			}
			if pr, ok := parseRecvErr(oob[:oobn]); ok {
				pr.RTTMS = rtt
				return pr, nil
			}
			continue
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			// The destination runs something on the probe port and answered.
			if _, err := unix.Read(fd, buf); err == nil {
				return TraceProbe{Address: a.String(), RTTMS: rtt, Note: "reached"}, nil
			}
		}
	}
}

// localUnreachable turns an immediate send error (no route) into a probe
// outcome.
func localUnreachable(err error) (TraceProbe, bool) {
	switch {
	case errors.Is(err, unix.ENETUNREACH):
		return TraceProbe{Note: "!N"}, true
	case errors.Is(err, unix.EHOSTUNREACH):
		return TraceProbe{Note: "!H"}, true
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return TraceProbe{Note: "!X"}, true
	}
	return TraceProbe{}, false
}

// Values from linux/errqueue.h.
const (
	soEEOriginICMP  = 2
	soEEOriginICMP6 = 3
	sizeofExtErr    = 16 // struct sock_extended_err
)

// parseRecvErr reads the IP_RECVERR or IPV6_RECVERR control message: the
// ICMP type and code, and the offender's address, which follows struct
// sock_extended_err.
func parseRecvErr(oob []byte) (TraceProbe, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return TraceProbe{}, false
	}
	for _, m := range msgs {
		v4 := m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR
		v6 := m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if (!v4 && !v6) || len(m.Data) < sizeofExtErr {
			continue
		}
		origin, typ, code := m.Data[4], m.Data[5], m.Data[6]
		if origin != soEEOriginICMP && origin != soEEOriginICMP6 {
			continue // a local error (EMSGSIZE...), not an answer
		}
		var from netip.Addr
		off := m.Data[sizeofExtErr:]
		if len(off) >= 2 {
			switch binary.NativeEndian.Uint16(off) {
			case unix.AF_INET:
				if len(off) >= 8 {
					from = netip.AddrFrom4([4]byte(off[4:8]))
				}
			case unix.AF_INET6:
				if len(off) >= 24 {
					from = netip.AddrFrom16([16]byte(off[8:24])).Unmap()
				}
			}
		}
		pr := TraceProbe{Address: from.String()}
		if !from.IsValid() {
			pr.Address = ""
		}
		if origin == soEEOriginICMP {
			switch {
			case typ == 11: // time exceeded
			case typ == 3 && code == 3: // port unreachable
				pr.Note = "reached"
			case typ == 3:
				pr.Note = unreachNote(map[uint8]string{0: "!N", 1: "!H", 2: "!P", 9: "!X", 10: "!X", 13: "!X"}, code)
			default:
				continue
			}
		} else {
			switch {
			case typ == 3: // time exceeded
			case typ == 1 && code == 4: // port unreachable
				pr.Note = "reached"
			case typ == 1:
				pr.Note = unreachNote(map[uint8]string{0: "!N", 1: "!X", 3: "!H", 5: "!X", 6: "!X"}, code)
			default:
				continue
			}
		}
		return pr, true
	}
	return TraceProbe{}, false
}

func unreachNote(notes map[uint8]string, code uint8) string {
	if n, ok := notes[code]; ok {
		return n
	}
	return fmt.Sprintf("!%d", code)
}

func tracerouteText(r TracerouteResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "traceroute to %s (%s), %s\n", r.Host, r.Address, r.Method)
	for _, h := range r.Hops {
		fmt.Fprintf(&b, "%2d ", h.TTL)
		if h.Address == "" {
			b.WriteString(" no reply")
		} else if h.Name != "" {
			fmt.Fprintf(&b, " %s (%s)", h.Name, h.Address)
		} else {
			fmt.Fprintf(&b, " %s", h.Address)
		}
		for _, p := range h.Probes {
			switch {
			case p.Timeout:
				b.WriteString("  *")
			default:
				fmt.Fprintf(&b, "  %.3f ms", p.RTTMS)
				if p.Address != "" && p.Address != h.Address {
					fmt.Fprintf(&b, " (%s)", p.Address)
				}
				if strings.HasPrefix(p.Note, "!") {
					b.WriteString(" " + p.Note)
				}
			}
		}
		b.WriteString("\n")
	}
	switch {
	case r.Reached:
		fmt.Fprintf(&b, "reached %s\n", r.Address)
	case r.Stopped != "":
		fmt.Fprintf(&b, "stopped: %s\n", r.Stopped)
	default:
		fmt.Fprintf(&b, "%s not reached within %d hops\n", r.Address, len(r.Hops))
	}
	return b.String()
}
