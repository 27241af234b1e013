// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/tailops/tailops/tools"
)

// PingArgs is ping_host's input.
type PingArgs struct {
	Host       string `json:"host" jsonschema_description:"Host name or IP address to ping."`
	Count      *int   `json:"count,omitempty" jsonschema_description:"Echo requests to send, 1 to 20; default 4."`
	IntervalMS *int   `json:"interval_ms,omitempty" jsonschema_description:"Milliseconds between requests, 200 to 5000; default 1000."`
	TimeoutMS  *int   `json:"timeout_ms,omitempty" jsonschema_description:"Milliseconds to wait for each reply, 100 to 10000; default 2000."`
}

// PingReply is one echo reply.
type PingReply struct {
	Seq   int     `json:"seq" jsonschema_description:"Sequence number, from 1."`
	From  string  `json:"from" jsonschema_description:"Address the reply came from."`
	Bytes int     `json:"bytes" jsonschema_description:"ICMP message size."`
	TTL   int     `json:"ttl,omitempty" jsonschema_description:"TTL or hop limit of the reply, when the kernel reports it."`
	RTTMS float64 `json:"rtt_ms" jsonschema_description:"Round-trip time in milliseconds."`
}

// PingResult is ping_host's output.
type PingResult struct {
	Host        string      `json:"host" jsonschema_description:"The host, as given."`
	Address     string      `json:"address" jsonschema_description:"The address pinged."`
	Method      string      `json:"method" jsonschema:"enum=icmp-datagram,enum=raw" jsonschema_description:"icmp-datagram: an unprivileged ICMP socket; raw: a raw socket (CAP_NET_RAW)."`
	Transmitted int         `json:"transmitted"`
	Received    int         `json:"received"`
	LossPercent float64     `json:"loss_percent"`
	RTTMinMS    float64     `json:"rtt_min_ms" jsonschema_description:"0 when nothing was received, as are the other RTT figures."`
	RTTAvgMS    float64     `json:"rtt_avg_ms"`
	RTTMaxMS    float64     `json:"rtt_max_ms"`
	RTTMdevMS   float64     `json:"rtt_mdev_ms" jsonschema_description:"Mean deviation, as ping reports it."`
	Replies     []PingReply `json:"replies"`
}

// pingMode chooses the ICMP socket.
type pingMode int

const (
	// pingAuto tries an unprivileged ICMP socket, then a raw one.
	pingAuto pingMode = iota
	pingDatagram
	pingRaw
)

func (g *diag) ping(ctx context.Context, in PingArgs, mode pingMode) (PingResult, error) {
	if err := hostArg("host", in.Host); err != nil {
		return PingResult{}, err
	}
	count, err := tools.IntArg("count", in.Count, 4, 1, 20)
	if err != nil {
		return PingResult{}, err
	}
	interval, err := durationArg("interval_ms", in.IntervalMS, 1000, 200, 5000)
	if err != nil {
		return PingResult{}, err
	}
	timeout, err := durationArg("timeout_ms", in.TimeoutMS, 2000, 100, 10000)
	if err != nil {
		return PingResult{}, err
	}
	pol := g.policy
	dest, err := pol.Resolve(ctx, in.Host, 0)
	if err != nil {
		return PingResult{}, err
	}
	addr := dest.Addrs[0]
	pc, method, err := openICMP(addr, mode)
	if err != nil {
		return PingResult{}, err
	}
	defer pc.close()
	res := PingResult{Host: in.Host, Address: addr.String(), Method: method, Replies: []PingReply{}}

	var id uint16
	binary.Read(rand.Reader, binary.BigEndian, &id)
	payload := make([]byte, 56)
	rand.Read(payload)
	var (
		mu   sync.Mutex
		sent = map[int]time.Time{}
		got  = map[int]bool{}
	)
	done := make(chan struct{})
	go func() { // the reader: until the socket closes
		defer close(done)
		buf := make([]byte, 1500)
		for {
			r, err := pc.read(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if r.from != addr || (method == "raw" && r.id != int(id)) {
				continue
			}
			mu.Lock()
			at, ok := sent[r.seq]
			if ok && !got[r.seq] && now.Sub(at) <= timeout {
				got[r.seq] = true
				res.Replies = append(res.Replies, PingReply{Seq: r.seq, From: r.from.String(), Bytes: r.size, TTL: r.ttl, RTTMS: ms(now.Sub(at))})
			}
			complete := len(got) == count
			mu.Unlock()
			if complete {
				return
			}
		}
	}()
	stop := context.AfterFunc(ctx, pc.close)
	defer stop()

	var sendErr error
	for seq := 1; seq <= count && ctx.Err() == nil; seq++ {
		if seq > 1 {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
			case <-done:
			}
		}
		mu.Lock()
		sent[seq] = time.Now()
		mu.Unlock()
		if err := pc.send(addr, id, seq, payload); err != nil {
			sendErr = fmt.Errorf("sending echo request %d to %s: %w", seq, addr, err)
			break
		}
		res.Transmitted++
	}
	if sendErr == nil {
		select { // wait for the last reply
		case <-done:
		case <-time.After(timeout):
		case <-ctx.Done():
		}
	}
	pc.close()
	<-done
	if res.Transmitted == 0 {
		return res, sendErr
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("pinging %s: %w", addr, err)
	}
	slices.SortFunc(res.Replies, func(a, b PingReply) int { return cmp.Compare(a.Seq, b.Seq) })
	pingStats(&res)
	if sendErr != nil {
		g.log.Warn("ping stopped early", "host", in.Host, "error", sendErr)
	}
	return res, nil
}

// pingStats fills loss and the RTT figures from the replies.
func pingStats(r *PingResult) {
	r.Received = len(r.Replies)
	if r.Transmitted > 0 {
		r.LossPercent = math.Round(1000*float64(r.Transmitted-r.Received)/float64(r.Transmitted)) / 10
	}
	if r.Received == 0 {
		return
	}
	var sum, sum2 float64
	r.RTTMinMS = math.Inf(1)
	for _, p := range r.Replies {
		sum += p.RTTMS
		sum2 += p.RTTMS * p.RTTMS
		r.RTTMinMS = min(r.RTTMinMS, p.RTTMS)
		r.RTTMaxMS = max(r.RTTMaxMS, p.RTTMS)
	}
	n := float64(r.Received)
	avg := sum / n
	r.RTTAvgMS = math.Round(avg*1000) / 1000
	r.RTTMdevMS = math.Round(math.Sqrt(math.Max(0, sum2/n-avg*avg))*1000) / 1000
}

func pingText(r PingResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "PING %s (%s) via %s socket\n", r.Host, r.Address, r.Method)
	for _, p := range r.Replies {
		fmt.Fprintf(&b, "%d bytes from %s: icmp_seq=%d ttl=%d time=%.3f ms\n", p.Bytes, p.From, p.Seq, p.TTL, p.RTTMS)
	}
	fmt.Fprintf(&b, "%d packets transmitted, %d received, %.1f%% packet loss\n", r.Transmitted, r.Received, r.LossPercent)
	if r.Received > 0 {
		fmt.Fprintf(&b, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", r.RTTMinMS, r.RTTAvgMS, r.RTTMaxMS, r.RTTMdevMS)
	}
	return b.String()
}

// icmpConn is an ICMP echo socket of either kind, for one family.
type icmpConn struct {
	c    *icmp.PacketConn
	p4   *ipv4.PacketConn
	p6   *ipv6.PacketConn
	raw  bool
	once sync.Once
}

// icmpReply is a parsed echo reply.
type icmpReply struct {
	from    netip.Addr
	id, seq int
	size    int
	ttl     int
}

// openICMP opens an ICMP socket for a's family: an unprivileged datagram
// socket first (unless mode says raw), then a raw one (unless mode says
// datagram). The error explains what to change when neither is allowed.
func openICMP(a netip.Addr, mode pingMode) (*icmpConn, string, error) {
	dgramNet, rawNet, any := "udp4", "ip4:icmp", "0.0.0.0"
	if a.Is6() {
		dgramNet, rawNet, any = "udp6", "ip6:ipv6-icmp", "::"
	}
	var dgramErr, rawErr error
	if mode != pingRaw {
		c, err := icmp.ListenPacket(dgramNet, any)
		if err == nil {
			return newICMPConn(c, false), "icmp-datagram", nil
		}
		dgramErr = err
	}
	if mode != pingDatagram {
		c, err := icmp.ListenPacket(rawNet, any)
		if err == nil {
			return newICMPConn(c, true), "raw", nil
		}
		rawErr = err
	}
	return nil, "", icmpSocketError(dgramErr, rawErr)
}

func newICMPConn(c *icmp.PacketConn, raw bool) *icmpConn {
	ic := &icmpConn{c: c, raw: raw}
	if p := c.IPv4PacketConn(); p != nil {
		ic.p4 = p
		p.SetControlMessage(ipv4.FlagTTL, true) // best effort: TTL is optional in the output
	}
	if p := c.IPv6PacketConn(); p != nil {
		ic.p6 = p
		p.SetControlMessage(ipv6.FlagHopLimit, true)
	}
	return ic
}

func (c *icmpConn) close() { c.once.Do(func() { c.c.Close() }) }

func (c *icmpConn) send(a netip.Addr, id uint16, seq int, payload []byte) error {
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if a.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(id), Seq: seq, Data: payload}}
	b, err := m.Marshal(nil) // the kernel computes the ICMPv6 checksum
	if err != nil {
		return err
	}
	var dst net.Addr = &net.IPAddr{IP: a.AsSlice()}
	if !c.raw {
		dst = &net.UDPAddr{IP: a.AsSlice()}
	}
	_, err = c.c.WriteTo(b, dst)
	return err
}

// read returns the next echo reply; other ICMP messages are skipped.
func (c *icmpConn) read(buf []byte) (icmpReply, error) {
	for {
		var (
			n    int
			ttl  int
			peer net.Addr
			err  error
		)
		proto := 1
		if c.p4 != nil {
			var cm *ipv4.ControlMessage
			n, cm, peer, err = c.p4.ReadFrom(buf)
			if cm != nil {
				ttl = cm.TTL
			}
		} else {
			var cm *ipv6.ControlMessage
			n, cm, peer, err = c.p6.ReadFrom(buf)
			if cm != nil {
				ttl = cm.HopLimit
			}
			proto = 58
		}
		if err != nil {
			return icmpReply{}, err
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok {
			continue
		}
		var from netip.Addr
		switch p := peer.(type) {
		case *net.UDPAddr:
			from, _ = netip.AddrFromSlice(p.IP)
		case *net.IPAddr:
			from, _ = netip.AddrFromSlice(p.IP)
		}
		return icmpReply{from: from.Unmap(), id: echo.ID, seq: echo.Seq, size: n, ttl: ttl}, nil
	}
}

// icmpSocketError explains why no ICMP socket could be opened.
func icmpSocketError(dgramErr, rawErr error) error {
	switch {
	case dgramErr == nil:
		return fmt.Errorf("opening a raw ICMP socket: %w; raw sockets need CAP_NET_RAW, and TailOps' sandbox refuses them", rawErr)
	case rawErr == nil:
		return fmt.Errorf("opening an unprivileged ICMP socket: %w; %s", dgramErr, pingGroupAdvice())
	}
	return fmt.Errorf("pinging needs an ICMP socket and neither kind is allowed: an unprivileged ICMP socket got %q (%s), "+
		"and a raw socket got %q (raw sockets need CAP_NET_RAW, and TailOps' sandbox refuses them)",
		errnoText(dgramErr), pingGroupAdvice(), errnoText(rawErr))
}

// pingGroupAdvice says how to allow unprivileged ICMP sockets for this
// process's group.
func pingGroupAdvice() string {
	gid := os.Getgid()
	cur := ""
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); err == nil {
		cur = fmt.Sprintf(" (now %q)", strings.Join(strings.Fields(string(b)), " "))
	}
	return fmt.Sprintf("unprivileged ICMP sockets need this process's group (%d) within net.ipv4.ping_group_range%s; "+
		"allow them with sysctl -w net.ipv4.ping_group_range=\"%d %d\" or a wider range", gid, cur, gid, gid)
}

func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
