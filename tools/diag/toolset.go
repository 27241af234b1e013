// SPDX-License-Identifier: Apache-2.0

// Package diag is the toolset of network diagnostics: ping_host,
// traceroute, test_port_connectivity, dns_lookup, check_ssl_certificate
// and http_request_test (scope network:diag). They send traffic only to
// destinations the destination policy (package netpolicy) allows, and
// dial exactly the addresses it checked: each tool resolves its
// destination once, through netpolicy.Policy.Resolve.
package diag

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/netpolicy"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Config configures the diagnostics tools. The zero value reaches only
// public destinations, on any port, with GET and HEAD, through the system
// resolver and roots.
type Config struct {
	// Allow are the allow-list entries (--diag-allow, diag_allow): CIDRs,
	// host names and either with a port, as package netpolicy parses
	// them; empty means only public destinations.
	Allow []string
	// Ports is the port allow-list (--diag-port, diag_ports); empty means
	// any port.
	Ports []uint16
	// Methods are HTTP methods http_request_test may use beyond GET and
	// HEAD (--diag-http-method, diag_http_methods), in upper case; empty
	// means GET and HEAD only.
	Methods []string
	// Resolver is the DNS server the tools resolve names with, an address
	// with an optional port (--diag-resolver, diag_resolver); empty means
	// the system resolver.
	Resolver string
	// RootCAs are the roots check_ssl_certificate and http_request_test
	// verify certificates against; nil means the system roots.
	RootCAs *x509.CertPool
	// Version is the TailOps version, sent in http_request_test's
	// User-Agent; empty means "dev".
	Version string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the diagnostics toolset, built by New.
type Toolset struct {
	diag
	specs []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New validates cfg, compiles its destination policy and declares the
// diagnostics tools. On error the Toolset is still returned, its tools
// declared but unavailable (tools.Unavailable), so that a server can name
// them and start without them when none is enabled.
func New(cfg Config) (*Toolset, error) {
	cfg.Version = cmp.Or(cfg.Version, "dev")
	cfg.Methods = slices.Clone(cfg.Methods)
	t := &Toolset{diag: diag{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default())}}
	err := checkMethods(cfg.Methods)
	if err == nil {
		t.policy, err = netpolicy.New(netpolicy.Config{Allow: cfg.Allow, Ports: cfg.Ports, Resolver: cfg.Resolver})
	}
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the diagnostics configuration is invalid: %w", err))
	}
	return t, err
}

// Name returns "diag".
func (t *Toolset) Name() string { return "diag" }

// Tools returns the diagnostics tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// Policy returns the destination policy the tools check, nil when the
// configuration is invalid.
func (t *Toolset) Policy() *netpolicy.Policy { return t.policy }

// checkMethods checks the extra HTTP methods of the configuration.
func checkMethods(ms []string) error {
	for _, m := range ms {
		if m == "" || strings.ToUpper(m) != m || strings.Trim(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return fmt.Errorf("parsing diagnostics HTTP methods: %q is not an upper-case method name", m)
		}
		if m == http.MethodConnect {
			return errors.New("parsing diagnostics HTTP methods: CONNECT is not supported")
		}
	}
	return nil
}

// HTTPRequestNeedsApproval reports whether an http_request_test call with
// these arguments (the call's raw arguments) needs approval: unless its
// url is on an explicit allow-list entry (see
// netpolicy.Policy.ExplicitlyAllowedURL), it does. When the url is
// explicitly allowed, http_request_test follows redirects only to
// explicitly allowed destinations, so a call that skipped approval never
// reaches anything else.
func HTTPRequestNeedsApproval(p *netpolicy.Policy, args any) bool {
	m, ok := args.(map[string]any)
	if !ok || p == nil {
		return true
	}
	u, ok := m["url"].(string)
	return !ok || !p.ExplicitlyAllowedURL(u)
}

// needs is what every diagnostics tool needs from the sandbox: outbound
// TCP to the ports the destination policy allows (any port when it has
// no port allow-list: it checks every destination itself), and DNS. ICMP
// datagram sockets (SOCK_DGRAM, IPPROTO_ICMP) and UDP with IP_RECVERR
// are within the baseline seccomp rules; raw sockets are refused there,
// so under the sandbox ping_host relies on net.ipv4.ping_group_range.
func (g *diag) needs() sandbox.Needs {
	n := sandbox.Needs{DNS: true, AnyTCPPort: true}
	if g.policy == nil {
		return n // the tools are unavailable: tools.Unavailable drops this
	}
	if ports, anyPort := g.policy.ConnectPorts(); !anyPort {
		n.AnyTCPPort, n.TCPPorts = false, ports
	}
	return n
}

// diagHints are the hints of the read-only diagnostics tools.
var diagHints = tools.Hints{ReadOnly: true, Idempotent: true, OpenWorld: true}

// diag is what the diagnostics tools share.
type diag struct {
	cfg    Config
	policy *netpolicy.Policy
	log    *slog.Logger
}

// declare declares the diagnostics tools.
func (g *diag) declare() []tools.Spec {
	diagNeeds := g.needs()
	// ping_host reads its own network namespace's ping_group_range (the
	// process's /proc, whatever HOST_PROC says) to say why it failed.
	pingNeeds := diagNeeds
	pingNeeds.Read = []string{"/proc/sys/net/ipv4/ping_group_range"}
	return []tools.Spec{
		tools.TypedSpec[PingArgs, PingResult]{
			Name: "ping_host", Title: "Ping host",
			Description: "Send ICMP echo requests to a host and report loss, round-trip times (min/avg/max/mdev) and each reply. " +
				"Uses unprivileged ICMP sockets (net.ipv4.ping_group_range), or a raw socket with CAP_NET_RAW. " +
				"The destination must be allowed by the diagnostics policy (private, loopback and link-local addresses need an allow-list entry).",
			Scope: auth.ScopeNetworkDiag, Risk: tools.RiskModerate, Hints: diagHints,
			Needs: pingNeeds,
			Run:   func(ctx context.Context, in PingArgs) (PingResult, error) { return g.ping(ctx, in, pingAuto) },
			Text:  pingText,
		}.Spec(),
		tools.TypedSpec[TracerouteArgs, TracerouteResult]{
			Name: "traceroute", Title: "Traceroute",
			Description: "Trace the route to a host without privileges, as tracepath does: UDP probes with rising TTL, " +
				"reading the ICMP errors routers send back (IP_RECVERR). Reports each hop's address, name and round-trip times. " +
				"The destination must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: tools.RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run:       g.traceroute,
			Text:      tracerouteText,
			Untrusted: true, // hop names from reverse DNS
		}.Spec(),
		tools.TypedSpec[PortArgs, PortResult]{
			Name: "test_port_connectivity", Title: "Test TCP ports",
			Description: "Try TCP connections to up to 64 ports of a host and report each as open (connected), closed (refused) " +
				"or filtered (no answer, or unreachable). The host and ports must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: tools.RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run: g.testPorts,
		}.Spec(),
		tools.TypedSpec[DNSArgs, DNSResult]{
			Name: "dns_lookup", Title: "DNS lookup",
			Description: "Query DNS for A, AAAA, CNAME, MX, TXT, NS, SRV, PTR, SOA or CAA records and report the answers with TTLs, " +
				"the response code and the query time. Uses the configured resolver unless one is given; a resolver given here " +
				"is a destination like any other and must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: tools.RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run:       g.dnsLookup,
			Untrusted: true, // the answers' data (TXT, CNAME, MX, SOA, ...)
		}.Spec(),
		tools.TypedSpec[SSLArgs, SSLResult]{
			Name: "check_ssl_certificate", Title: "Check TLS certificate",
			Description: "Connect to a TLS server and report its certificate chain (subject, issuer, SANs, validity, days to expiry), " +
				"whether it verifies against the system roots for the name (and the error if not), and the TLS version and cipher. " +
				"The destination must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: tools.RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run:       g.checkSSL,
			Text:      sslText,
			Untrusted: true, // the certificates' names
		}.Spec(),
		tools.TypedSpec[HTTPArgs, HTTPResult]{
			Name: "http_request_test", Title: "HTTP request test",
			Description: "Send one HTTP or HTTPS request (GET or HEAD; other methods only if the server is configured for them) " +
				"and report the status, headers, the start of the body, and timings for DNS, connect, TLS and first byte. " +
				"Redirects are followed (at most 5) only to destinations the diagnostics policy allows, and without the request's " +
				"headers once they leave the URL's origin (scheme, host and port). " +
				"High risk: unless the URL is on the allow-list, the call waits for approval. " +
				"Headers that would route the request elsewhere than the checked URL, claim another client or user, override the method, " +
				"or that belong to the connection or the framing are refused (case-insensitive; * is any suffix): " + refusedHeaderNames() + ".",
			Scope: auth.ScopeNetworkDiag, Risk: tools.RiskHigh, Hints: tools.Hints{OpenWorld: true}, Needs: diagNeeds,
			Run:         g.httpRequest,
			Text:        httpText,
			Untrusted:   true, // the response's headers and body
			ApprovalFor: func(args any) bool { return HTTPRequestNeedsApproval(g.policy, args) },
		}.Spec(),
	}
}

// durationArg applies a default and a range, in milliseconds, to an
// optional duration argument.
func durationArg(name string, v *int, def, lo, hi int) (time.Duration, error) {
	ms, err := tools.IntArg(name, v, def, lo, hi)
	return time.Duration(ms) * time.Millisecond, err
}

// ms returns d in milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// hostArg checks that a required host argument is present; its form is
// the policy's business.
func hostArg(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return tools.ArgErrorf(name, "is required")
	}
	return nil
}
