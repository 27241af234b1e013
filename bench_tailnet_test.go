// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
)

// BenchmarkTailnetHealthCheck compares sequential health_check calls
// (official Go SDK client, one session) in one run:
//
//   - loopback: `serve` with --tailnet off, token auth, over 127.0.0.1;
//   - tailnet-token: `serve --tailnet tsnet --auth token`, called from a
//     client tsnet node through the tailnet (WireGuard in userspace on
//     both ends, over loopback UDP), WhoIs on every request (cached);
//   - tailnet-grants: the same with --auth tailscale, scopes from a grant.
//
// All three write the durable audit record. It reports p50-ms, p99-ms
// and calls/s as BenchmarkToolsCall does.
func BenchmarkTailnetHealthCheck(b *testing.B) {
	tn := labtest.NewTailnet(b, nil)
	client := tn.Node(b, "bench-client")
	off := startInProcess(b)
	tsTok := startTSServer(b, tn, "bench-token")
	tsGrant := startTSServer(b, tn, "bench-grants", "--auth", "tailscale")
	if err := tn.SetGrants(tsGrant.Key, labtest.Grant{Src: []netip.Addr{client.IPv4, client.IPv6},
		Cap: tailnet.DefaultCapability, Values: []string{labtest.ScopesValue("readonly")}}); err != nil {
		b.Fatal(err)
	}
	labtest.WaitGrant(b, tsGrant.LC, client.IPv4, tailnet.DefaultCapability, []string{labtest.ScopesValue("readonly")})

	b.Run("loopback", func(b *testing.B) {
		benchCallsVia(b, off.URL, bearer{off.mint(b, "bench", auth.ScopeReadonly), http.DefaultTransport})
	})
	b.Run("tailnet-token", func(b *testing.B) {
		benchCallsVia(b, tsTok.TailnetURL, via(client, tsTok.mint(b, "bench", auth.ScopeReadonly)))
	})
	b.Run("tailnet-grants", func(b *testing.B) {
		benchCallsVia(b, tsGrant.TailnetURL, via(client, ""))
	})
}

// benchCallsVia is benchCalls over the round tripper rt.
func benchCallsVia(b *testing.B, url string, rt http.RoundTripper) {
	benchToolVia(b, url, rt, "health_check", nil)
}

// benchToolVia times sequential calls of tool with args over rt, on one
// session, after up to 20 calls of warm-up.
func benchToolVia(b *testing.B, url string, rt http.RoundTripper, tool string, args map[string]any) {
	c := sdk.NewClient(&sdk.Implementation{Name: "tailops-bench", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url + "/mcp",
		HTTPClient: &http.Client{Transport: rt}, DisableStandaloneSSE: true}, nil)
	cancel()
	if err != nil {
		b.Fatalf("connecting to %s: %v", url, err)
	}
	defer cs.Close()
	call := func() {
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
		if err != nil || res.IsError {
			b.Fatalf("%s: %v %+v", tool, err, res)
		}
	}
	for range min(20, max(b.N/10, 2)) { // warm-up; a slow tool gets fewer
		call()
	}
	durs := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		call()
		durs[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(ms(percentile(durs, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(durs, 99)), "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkTailnetWhoIs measures what identifying a caller costs per
// request: a LocalAPI WhoIs on the server's tsnet node (in-process, over
// an in-memory pipe), and Identify — WhoIs plus grant parsing and the
// allow-list — with the cache off and on (the server's default: one
// WhoIs per remote address per 2 s).
func BenchmarkTailnetWhoIs(b *testing.B) {
	tn := labtest.NewTailnet(b, nil)
	client := tn.Node(b, "whois-client")
	s := startTSServer(b, tn, "whois-server")
	if err := tn.SetGrants(s.Key, labtest.Grant{Src: []netip.Addr{client.IPv4, client.IPv6},
		Cap: tailnet.DefaultCapability, Values: []string{labtest.ScopesValue("readonly"), labtest.ScopesValue("container:write")}}); err != nil {
		b.Fatal(err)
	}
	labtest.WaitGrant(b, s.LC, client.IPv4, tailnet.DefaultCapability,
		[]string{labtest.ScopesValue("readonly"), labtest.ScopesValue("container:write")})
	addr := netip.AddrPortFrom(client.IPv4, 40000).String()
	ctx := context.Background()
	b.Run("localapi-whois", func(b *testing.B) {
		for range b.N {
			if _, err := s.LC.WhoIs(ctx, addr); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"identify-uncached", -1}, {"identify-cached", 0}} {
		b.Run(c.name, func(b *testing.B) {
			id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: s.LC.WhoIs, CacheTTL: c.ttl})
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				p, err := id.Identify(ctx, addr)
				if err != nil || len(p.GrantScopes) != 2 {
					b.Fatalf("%v %+v", err, p)
				}
			}
		})
	}
}
