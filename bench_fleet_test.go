// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
)

// BenchmarkFleet measures the fleet targets in one run, on an offline
// tailnet with ten TailOps members and an entry node (in-process tsnet
// servers, --auth tailscale, scopes from grants) and a client node; all
// calls are sequential on one official Go SDK session:
//
//   - direct-system-status: get_system_status on member-00, directly;
//   - direct-essentials: what fleet_status asks each member
//     (get_system_status, list_services, list_containers, check_updates),
//     asked of member-00 directly, one after the other;
//   - fleet-status: fleet_status on the entry node, which asks all ten
//     members those four questions each, at once;
//   - direct-health-check: health_check on member-00, directly;
//   - forwarded-health-check: health_check with node=member-00 on the
//     entry node, which forwards it.
//
// Targets: fleet-status p50 ≤ 2 × direct-system-status p50; forwarded
// minus direct health_check p50 ≤ 1 ms.
func BenchmarkFleet(b *testing.B) {
	tn := labtest.NewTailnet(b, nil)
	alice := tn.Node(b, "alice", "tag:alice")
	members := make([]*tsServer, 10)
	for i := range members {
		members[i] = startTSServer(b, tn, fmt.Sprintf("member-%02d", i), "--auth", "tailscale")
	}
	entry := startTSServer(b, tn, "entry", "--auth", "tailscale", "--ts-allow", "tag:alice=readonly", "--fleet", fleetTag)
	entryCap := serverGrant(string(tailnet.FleetEntryCapability), []*tsServer{entry}, nil, `{}`)
	for _, m := range members {
		setGrants(b, tn, m.Key, m.LC, []*labtest.Node{alice},
			grant(tailnet.DefaultCapability, []*labtest.Node{alice}, labtest.ScopesValue("readonly")), entryCap)
		labtest.WaitGrant(b, m.LC, entry.in.node.Addrs()[0], string(tailnet.FleetEntryCapability), []string{`{}`})
	}
	b.Run("direct-system-status", func(b *testing.B) {
		benchToolVia(b, members[0].TailnetURL, via(alice, ""), "get_system_status", nil)
	})
	b.Run("direct-essentials", func(b *testing.B) {
		benchEssentials(b, members[0].TailnetURL, via(alice, ""))
	})
	b.Run("fleet-status", func(b *testing.B) {
		benchToolVia(b, entry.TailnetURL, via(alice, ""), "fleet_status", nil)
	})
	b.Run("direct-health-check", func(b *testing.B) {
		benchToolVia(b, members[0].TailnetURL, via(alice, ""), "health_check", nil)
	})
	b.Run("forwarded-health-check", func(b *testing.B) {
		benchToolVia(b, entry.TailnetURL, via(alice, ""), "health_check", map[string]any{"node": "member-00"})
	})
}

// benchEssentials times fleet_status' four questions asked of one member
// directly, in sequence, on one session.
func benchEssentials(b *testing.B, url string, rt http.RoundTripper) {
	cs, err := connect(url, rt)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	calls := []sdk.CallToolParams{{Name: "get_system_status"}, {Name: "list_services", Arguments: map[string]any{"state": "failed"}},
		{Name: "list_containers", Arguments: map[string]any{"all": true}}, {Name: "check_updates", Arguments: map[string]any{"limit": 1}}}
	durs := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		for _, c := range calls {
			if _, err := cs.CallTool(context.Background(), &c); err != nil {
				b.Fatalf("%s: %v", c.Name, err)
			}
		}
		durs[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(ms(percentile(durs, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(durs, 99)), "p99-ms")
}
