// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
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
)

// The network diagnostics tools (scope network:diag) send traffic only
// to destinations the netpolicy allows, and dial exactly the addresses
// it checked. Each tool resolves its destination once, through
// netpolicy.Policy.Resolve.

// DiagPolicyConfig returns the destination policy configuration d's
// diagnostics fields describe.
func (d *Deps) DiagPolicyConfig() netpolicy.Config {
	return netpolicy.Config{Allow: d.DiagAllow, Ports: d.DiagPorts, Resolver: d.DiagResolver}
}

// DiagPolicy returns the destination policy the diagnostics tools use;
// the error names an invalid entry. The server calls it at start, to
// refuse a bad configuration and for the sandbox's connect ports.
func (d *Deps) DiagPolicy() (*netpolicy.Policy, error) {
	if err := checkMethods(d.DiagMethods); err != nil {
		return nil, err
	}
	return netpolicy.New(d.DiagPolicyConfig())
}

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

// diagNeeds is what every diagnostics tool needs from the sandbox:
// outbound connections. ICMP datagram sockets (SOCK_DGRAM,
// IPPROTO_ICMP) and UDP with IP_RECVERR are within the baseline seccomp
// rules; raw sockets are refused there, so under the sandbox ping_host
// relies on net.ipv4.ping_group_range.
var diagNeeds = Needs{Connect: true}

// diagHints are the hints of the read-only diagnostics tools.
var diagHints = Hints{ReadOnly: true, Idempotent: true, OpenWorld: true}

// diag is what the diagnostics tools share.
type diag struct {
	policy  *netpolicy.Policy
	err     error // the configuration's error, reported by every call
	methods []string
	deps    *Deps
	log     *slog.Logger
}

func (g *diag) pol() (*netpolicy.Policy, error) {
	if g.err != nil {
		return nil, fmt.Errorf("the diagnostics configuration is invalid: %w", g.err)
	}
	return g.policy, nil
}

func diagTools(d *Deps) []Spec {
	g := &diag{deps: d, log: d.logger(), methods: slices.Clone(d.DiagMethods)}
	g.policy, g.err = d.DiagPolicy()
	if g.err != nil {
		g.log.Error("configuring the diagnostics tools", "error", g.err)
	}
	return []Spec{
		TypedSpec[PingArgs, PingResult]{
			Name: "ping_host", Title: "Ping host",
			Description: "Send ICMP echo requests to a host and report loss, round-trip times (min/avg/max/mdev) and each reply. " +
				"Uses unprivileged ICMP sockets (net.ipv4.ping_group_range), or a raw socket with CAP_NET_RAW. " +
				"The destination must be allowed by the diagnostics policy (private, loopback and link-local addresses need an allow-list entry).",
			Scope: auth.ScopeNetworkDiag, Risk: RiskModerate, Hints: diagHints,
			Needs: Needs{Connect: true, ReadPaths: []string{"/proc/sys/net/ipv4/ping_group_range"}},
			Run:   func(ctx context.Context, in PingArgs) (PingResult, error) { return g.ping(ctx, in, pingAuto) },
			Text:  pingText,
		}.Spec(),
		TypedSpec[TracerouteArgs, TracerouteResult]{
			Name: "traceroute", Title: "Traceroute",
			Description: "Trace the route to a host without privileges, as tracepath does: UDP probes with rising TTL, " +
				"reading the ICMP errors routers send back (IP_RECVERR). Reports each hop's address, name and round-trip times. " +
				"The destination must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run:  g.traceroute,
			Text: tracerouteText,
		}.Spec(),
		TypedSpec[PortArgs, PortResult]{
			Name: "test_port_connectivity", Title: "Test TCP ports",
			Description: "Try TCP connections to up to 64 ports of a host and report each as open (connected), closed (refused) " +
				"or filtered (no answer, or unreachable). The host and ports must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run: g.testPorts,
		}.Spec(),
		TypedSpec[DNSArgs, DNSResult]{
			Name: "dns_lookup", Title: "DNS lookup",
			Description: "Query DNS for A, AAAA, CNAME, MX, TXT, NS, SRV, PTR, SOA or CAA records and report the answers with TTLs, " +
				"the response code and the query time. Uses the configured resolver unless one is given; a resolver given here " +
				"is a destination like any other and must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run: g.dnsLookup,
		}.Spec(),
		TypedSpec[SSLArgs, SSLResult]{
			Name: "check_ssl_certificate", Title: "Check TLS certificate",
			Description: "Connect to a TLS server and report its certificate chain (subject, issuer, SANs, validity, days to expiry), " +
				"whether it verifies against the system roots for the name (and the error if not), and the TLS version and cipher. " +
				"The destination must be allowed by the diagnostics policy.",
			Scope: auth.ScopeNetworkDiag, Risk: RiskModerate, Hints: diagHints, Needs: diagNeeds,
			Run:  g.checkSSL,
			Text: sslText,
		}.Spec(),
		TypedSpec[HTTPArgs, HTTPResult]{
			Name: "http_request_test", Title: "HTTP request test",
			Description: "Send one HTTP or HTTPS request (GET or HEAD; other methods only if the server is configured for them) " +
				"and report the status, headers, the start of the body, and timings for DNS, connect, TLS and first byte. " +
				"Redirects are followed (at most 5) only to destinations the diagnostics policy allows. " +
				"High risk: unless the URL is on the allow-list, the call waits for approval. " +
				"Headers that would route the request elsewhere than the checked URL, claim another client, override the method, " +
				"or that belong to the connection or the framing are refused (case-insensitive; * is any suffix): " + refusedHeaderNames() + ".",
			Scope: auth.ScopeNetworkDiag, Risk: RiskHigh, Hints: Hints{OpenWorld: true}, Needs: diagNeeds,
			Run:         g.httpRequest,
			Text:        httpText,
			ApprovalFor: func(args any) bool { return HTTPRequestNeedsApproval(g.policy, args) },
		}.Spec(),
	}
}

// durationArg applies a default and a range, in milliseconds, to an
// optional duration argument.
func durationArg(name string, v *int, def, lo, hi int) (time.Duration, error) {
	ms, err := IntArg(name, v, def, lo, hi)
	return time.Duration(ms) * time.Millisecond, err
}

// ms returns d in milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// hostArg checks that a required host argument is present; its form is
// the policy's business.
func hostArg(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return ArgErrorf(name, "is required")
	}
	return nil
}
