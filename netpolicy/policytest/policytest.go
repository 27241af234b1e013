// SPDX-License-Identifier: Apache-2.0

// Package policytest has test helpers for the destination policy and the
// diagnostics tools: a DNS server on a loopback address, answering from
// records the test gives or from a handler of its own.
package policytest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNSServer is a DNS server listening on UDP and TCP on the same
// loopback address and port.
type DNSServer struct {
	// Addr is the server's address, ip:port.
	Addr string
	// Queries counts the questions answered.
	Queries atomic.Int64
}

// StartDNS starts a DNS server on ip (a loopback address, or an address
// in a network namespace the test made) with handler h, and stops it when
// the test ends.
func StartDNS(t testing.TB, ip string, h dns.Handler) *DNSServer {
	t.Helper()
	s := &DNSServer{}
	counted := dns.HandlerFunc(func(w dns.ResponseWriter, m *dns.Msg) {
		s.Queries.Add(1)
		h.ServeDNS(w, m)
	})
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 { // find a port free for both UDP and TCP
		pc, err = net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("listening for DNS over UDP: %v", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("listening for DNS over TCP: %v", err)
	}
	s.Addr = pc.LocalAddr().String()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs after the Shutdowns below (cleanups run last-in first-out)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: counted}, {Listener: ln, Handler: counted}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Go(func() { srv.ActivateAndServe() })
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("starting the DNS server: timed out")
		}
		t.Cleanup(func() { srv.Shutdown() })
	}
	return s
}

// Zone answers from records in zone-file syntax ("a.test. 60 IN A
// 127.0.0.2"): every record whose owner and type match the question,
// CNAMEs of the owner and the records they lead to, NXDOMAIN for names
// with no record at all.
func Zone(t testing.TB, records ...string) dns.Handler {
	t.Helper()
	var rrs []dns.RR
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("parsing record %q: %v", r, err)
		}
		rrs = append(rrs, rr)
	}
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		if len(q.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
			w.WriteMsg(m)
			return
		}
		qs := q.Question[0]
		name, known := qs.Name, false
		for range 8 {
			next := ""
			for _, rr := range rrs {
				h := rr.Header()
				if !strings.EqualFold(h.Name, name) {
					continue
				}
				known = true
				if h.Rrtype == qs.Qtype || qs.Qtype == dns.TypeANY {
					m.Answer = append(m.Answer, rr)
				} else if c, ok := rr.(*dns.CNAME); ok {
					m.Answer = append(m.Answer, rr)
					next = c.Target
				}
			}
			if next == "" {
				break
			}
			name = next
		}
		if !known {
			m.Rcode = dns.RcodeNameError
		}
		if opt := q.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), false)
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			size := dns.MinMsgSize
			if opt := q.IsEdns0(); opt != nil {
				size = int(opt.UDPSize())
			}
			m.Truncate(size)
		}
		w.WriteMsg(m)
	})
}
