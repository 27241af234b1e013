// SPDX-License-Identifier: Apache-2.0

package netpolicy_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tailops/tailops/netpolicy"
	"github.com/tailops/tailops/netpolicy/policytest"
)

// listenPair listens on 127.0.0.2 and 127.0.0.1 on the same TCP port:
// good is the allowed server, bad the one a rebinding would reach.
func listenPair(t *testing.T) (good, bad net.Listener, port uint16) {
	t.Helper()
	for range 20 {
		g, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		p := g.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			g.Close()
			continue
		}
		t.Cleanup(func() { g.Close(); b.Close() })
		return g, b, uint16(p)
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return nil, nil, 0
}

// TestPolicyDNSRebindingMixedAnswer: a name that answers an allowed
// address and a loopback one (in any form) is refused whole, naming the
// loopback address; nothing is dialed.
func TestPolicyDNSRebindingMixedAnswer(t *testing.T) {
	srv := policytest.StartDNS(t, "127.0.0.1", policytest.Zone(t,
		"mixed.test. 60 IN A 127.0.0.2",
		"mixed.test. 60 IN A 127.0.0.1",
		"mapped.test. 60 IN A 127.0.0.2",
		"mapped.test. 60 IN AAAA ::ffff:127.0.0.1",
		"chain.test. 60 IN CNAME inner.test.",
		"inner.test. 60 IN A 169.254.169.254",
		"ok.test. 60 IN A 127.0.0.2",
	))
	p := mustPolicy(t, netpolicy.Config{Allow: []string{"127.0.0.2/32"}, Resolver: srv.Addr})
	for _, tt := range []struct{ host, errHas string }{
		{"mixed.test", "refused by policy: mixed.test resolved to 127.0.0.1, which is loopback (127.0.0.0/8, default deny); allow the address with --diag-allow 127.0.0.1/32"},
		{"mapped.test", "mapped.test resolved to ::ffff:127.0.0.1, the IPv4-mapped form of 127.0.0.1, which is loopback"},
		{"chain.test", "chain.test resolved to 169.254.169.254, which is a cloud metadata address"},
		{"MIXED.test.", "mixed.test resolved to 127.0.0.1"},
		{"nosuch.test", "resolving nosuch.test: no such host"},
	} {
		_, err := p.Resolve(context.Background(), tt.host, 80)
		if err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("Resolve(%q) = %v; want an error containing %q", tt.host, err, tt.errHas)
		}
	}
	d, err := p.Resolve(context.Background(), "ok.test", 80)
	if err != nil || len(d.Addrs) != 1 || d.Addrs[0] != netip.MustParseAddr("127.0.0.2") || !d.Explicit {
		t.Errorf("Resolve(ok.test) = %+v, %v", d, err)
	}
}

// TestPolicyDNSRebindingSecondAnswer: the resolver answers an allowed
// address first and loopback on every later query. The connection goes
// to the address that was checked; a later request, which resolves
// again, is refused; the loopback server never sees a connection.
func TestPolicyDNSRebindingSecondAnswer(t *testing.T) {
	good, bad, port := listenPair(t)
	var badHits atomic.Int64
	go func() {
		for {
			c, err := bad.Accept()
			if err != nil {
				return
			}
			badHits.Add(1)
			c.Close()
		}
	}()
	go http.Serve(good, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "good") }))

	var aQueries atomic.Int64
	srv := policytest.StartDNS(t, "127.0.0.1", dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if q.Question[0].Qtype == dns.TypeA {
			ip := "127.0.0.2"
			if aQueries.Add(1) > 1 {
				ip = "127.0.0.1"
			}
			rr, _ := dns.NewRR("rebind.test. 0 IN A " + ip)
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	}))
	p := mustPolicy(t, netpolicy.Config{Allow: []string{"127.0.0.2/32"}, Resolver: srv.Addr})
	hc := &http.Client{Transport: &http.Transport{DialContext: p.DialContext, Proxy: nil, DisableKeepAlives: true}}
	url := fmt.Sprintf("http://rebind.test:%d/", port)

	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "good" {
		t.Errorf("first request reached %q, want the allowed server", body)
	}
	_, err = hc.Get(url)
	if !errors.Is(err, netpolicy.ErrRefused) || !strings.Contains(err.Error(), "rebind.test resolved to 127.0.0.1, which is loopback") {
		t.Errorf("second request: %v; want it refused as loopback", err)
	}
	if n := badHits.Load(); n != 0 {
		t.Errorf("the loopback server got %d connections", n)
	}
	if n := aQueries.Load(); n != 2 {
		t.Errorf("%d A queries, want exactly one per request", n)
	}
}

// TestPolicyDNSOversizedAnswer: an answer too large for UDP is fetched
// over TCP, and one with more addresses than the policy checks is
// refused rather than half-checked.
func TestPolicyDNSOversizedAnswer(t *testing.T) {
	var recs []string
	for i := range 100 {
		recs = append(recs, fmt.Sprintf("big.test. 60 IN A 8.8.%d.%d", i/250, i%250+1))
	}
	for i := range 40 {
		recs = append(recs, fmt.Sprintf("tcp.test. 60 IN A 9.9.9.%d", i+1))
	}
	srv := policytest.StartDNS(t, "127.0.0.1", policytest.Zone(t, recs...))
	p := mustPolicy(t, netpolicy.Config{Resolver: srv.Addr})
	_, err := p.Resolve(context.Background(), "big.test", 443)
	if err == nil || !strings.Contains(err.Error(), "resolving big.test: 100 addresses, more than 64") {
		t.Errorf("Resolve(big.test) = %v; want too many addresses", err)
	}
	m := new(dns.Msg)
	m.SetQuestion("big.test.", dns.TypeA)
	ans, err := p.Query(context.Background(), m, "")
	if err != nil || ans.Protocol != "tcp" || len(ans.Msg.Answer) != 100 {
		t.Fatalf("Query(big.test) = %+v, %v; want 100 answers over TCP", ans, err)
	}
	d, err := p.Resolve(context.Background(), "tcp.test", 443)
	if err != nil || len(d.Addrs) != 40 {
		t.Errorf("Resolve(tcp.test) = %v, %v; want 40 addresses", d, err)
	}
}

// TestPolicyDNSEndlessAnswer: a resolver that never answers, and one
// that announces a TCP answer and then trickles it forever, end in a
// timeout error within the caller's deadline.
func TestPolicyDNSEndlessAnswer(t *testing.T) {
	// Silent over UDP.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	// Truncated over UDP, endless over TCP on the same port.
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		pc, _ = net.ListenPacket("udp", "127.0.0.1:0")
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			m := new(dns.Msg)
			m.SetReply(q)
			m.Truncated = true
			b, _ := m.Pack()
			pc.WriteTo(b, from)
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				binary.Write(c, binary.BigEndian, uint16(65535))
				for {
					if _, err := c.Write([]byte{0}); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}
	}()
	for name, addr := range map[string]string{"silent": silent.LocalAddr().String(), "endless": pc.LocalAddr().String()} {
		p := mustPolicy(t, netpolicy.Config{Resolver: addr})
		ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
		start := time.Now()
		_, err := p.Resolve(ctx, "x.test", 443)
		cancel()
		if err == nil || time.Since(start) > 3*time.Second {
			t.Errorf("%s resolver: err %v after %v; want a timeout within the deadline", name, err, time.Since(start))
		}
	}
}

// TestPolicyDialChecksTheSocket: a Dest dials only the addresses it
// checked.
func TestPolicyDialChecksTheSocket(t *testing.T) {
	good, _, port := listenPair(t)
	go func() {
		for {
			c, err := good.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	p := mustPolicy(t, netpolicy.Config{Allow: []string{"127.0.0.2/32"}})
	d, err := p.Resolve(context.Background(), "127.0.0.2", port)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.DialContext(context.Background(), "tcp")
	if err != nil {
		t.Fatalf("dialing the checked address: %v", err)
	}
	if got := c.RemoteAddr().String(); got != fmt.Sprintf("127.0.0.2:%d", port) {
		t.Errorf("connected to %s", got)
	}
	c.Close()
	if _, err := d.DialAddr(context.Background(), "tcp", netip.MustParseAddr("127.0.0.1")); !errors.Is(err, netpolicy.ErrRefused) {
		t.Errorf("dialing an unchecked address: %v; want a refusal", err)
	}
	if _, err := p.DialContext(context.Background(), "tcp", fmt.Sprintf("127.0.0.1:%d", port)); !errors.Is(err, netpolicy.ErrRefused) {
		t.Errorf("DialContext to loopback: %v; want a refusal", err)
	}
	if _, err := d.WithPort(port + 1); err != nil {
		t.Errorf("WithPort: %v", err)
	}
	q := mustPolicy(t, netpolicy.Config{Allow: []string{fmt.Sprintf("127.0.0.2:%d", port)}})
	d, err = q.Resolve(context.Background(), "127.0.0.2", port)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WithPort(port + 1); !errors.Is(err, netpolicy.ErrRefused) {
		t.Errorf("WithPort to a port the entry does not cover: %v; want a refusal", err)
	}
}

// TestPolicyQueryChecksResolverArgument: a resolver given per query is a
// destination like any other.
func TestPolicyQueryChecksResolverArgument(t *testing.T) {
	srv := policytest.StartDNS(t, "127.0.0.1", policytest.Zone(t, "a.test. 60 IN A 8.8.8.8"))
	_, port, _ := net.SplitHostPort(srv.Addr)
	m := new(dns.Msg)
	m.SetQuestion("a.test.", dns.TypeA)
	p := mustPolicy(t, netpolicy.Config{})
	for _, server := range []string{srv.Addr, "[::ffff:127.0.0.1]:" + port, "2130706433:" + port, "127.1:" + port, "[fe80::1%lo]:53"} {
		if _, err := p.Query(context.Background(), m, server); !errors.Is(err, netpolicy.ErrRefused) {
			t.Errorf("Query via %s: %v; want a refusal", server, err)
		}
	}
	if _, err := p.Query(context.Background(), m, "dns.google"); err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Errorf("Query via a name: %v", err)
	}
	p = mustPolicy(t, netpolicy.Config{Allow: []string{"127.0.0.1:" + port}})
	ans, err := p.Query(context.Background(), m, srv.Addr)
	if err != nil || len(ans.Msg.Answer) != 1 || ans.Server != srv.Addr {
		t.Errorf("Query via an allowed resolver: %+v, %v", ans, err)
	}
}
