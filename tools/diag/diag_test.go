// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/netpolicy/policytest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// serveDiag serves the diagnostics tools of cfg (see serve); a
// configuration New refuses fails the test.
func serveDiag(t testing.TB, cfg Config) *toolstest.Client {
	t.Helper()
	ts, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, ts)
}

// serve serves ts through a real in-process server that approves every
// call needing approval (an http_request_test off the allow-list), so
// that the tools' own policy is what the tests meet, and returns a
// client of it.
func serve(t testing.TB, ts *Toolset) *toolstest.Client {
	t.Helper()
	return toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Approve: true}).Client(t)
}

// diagLab is the loopback test bed: a DNS server on 127.0.0.1 (the
// configured resolver), HTTP and HTTPS servers on 127.0.0.2, and
// tripwires on 127.0.0.1 at the same ports, which a refused destination
// would reach.
type diagLab struct {
	dns        *policytest.DNSServer
	ca         *labtest.CA
	httpPort   int
	httpsPort  int
	httpTrip   *tripwire
	httpsTrip  *tripwire
	dnsRecords []string
}

func newDiagLab(t *testing.T) *diagLab {
	t.Helper()
	lab := &diagLab{ca: labtest.NewCA(t)}
	var big []string
	for i := range 40 {
		big = append(big, fmt.Sprintf(`big.example.test. 300 IN TXT "%s-%02d"`, strings.Repeat("x", 60), i))
	}
	lab.dnsRecords = append([]string{
		"www.test. 60 IN A 127.0.0.2",
		"tls.test. 60 IN A 127.0.0.2",
		"localhost. 60 IN A 127.0.0.1",
		"rebind.test. 60 IN A 127.0.0.2",
		"rebind.test. 60 IN A 127.0.0.1",
		"mapped.test. 60 IN AAAA ::ffff:127.0.0.1",
		"meta.test. 60 IN A 169.254.169.254",
		"example.test. 300 IN MX 10 mail.example.test.",
		`example.test. 300 IN TXT "v=spf1 -all"`,
		"example.test. 300 IN NS ns1.example.test.",
		"example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300",
		`example.test. 300 IN CAA 0 issue "letsencrypt.org"`,
		"example.test. 300 IN A 127.0.0.2",
		"example.test. 300 IN AAAA ::1",
		"alias.example.test. 120 IN CNAME www.test.",
		"_sip._tcp.example.test. 300 IN SRV 10 5 5060 sip.example.test.",
		"2.0.0.127.in-addr.arpa. 300 IN PTR www.test.",
		"1.0.0.127.in-addr.arpa. 300 IN PTR localhost.",
	}, big...)
	lab.dns = policytest.StartDNS(t, "127.0.0.1", policytest.Zone(t, lab.dnsRecords...))

	ln, trip := listenSamePort(t, "127.0.0.2")
	lab.httpPort, lab.httpTrip = ln.Addr().(*net.TCPAddr).Port, trip
	quiet := log.New(io.Discard, "", 0)
	srv := &http.Server{Handler: lab.handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: quiet}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	tln, ttrip := listenSamePort(t, "127.0.0.2")
	lab.httpsPort, lab.httpsTrip = tln.Addr().(*net.TCPAddr).Port, ttrip
	cert := lab.ca.Leaf(t, 90*24*time.Hour, "tls.test", "127.0.0.2")
	tsrv := &http.Server{Handler: lab.handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: quiet}
	go tsrv.Serve(tls.NewListener(tln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	t.Cleanup(func() { tsrv.Close() })
	return lab
}

func (lab *diagLab) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		io.WriteString(w, "hello from "+r.Host)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s ua=%s", r.Method, r.Header.Get("X-Probe"), b, r.UserAgent())
	})
	redirect := func(path, to string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, strings.ReplaceAll(to, "PORT", fmt.Sprint(lab.httpPort)), http.StatusFound)
		})
	}
	redirect("/to-root", "/")
	redirect("/to-ip", "http://127.0.0.2:PORT/")
	redirect("/to-www", "http://www.test:PORT/")
	redirect("/to-loopback", "http://127.0.0.1:PORT/")
	redirect("/to-localhost", "http://localhost:PORT/")
	redirect("/to-decimal", "http://2130706433:PORT/")
	redirect("/to-userinfo", "http://127.0.0.2@127.0.0.1:PORT/")
	redirect("/to-rebind", "http://rebind.test:PORT/")
	redirect("/to-file", "file:///etc/passwd")
	redirect("/loop", "/loop")
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("y", 32<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write([]byte("z")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/big-headers", func(w http.ResponseWriter, r *http.Request) {
		for i := range 100 {
			w.Header().Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("h", 1000))
		}
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte{0xff, 0xfe, 0x00, 0x01}) })
	return mux
}

func (lab *diagLab) kit(t *testing.T, allow ...string) *toolstest.Client {
	t.Helper()
	return serveDiag(t, Config{Allow: allow, Resolver: lab.dns.Addr, RootCAs: lab.ca.Pool})
}

// TestDiagNeedsFollowThePolicy: with a port allow-list, the tools ask the
// kernel for exactly the ports the destination policy may connect to
// (and DNS), so the two agree; ping_host also reads its own namespace's
// ping_group_range, not the HOST_PROC one.
func TestDiagNeedsFollowThePolicy(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Ports: []uint16{443}, Allow: []string{"nas.lan:8443"}, Resolver: "127.0.0.1:5353"})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ts.Policy().ConnectPorts()
	for _, s := range ts.Tools() {
		if s.Needs.AnyTCPPort || !s.Needs.DNS || !slices.Equal(s.Needs.TCPPorts, want) || !slices.Contains(want, 8443) {
			t.Errorf("%s: needs %+v, want the ports %v and DNS", s.Name(), s.Needs, want)
		}
		if wantRead := s.Name() == "ping_host"; wantRead != slices.Equal(s.Needs.Read, []string{"/proc/sys/net/ipv4/ping_group_range"}) {
			t.Errorf("%s: reads %v", s.Name(), s.Needs.Read)
		}
	}
}

func TestDiagToolsDeclared(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	specs := ts.Tools()
	want := []string{"ping_host", "traceroute", "test_port_connectivity", "dns_lookup", "check_ssl_certificate", "http_request_test"}
	if got := tools.Names(specs); !slices.Equal(got, want) {
		t.Fatalf("diagnostics tools %v, want %v", got, want)
	}
	for i := range specs {
		s := &specs[i]
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if s.Scope != auth.ScopeNetworkDiag || !s.Needs.AnyTCPPort || !s.Needs.DNS {
			t.Errorf("%s: scope %s, needs %+v; want network:diag, any TCP port and DNS", s.Name(), s.Scope, s.Needs)
		}
		wantRisk := tools.RiskModerate
		if s.Name() == "http_request_test" {
			wantRisk = tools.RiskHigh
		}
		if s.Risk != wantRisk {
			t.Errorf("%s: risk %s, want %s", s.Name(), s.Risk, wantRisk)
		}
	}
}

// TestDiagEveryToolRefusesEncodingTricks sends every trick to every tool,
// with allow-list entries for 127.0.0.2 and www.test present so that the
// "allowed" half of a trick really is allowed. Every call is refused by
// the policy and nothing reaches the tripwires on 127.0.0.1.
func TestDiagEveryToolRefusesEncodingTricks(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	k := lab.kit(t, "127.0.0.2/32", "www.test")
	hosts := []struct{ host, want string }{
		{"127.0.0.1", "127.0.0.1 is loopback (127.0.0.0/8, default deny); allow it with --diag-allow 127.0.0.1/32"},
		{"2130706433", "read it as 127.0.0.1"},
		{"0177.0.0.1", "read it as 127.0.0.1"},
		{"0x7f.0.0.1", "read it as 127.0.0.1"},
		{"0x7f000001", "read it as 127.0.0.1"},
		{"0X7F.1", "read it as 127.0.0.1"},
		{"127.1", "read it as 127.0.0.1"},
		{"::ffff:127.0.0.1", "the IPv4-mapped form of 127.0.0.1, which is loopback"},
		{"[::ffff:7f00:1]", "the IPv4-mapped form of 127.0.0.1, which is loopback"},
		{"::127.0.0.1", "IPv4-compatible form of 127.0.0.1"},
		{"fe80::1%lo", "zone identifier"},
		{"127.0.0.1.", "127.0.0.1 is loopback"},
		{"LOCALHOST", "localhost resolved to 127.0.0.1, which is loopback"},
		{"LocalHost.", "localhost resolved to 127.0.0.1, which is loopback"},
		{"ｌｏｃａｌｈｏｓｔ", "localhost resolved to 127.0.0.1, which is loopback"},
		{"１２７.０.０.１", "127.0.0.1 is loopback"},
		{"127。0。0。1", "127.0.0.1 is loopback"},
		{"rebind.test", "rebind.test resolved to 127.0.0.1, which is loopback"},
		{"mapped.test", "the IPv4-mapped form of 127.0.0.1"},
		{"meta.test", "169.254.169.254, which is a cloud metadata address"},
		{"169.254.169.254", "cloud metadata"},
		{"0.0.0.0", "never allowed"},
		{"::", "never allowed"},
		{"10.1.2.3", "private (RFC 1918)"},
		{"100.100.100.100", "CGNAT and Tailscale"},
		{"fd7a:115c:a1e0::1", "Tailscale"},
		{"fe80::1", "link-local"},
		{"ff02::1", "never allowed"},
	}
	for _, h := range hosts {
		p := lab.httpTrip.port()
		wantRefused(t, "ping_host "+h.host, toolstest.Err(t, k, "ping_host", map[string]any{"host": h.host, "count": 1}), h.want)
		wantRefused(t, "traceroute "+h.host, toolstest.Err(t, k, "traceroute", map[string]any{"host": h.host, "max_hops": 1}), h.want)
		wantRefused(t, "test_port_connectivity "+h.host, toolstest.Err(t, k, "test_port_connectivity", map[string]any{"host": h.host, "ports": []any{p}}), h.want)
		wantRefused(t, "check_ssl_certificate "+h.host, toolstest.Err(t, k, "check_ssl_certificate", map[string]any{"host": h.host, "port": p}), h.want)
		u := fmt.Sprintf("http://%s:%d/", h.host, p)
		if strings.Contains(h.host, ":") && !strings.HasPrefix(h.host, "[") {
			u = fmt.Sprintf("http://[%s]:%d/", strings.ReplaceAll(h.host, "%", "%25"), p)
		}
		wantRefused(t, "http_request_test "+u, toolstest.Err(t, k, "http_request_test", map[string]any{"url": u}), h.want)
	}
	// URL-only tricks.
	for _, tt := range []struct{ url, want string }{
		{"http://127.0.0.2@127.0.0.1:PORT/", "has user info"},
		{"http://www.test@127.0.0.1:PORT/", "has user info"},
		{"http://www.test:x@127.0.0.1:PORT/", "has user info"},
		{"http://[fe80::1%25lo]:PORT/", "zone identifier"},
		{"http://[::1]:PORT/", "::1 is loopback"},
	} {
		u := strings.ReplaceAll(tt.url, "PORT", fmt.Sprint(lab.httpTrip.port()))
		wantRefused(t, "http_request_test "+u, toolstest.Err(t, k, "http_request_test", map[string]any{"url": u}), tt.want)
	}
	// A password in a refused or invalid URL is never echoed (errors reach
	// the audit log and the server's log).
	for _, u := range []string{"http://alice:hunter2pass@www.test/", "ftp://alice:hunter2pass@www.test/",
		"http://alice:hunter2pass@/", "http://alice:hunter2pass@www.test:99999999/",
		"https://hunter2pass@www.test/", "ftp://hunter2pass@www.test/"} { // a token as the user name
		if msg := toolstest.Err(t, k, "http_request_test", map[string]any{"url": u}); strings.Contains(msg, "hunter2pass") {
			t.Errorf("%s: the error shows the credential: %s", u, msg)
		}
	}
	// A resolver is a destination too.
	_, port, _ := net.SplitHostPort(lab.dns.Addr)
	for _, r := range []string{lab.dns.Addr, "2130706433:" + port, "127.1:" + port, "[::ffff:127.0.0.1]:" + port, "0x7f.0.0.1:" + port, "[fe80::1%lo]:53", "169.254.169.254"} {
		wantRefused(t, "dns_lookup via "+r, toolstest.Err(t, k, "dns_lookup", map[string]any{"name": "www.test", "resolver": r}), "")
	}
}

// TestDiagInvalidConfigurationFailsEveryCall: New refuses a configuration
// the policy cannot compile, saying why, and the tools it still declares
// fail every call with that reason.
func TestDiagInvalidConfigurationFailsEveryCall(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Allow: []string{"192.168.1.0/33"}, Logger: slog.New(slog.DiscardHandler)})
	k := serve(t, ts)
	if err == nil || !strings.Contains(err.Error(), `parsing diagnostics allow-list entry "192.168.1.0/33"`) {
		t.Errorf("New: %v", err)
	}
	for tool, args := range map[string]map[string]any{
		"ping_host":              {"host": "192.0.2.1"},
		"traceroute":             {"host": "192.0.2.1"},
		"test_port_connectivity": {"host": "192.0.2.1", "ports": []any{80}},
		"dns_lookup":             {"name": "example.com"},
		"check_ssl_certificate":  {"host": "192.0.2.1"},
		"http_request_test":      {"url": "http://192.0.2.1/"},
	} {
		if got := toolstest.Err(t, k, tool, args); !strings.Contains(got, `the diagnostics configuration is invalid: parsing diagnostics allow-list entry "192.168.1.0/33"`) {
			t.Errorf("%s: %q", tool, got)
		}
	}
	if _, err := New(Config{Methods: []string{"post"}}); err == nil {
		t.Error("New accepted a lower-case method")
	}
	if _, err := New(Config{Methods: []string{"CONNECT"}}); err == nil {
		t.Error("New accepted CONNECT")
	}
}

func TestDiagPingLoopback(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	wantRefused(t, "ping without an entry", toolstest.Err(t, lab.kit(t), "ping_host", map[string]any{"host": "127.0.0.1"}),
		"127.0.0.1 is loopback (127.0.0.0/8, default deny); allow it with --diag-allow 127.0.0.1/32")
	k := lab.kit(t, "127.0.0.1/32")
	r := toolstest.OK[PingResult](t, k, "ping_host", map[string]any{"host": "127.0.0.1", "count": 3, "interval_ms": 200})
	if r.Transmitted != 3 || r.Received != 3 || r.LossPercent != 0 || len(r.Replies) != 3 || r.Address != "127.0.0.1" {
		t.Fatalf("ping 127.0.0.1: %+v", r)
	}
	if r.RTTMinMS <= 0 || r.RTTMinMS > r.RTTAvgMS || r.RTTAvgMS > r.RTTMaxMS || r.RTTMdevMS < 0 {
		t.Errorf("rtt figures inconsistent: %+v", r)
	}
	for i, p := range r.Replies {
		if p.Seq != i+1 || p.From != "127.0.0.1" || p.Bytes < 8 {
			t.Errorf("reply %d: %+v", i, p)
		}
	}
	for _, bad := range []map[string]any{{"host": "127.0.0.1", "count": 0}, {"host": "127.0.0.1", "interval_ms": 10}, {"host": ""}} {
		if got := toolstest.Err(t, k, "ping_host", bad); !strings.Contains(got, "invalid argument") {
			t.Errorf("ping %v: %q", bad, got)
		}
	}
}

func TestDiagTracerouteLoopback(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	wantRefused(t, "traceroute without an entry", toolstest.Err(t, lab.kit(t), "traceroute", map[string]any{"host": "127.0.0.1"}), "loopback")
	r := toolstest.OK[TracerouteResult](t, lab.kit(t, "127.0.0.1/32"), "traceroute", map[string]any{"host": "localhost", "probes": 2})
	if !r.Reached || len(r.Hops) != 1 || r.Hops[0].Address != "127.0.0.1" || r.Hops[0].Name != "localhost" || len(r.Hops[0].RTTsMS) != 2 {
		t.Fatalf("traceroute localhost: %+v", r)
	}
}

func TestDiagPortConnectivity(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	closed, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	open := lab.httpPort
	wantRefused(t, "without an entry", toolstest.Err(t, lab.kit(t), "test_port_connectivity", map[string]any{"host": "127.0.0.2", "ports": []any{open}}),
		"127.0.0.2 is loopback (127.0.0.0/8, default deny); allow it with --diag-allow 127.0.0.2/32")

	k := lab.kit(t, "127.0.0.2/32")
	r := toolstest.OK[PortResult](t, k, "test_port_connectivity", map[string]any{"host": "www.test", "ports": []any{open, closedPort}, "timeout_ms": 1000})
	if r.Address != "127.0.0.2" || r.Open != 1 || r.Closed != 1 || r.Filtered != 0 ||
		r.Ports[0] != (PortState{Port: open, State: "open", RTTMS: r.Ports[0].RTTMS}) || r.Ports[1].State != "closed" {
		t.Fatalf("ports: %+v", r)
	}

	// A port allow-list refuses other ports before any is tried; an entry
	// with a port allows that port.
	kp := serveDiag(t, Config{Allow: []string{"127.0.0.2/32", fmt.Sprintf("127.0.0.2:%d", closedPort)}, Ports: []uint16{uint16(open)}, Resolver: lab.dns.Addr})
	toolstest.OK[PortResult](t, kp, "test_port_connectivity", map[string]any{"host": "127.0.0.2", "ports": []any{open, closedPort}})
	wantRefused(t, "port list", toolstest.Err(t, kp, "test_port_connectivity", map[string]any{"host": "127.0.0.2", "ports": []any{open, 22}}),
		fmt.Sprintf("port 22 of 127.0.0.2 is not on the diagnostics port allow-list (%d)", open))
	// A host allowed only through an entry with a port: that port can be
	// tested, another cannot.
	kh := serveDiag(t, Config{Allow: []string{fmt.Sprintf("127.0.0.2:%d", open)}, Resolver: lab.dns.Addr})
	if r := toolstest.OK[PortResult](t, kh, "test_port_connectivity", map[string]any{"host": "127.0.0.2", "ports": []any{open}}); r.Open != 1 {
		t.Errorf("the entry's own port: %+v", r)
	}
	wantRefused(t, "host:port entry, other port", toolstest.Err(t, kh, "test_port_connectivity", map[string]any{"host": "127.0.0.2", "ports": []any{open, closedPort}}),
		fmt.Sprintf("does not cover port %d", closedPort))

	many := make([]any, 65)
	for i := range many {
		many[i] = i + 1
	}
	for _, args := range []map[string]any{
		{"host": "127.0.0.2", "ports": many},
		{"host": "127.0.0.2", "ports": []any{}},
		{"host": "127.0.0.2", "ports": []any{0}},
		{"host": "127.0.0.2", "ports": []any{80, 80}},
	} {
		if got := toolstest.Err(t, k, "test_port_connectivity", args); !strings.Contains(got, `invalid argument "ports"`) {
			t.Errorf("%v: %q", args, got)
		}
	}
}

func TestDiagDNSLookup(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	k := lab.kit(t) // the configured resolver needs no entry
	for _, tt := range []struct {
		name, typ string
		want      []string // Data of the answers, in order
		ttl       uint32
	}{
		{"www.test", "A", []string{"127.0.0.2"}, 60},
		{"example.test", "AAAA", []string{"::1"}, 300},
		{"alias.example.test", "CNAME", []string{"www.test."}, 120},
		{"example.test", "MX", []string{"10 mail.example.test."}, 300},
		{"example.test", "TXT", []string{`"v=spf1 -all"`}, 300},
		{"example.test", "NS", []string{"ns1.example.test."}, 300},
		{"_sip._tcp.example.test", "SRV", []string{"10 5 5060 sip.example.test."}, 300},
		{"127.0.0.2", "PTR", []string{"www.test."}, 300},
		{"2.0.0.127.in-addr.arpa", "PTR", []string{"www.test."}, 300},
		{"example.test", "SOA", []string{"ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"}, 300},
		{"example.test", "CAA", []string{`0 issue "letsencrypt.org"`}, 300},
		{"WWW.Test.", "", []string{"127.0.0.2"}, 60},
	} {
		args := map[string]any{"name": tt.name}
		if tt.typ != "" {
			args["type"] = tt.typ
		}
		r := toolstest.OK[DNSResult](t, k, "dns_lookup", args)
		var got []string
		for _, a := range r.Answers {
			got = append(got, a.Data)
			if a.TTL != tt.ttl {
				t.Errorf("%s %s: TTL %d, want %d", tt.name, tt.typ, a.TTL, tt.ttl)
			}
		}
		if r.Rcode != "NOERROR" || !slices.Equal(got, tt.want) || r.Resolver != lab.dns.Addr || r.Protocol != "udp" || r.QueryTimeMS <= 0 {
			t.Errorf("%s %s: %+v; want answers %q", tt.name, tt.typ, r, tt.want)
		}
	}
	r := toolstest.OK[DNSResult](t, k, "dns_lookup", map[string]any{"name": "nosuch.test"})
	if r.Rcode != "NXDOMAIN" || len(r.Answers) != 0 {
		t.Errorf("nosuch.test: %+v", r)
	}
	r = toolstest.OK[DNSResult](t, k, "dns_lookup", map[string]any{"name": "big.example.test", "type": "TXT"})
	if r.Protocol != "tcp" || len(r.Answers) != 40 {
		t.Errorf("big TXT: protocol %s, %d answers; want 40 over TCP", r.Protocol, len(r.Answers))
	}
	// A resolver given per call is checked; with an entry it is used.
	wantRefused(t, "resolver argument", toolstest.Err(t, k, "dns_lookup", map[string]any{"name": "www.test", "resolver": lab.dns.Addr}),
		"127.0.0.1 is loopback")
	ka := lab.kit(t, lab.dns.Addr)
	r = toolstest.OK[DNSResult](t, ka, "dns_lookup", map[string]any{"name": "www.test", "resolver": lab.dns.Addr})
	if len(r.Answers) != 1 || r.Resolver != lab.dns.Addr {
		t.Errorf("via an allowed resolver: %+v", r)
	}
	for _, args := range []map[string]any{{"name": "a..b"}, {"name": ""}, {"name": "www.test", "resolver": "dns.google"}} {
		if got := toolstest.Err(t, k, "dns_lookup", args); !strings.Contains(got, "invalid argument") && !strings.Contains(got, "not an IP address") {
			t.Errorf("%v: %q", args, got)
		}
	}
}

func TestDiagSSLCertificate(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	p := lab.httpsPort
	wantRefused(t, "without an entry", toolstest.Err(t, lab.kit(t), "check_ssl_certificate", map[string]any{"host": "tls.test", "port": p}),
		"tls.test resolved to 127.0.0.2, which is loopback")
	k := lab.kit(t, "127.0.0.2/32")
	r := toolstest.OK[SSLResult](t, k, "check_ssl_certificate", map[string]any{"host": "tls.test", "port": p})
	if !r.Verified || r.VerificationError != "" || r.SNI != "tls.test" || r.TLSVersion != "TLS 1.3" || r.CipherSuite == "" ||
		len(r.Chain) != 2 || r.Address != fmt.Sprintf("127.0.0.2:%d", p) {
		t.Fatalf("tls.test: %+v", r)
	}
	leaf := r.Chain[0]
	if leaf.Subject != "CN=tls.test" || leaf.Issuer != "CN=TailOps Test CA" || !slices.Equal(leaf.DNSNames, []string{"tls.test"}) ||
		!slices.Equal(leaf.IPAddresses, []string{"127.0.0.2"}) || leaf.IsCA || leaf.PublicKey != "ECDSA P-256" ||
		r.DaysToExpiry < 88 || r.DaysToExpiry > 90 || len(leaf.SHA256Fingerprint) != 64 {
		t.Errorf("leaf: %+v (days %d)", leaf, r.DaysToExpiry)
	}
	if ca := r.Chain[1]; !ca.IsCA || !ca.SelfSigned {
		t.Errorf("CA: %+v", ca)
	}
	// By IP address: verified against the IP SANs, no SNI.
	r = toolstest.OK[SSLResult](t, k, "check_ssl_certificate", map[string]any{"host": "127.0.0.2", "port": p})
	if !r.Verified || r.SNI != "" {
		t.Errorf("by address: %+v", r)
	}
	// Another name: described, not verified, with the reason.
	r = toolstest.OK[SSLResult](t, k, "check_ssl_certificate", map[string]any{"host": "127.0.0.2", "port": p, "sni": "other.test"})
	if r.Verified || !strings.Contains(r.VerificationError, "other.test") || len(r.Chain) != 2 {
		t.Errorf("wrong name: %+v", r)
	}
	// The system roots do not know the test CA.
	ks := serveDiag(t, Config{Allow: []string{"127.0.0.2/32"}, Resolver: lab.dns.Addr})
	r = toolstest.OK[SSLResult](t, ks, "check_ssl_certificate", map[string]any{"host": "tls.test", "port": p})
	if r.Verified || !strings.Contains(r.VerificationError, "certificate signed by unknown authority") {
		t.Errorf("system roots: %+v", r)
	}
	// Not TLS at all.
	if got := toolstest.Err(t, k, "check_ssl_certificate", map[string]any{"host": "127.0.0.2", "port": lab.httpPort, "timeout_ms": 2000}); !strings.Contains(got, "TLS handshake") {
		t.Errorf("plain HTTP port: %q", got)
	}
}

func TestDiagHTTPRequest(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	base := fmt.Sprintf("http://www.test:%d", lab.httpPort)
	wantRefused(t, "without an entry", toolstest.Err(t, lab.kit(t), "http_request_test", map[string]any{"url": base + "/"}),
		"www.test resolved to 127.0.0.2, which is loopback")
	k := lab.kit(t, "127.0.0.2/32")

	r := toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/"})
	if r.StatusCode != 200 || r.Body != fmt.Sprintf("hello from www.test:%d", lab.httpPort) || r.Headers["X-Test"] != "yes" ||
		r.RemoteAddress != fmt.Sprintf("127.0.0.2:%d", lab.httpPort) || r.BodyEncoding != "text" || r.AllowListed {
		t.Fatalf("GET: %+v", r)
	}
	if tm := r.Timings; tm.DNSMS <= 0 || tm.ConnectMS <= 0 || tm.TLSMS != 0 || tm.FirstByteMS < tm.DNSMS+tm.ConnectMS || tm.TotalMS < tm.FirstByteMS {
		t.Errorf("timings: %+v", tm)
	}
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/", "method": "HEAD"})
	if r.StatusCode != 200 || r.Body != "" || r.Method != "HEAD" {
		t.Errorf("HEAD: %+v", r)
	}
	// HTTPS, verified with the configured roots.
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": fmt.Sprintf("https://tls.test:%d/", lab.httpsPort)})
	if r.StatusCode != 200 || r.TLS == nil || r.TLS.Version != "TLS 1.3" || r.Timings.TLSMS <= 0 {
		t.Errorf("HTTPS: %+v", r)
	}
	if got := toolstest.Err(t, serveDiag(t, Config{Allow: []string{"127.0.0.2/32"}, Resolver: lab.dns.Addr}), "http_request_test",
		map[string]any{"url": fmt.Sprintf("https://tls.test:%d/", lab.httpsPort)}); !strings.Contains(got, "certificate signed by unknown authority") {
		t.Errorf("HTTPS with the system roots: %q", got)
	}
	// Headers and the method allow-list.
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/echo", "headers": map[string]any{"X-Probe": "p1"}})
	if !strings.HasPrefix(r.Body, "GET p1  ua=tailops-http-request-test/") {
		t.Errorf("echo: %q", r.Body)
	}
	if got := toolstest.Err(t, k, "http_request_test", map[string]any{"url": base + "/echo", "method": "POST", "body": "x"}); !strings.Contains(got, "POST is not allowed") {
		t.Errorf("POST without configuration: %q", got)
	}
	kp := serveDiag(t, Config{Allow: []string{"127.0.0.2/32"}, Resolver: lab.dns.Addr, Methods: []string{"POST"}})
	r = toolstest.OK[HTTPResult](t, kp, "http_request_test", map[string]any{"url": base + "/echo", "method": "post", "body": "payload"})
	if !strings.HasPrefix(r.Body, "POST  payload") {
		t.Errorf("configured POST: %q", r.Body)
	}
	for _, args := range []map[string]any{
		{"url": base + "/", "headers": map[string]any{"Transfer-Encoding": "chunked"}},
		{"url": base + "/", "headers": map[string]any{"Bad Name": "x"}},
		{"url": base + "/", "body": "x"},
		{"url": "ftp://www.test/"},
		{"url": "file:///etc/passwd"},
		{"url": "http:///nohost"},
	} {
		if got := toolstest.Err(t, k, "http_request_test", args); !strings.Contains(got, "invalid argument") {
			t.Errorf("%v: %q", args, got)
		}
	}
}

// TestDiagHTTPRedirects: redirects are followed only to allowed
// destinations, at most 5, never to another scheme; the refusal names the
// redirect and the rule, and the tripwires on 127.0.0.1 stay untouched.
func TestDiagHTTPRedirects(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	k := lab.kit(t, "127.0.0.2/32")
	// www.test is allowed through its address, not an entry of its own:
	// the request would need approval, and redirects follow the policy.
	base := fmt.Sprintf("http://www.test:%d", lab.httpPort)
	r := toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/to-ip"})
	if r.AllowListed || r.StatusCode != 200 || len(r.Redirects) != 1 || r.Redirects[0].StatusCode != 302 || r.URL != fmt.Sprintf("http://127.0.0.2:%d/", lab.httpPort) {
		t.Errorf("allowed redirect: %+v", r)
	}
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/to-ip", "follow_redirects": false})
	if r.StatusCode != 302 || len(r.Redirects) != 1 || r.Headers["Location"] == "" {
		t.Errorf("not following: %+v", r)
	}
	for _, tt := range []struct{ path, want string }{
		{"/to-loopback", "following the redirect to http://127.0.0.1:%d/: refused by policy: 127.0.0.1 is loopback"},
		{"/to-localhost", "following the redirect to http://localhost:%d/: refused by policy: localhost resolved to 127.0.0.1, which is loopback"},
		{"/to-decimal", "read it as 127.0.0.1"},
		{"/to-userinfo", "has user info"},
		{"/to-rebind", "rebind.test resolved to 127.0.0.1"},
		{"/to-file", "only http and https URLs are allowed"},
		{"/loop", "stopped after 5 redirects"},
	} {
		got := toolstest.Err(t, k, "http_request_test", map[string]any{"url": base + tt.path})
		if want := strings.ReplaceAll(tt.want, "%d", fmt.Sprint(lab.httpPort)); !strings.Contains(got, want) {
			t.Errorf("%s: %q; want %q", tt.path, got, want)
		}
	}
	// A URL on an explicit entry runs without approval, so its redirects
	// may only go to explicitly allowed destinations: www.test resolves
	// to an allowed address but is not itself on the list.
	ke := lab.kit(t, fmt.Sprintf("127.0.0.2:%d", lab.httpPort))
	listed := fmt.Sprintf("http://127.0.0.2:%d", lab.httpPort)
	r = toolstest.OK[HTTPResult](t, ke, "http_request_test", map[string]any{"url": listed + "/to-root"})
	if !r.AllowListed || r.StatusCode != 200 || len(r.Redirects) != 1 {
		t.Errorf("allow-listed redirect to itself: %+v", r)
	}
	got := toolstest.Err(t, ke, "http_request_test", map[string]any{"url": listed + "/to-www"})
	wantRefused(t, "allow-listed redirect elsewhere", got, "this request ran without approval because 127.0.0.2:")
}

// TestDiagHTTPOversizedAndEndless: an endless body is cut at the cap, an
// oversized header block is refused, and a trickle ends at the timeout.
func TestDiagHTTPOversizedAndEndless(t *testing.T) {
	t.Parallel()
	lab := newDiagLab(t)
	k := lab.kit(t, "127.0.0.2/32")
	base := fmt.Sprintf("http://127.0.0.2:%d", lab.httpPort)
	start := time.Now()
	r := toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/endless", "max_body_bytes": 100000})
	if !r.BodyTruncated || r.BodyBytes != 100000 || len(r.Body) != 100000 || time.Since(start) > 5*time.Second {
		t.Errorf("endless body: truncated %v, %d bytes, after %v", r.BodyTruncated, r.BodyBytes, time.Since(start))
	}
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/endless", "max_body_bytes": 0})
	if !r.BodyTruncated || r.BodyBytes != 0 {
		t.Errorf("max_body_bytes 0: %+v", r.BodyBytes)
	}
	if got := toolstest.Err(t, k, "http_request_test", map[string]any{"url": base + "/big-headers"}); !strings.Contains(got, "server response headers exceeded 65536 bytes") {
		t.Errorf("big headers: %q", got)
	}
	start = time.Now()
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/trickle", "timeout_ms": 500})
	if r.BodyError == "" || r.BodyBytes == 0 || time.Since(start) > 3*time.Second {
		t.Errorf("trickle: body error %q, %d bytes, after %v", r.BodyError, r.BodyBytes, time.Since(start))
	}
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": base + "/binary"})
	if r.BodyEncoding != "base64" || r.Body != "//4AAQ==" {
		t.Errorf("binary body: %+v", r)
	}
}

func TestDiagHTTPRequestNeedsApproval(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Allow: []string{"nas.lan", "127.0.0.2:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	p := ts.Policy()
	for _, tt := range []struct {
		args any
		want bool
	}{
		{map[string]any{"url": "http://nas.lan/"}, false},
		{map[string]any{"url": "https://nas.lan/x"}, false},
		{map[string]any{"url": "http://127.0.0.2:8080/"}, false},
		{map[string]any{"url": "http://127.0.0.2/"}, true},
		{map[string]any{"url": "http://example.com/"}, true},
		{map[string]any{"url": "http://x@nas.lan/"}, true},
		{map[string]any{"url": 7}, true},
		{map[string]any{}, true},
		{nil, true},
	} {
		if got := HTTPRequestNeedsApproval(p, tt.args); got != tt.want {
			t.Errorf("HTTPRequestNeedsApproval(%v) = %v, want %v", tt.args, got, tt.want)
		}
	}
	if !HTTPRequestNeedsApproval(nil, map[string]any{"url": "http://nas.lan/"}) {
		t.Error("a nil policy must require approval")
	}
}

// TestDiagHTTPRefusesRoutingHeaders: every header http_request_test
// refuses (Host, hop-by-hop, framing, routing, client-IP and method
// overrides), in any letter case, is a tool error that names it and says
// why, and never reaches the loopback server the URL names; a harmless
// header does, and the server sees the URL's own host.
func TestDiagHTTPRefusesRoutingHeaders(t *testing.T) {
	t.Parallel()
	type seen struct {
		host   string
		header http.Header
	}
	got := make(chan seen, 100)
	ln, _ := listenSamePort(t, "127.0.0.2")
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- seen{r.Host, r.Header.Clone()} })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("http://127.0.0.2:%d/", ln.Addr().(*net.TCPAddr).Port)
	k := serveDiag(t, Config{Allow: []string{"127.0.0.2/32"}})

	names := []string{"host", "HOST", "x-forwarded-for", "X-FORWARDED-HOST", "proxy-authorization", "Proxy-Anything",
		"te", "transfer-encoding", "upgrade", "forwarded", "x-real-ip", "x-http-method-override", "true-client-ip", "via",
		"tailops-fleet-caller", "TAILOPS-FLEET-CALLER", "Tailscale-User-Login", "tailscale-user-name", "X-WEBAUTH-USER",
		"Remote-User", "x-auth-request-email"}
	for _, h := range httpRefusedHeaders {
		names = append(names, strings.Replace(h.name, "*", "Test", 1))
	}
	for _, name := range names {
		msg := toolstest.Err(t, k, "http_request_test", map[string]any{"url": url, "headers": map[string]any{"X-Probe": "p", name: "evil.example"}})
		want := fmt.Sprintf(`invalid argument "headers": %s is refused: `, http.CanonicalHeaderKey(name))
		if !strings.HasPrefix(msg, want) || len(msg) < len(want)+20 {
			t.Errorf("%s: %q, want %q and why", name, msg, want)
		}
	}
	select {
	case s := <-got:
		t.Fatalf("a request with a refused header reached the server: Host %q, %v", s.host, s.header)
	default:
	}

	r := toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": url, "headers": map[string]any{"x-probe": "p1", "Accept": "text/plain"}})
	if r.StatusCode != 200 {
		t.Fatalf("a harmless header: %+v", r)
	}
	s := <-got
	if s.host != strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/") || s.header.Get("X-Probe") != "p1" || s.header.Get("Accept") != "text/plain" {
		t.Errorf("the server saw Host %q and %v", s.host, s.header)
	}
}

// tripwire is a TCP listener that must never be connected to: the
// address a refused destination would have reached.
type tripwire struct {
	ln   net.Listener
	hits atomic.Int64
}

func newTripwire(t testing.TB, addr string) *tripwire {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tw := &tripwire{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tw.hits.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		if n := tw.hits.Load(); n > 0 {
			t.Errorf("%s was connected to %d times; it must never be", addr, n)
		}
	})
	return tw
}

func (tw *tripwire) port() int { return tw.ln.Addr().(*net.TCPAddr).Port }

// listenSamePort listens on ip and returns the listener, on a port that
// is also free on 127.0.0.1, where a tripwire is placed: a rebinding or
// redirect to loopback on the same port would hit it.
func listenSamePort(t testing.TB, ip string) (net.Listener, *tripwire) {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		probe, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			ln.Close()
			continue
		}
		probe.Close()
		t.Cleanup(func() { ln.Close() })
		return ln, newTripwire(t, fmt.Sprintf("127.0.0.1:%d", p))
	}
	t.Fatal("no port free on both addresses")
	return nil, nil
}

// wantRefused checks that an error text is a policy refusal containing
// want.
func wantRefused(t testing.TB, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, "refused by policy") || !strings.Contains(got, want) {
		t.Errorf("%s: %q; want a policy refusal containing %q", what, got, want)
	}
}

// TestDiagHTTPRedirectDropsHeadersElsewhere: the headers a call gives
// (an API key, a token) go to the URL asked for and to redirects within
// its origin, never to a redirect to another origin — another port
// counts — where Go's client would have sent all but Authorization and
// cookies; the result says they were dropped.
func TestDiagHTTPRedirectDropsHeadersElsewhere(t *testing.T) {
	t.Parallel()
	type seen struct {
		path   string
		header http.Header
	}
	got := make(chan seen, 10)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{"other" + r.URL.Path, r.Header.Clone()}
	}))
	t.Cleanup(other.Close)
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/here":
			http.Redirect(w, r, "/landing", http.StatusFound)
		case "/elsewhere":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/elsewhere-307":
			http.Redirect(w, r, other.URL+"/landing", http.StatusTemporaryRedirect)
		default:
			got <- seen{"first" + r.URL.Path, r.Header.Clone()}
		}
	}))
	t.Cleanup(first.Close)
	k := serveDiag(t, Config{Allow: []string{"127.0.0.0/8"}, Methods: []string{"POST"}})
	headers := map[string]any{"X-Api-Key": "key-1", "X-Vault-Token": "vault-1", "Authorization": "Bearer tok-1"}

	r := toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": first.URL + "/here", "headers": headers})
	s := <-got
	if s.path != "first/landing" || s.header.Get("X-Api-Key") != "key-1" || s.header.Get("Authorization") != "Bearer tok-1" {
		t.Errorf("a redirect within the origin: %s saw %v", s.path, s.header)
	}
	if len(r.Redirects) != 1 || r.Redirects[0].HeadersDropped {
		t.Errorf("a redirect within the origin: %+v", r.Redirects)
	}

	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": first.URL + "/elsewhere?api_key=q-1", "headers": headers})
	s = <-got
	if s.path != "other/landing" {
		t.Fatalf("the redirect reached %s", s.path)
	}
	for name := range headers {
		if v := s.header.Get(name); v != "" {
			t.Errorf("another origin got %s: %s", name, v)
		}
	}
	if ref := s.header.Get("Referer"); ref != "" {
		t.Errorf("another origin got Referer %s", ref)
	}
	if s.header.Get("User-Agent") == "" {
		t.Error("the User-Agent TailOps sets was dropped too")
	}
	if len(r.Redirects) != 1 || !r.Redirects[0].HeadersDropped {
		t.Errorf("the result does not say the headers were dropped: %+v", r.Redirects)
	}

	// A 307 would send the body on: not followed.
	msg := toolstest.Err(t, k, "http_request_test", map[string]any{"url": first.URL + "/elsewhere-307", "method": "POST", "body": `{"password":"p"}`})
	if !strings.Contains(msg, "following the redirect to "+other.URL+"/landing") || !strings.Contains(msg, "send the request's body to another origin") {
		t.Errorf("a 307 elsewhere with a body: %q", msg)
	}
	select {
	case s := <-got:
		t.Errorf("the body's redirect reached %s", s.path)
	default:
	}
	// Not following, the 307 itself is the result, as before.
	r = toolstest.OK[HTTPResult](t, k, "http_request_test", map[string]any{"url": first.URL + "/elsewhere-307", "method": "POST",
		"body": `{"password":"p"}`, "follow_redirects": false})
	if r.StatusCode != http.StatusTemporaryRedirect || len(r.Redirects) != 1 {
		t.Errorf("a 307 not followed: %+v", r)
	}
}

// TestDiagOutsideTextIsUntrusted: every diagnostics tool whose result
// carries text someone outside wrote (DNS data, certificate names, reverse
// DNS names, HTTP responses) declares it, so results are marked.
func TestDiagOutsideTextIsUntrusted(t *testing.T) {
	ts, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"dns_lookup": true, "check_ssl_certificate": true, "traceroute": true, "http_request_test": true}
	for _, s := range ts.Tools() {
		if got := s.UntrustedOutput(); got != want[s.Name()] {
			t.Errorf("%s: untrusted output %v, want %v", s.Name(), got, want[s.Name()])
		}
	}
}
