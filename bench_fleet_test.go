// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/internal/systemdtest"
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
// Every member reports on one real host: a dockerd with running
// containers and a systemd with a failed unit (fleetHost); a part that
// fails fails the benchmark.
//
// Targets: fleet-status p50 ≤ 2 × direct-system-status p50; forwarded
// minus direct health_check p50 ≤ 1 ms.
func BenchmarkFleet(b *testing.B) {
	fleetHost(b)
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
		checkFleetStatus(b, entry.TailnetURL, via(alice, ""), len(members))
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
			if res, err := cs.CallTool(context.Background(), &c); err != nil || res.IsError {
				b.Fatalf("%s: %v %+v", c.Name, err, res)
			}
		}
		durs[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(ms(percentile(durs, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(durs, 99)), "p99-ms")
}

// Fleet members' host in BenchmarkFleet: what each member's
// list_containers and list_services answer from.
const (
	fleetContainers = 5
	fleetFailedUnit = "bench-fail.service"
)

// fleetHost gives the fleet benchmark's members (in-process servers,
// which read DOCKER_HOST and DBUS_SYSTEM_BUS_ADDRESS) one real host to
// report on: a dockerd running fleetContainers containers, and a systemd
// with a running unit and a failed one, fleetFailedUnit.
func fleetHost(b *testing.B) {
	d := labtest.Shared(b)
	image := d.BusyboxImage(b, "local/busybox:latest")
	for i := range fleetContainers {
		d.Run(b, "--name", fmt.Sprintf("fleet-bench-%d", i), image, "sleep", "3600")
	}
	bed := systemdtest.Start(b)
	bed.WriteUnitNoReload(b, "bench-ok.service", "[Service]\nExecStart=/bin/sleep infinity\n")
	bed.WriteUnitNoReload(b, fleetFailedUnit, "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	bed.Run(b, "systemctl", "daemon-reload")
	bed.Run(b, "systemctl", "start", "bench-ok.service")
	_ = bed.Command(b.Context(), "systemctl", "start", fleetFailedUnit).Run() // fails, as it should
	bed.Run(b, "systemctl", "is-failed", fleetFailedUnit)
	b.Setenv("DOCKER_HOST", d.Host)
	b.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bed.BusAddress())
}

// checkFleetStatus fails b unless fleet_status on the entry node at url
// has all n members answer every part, as fleetHost set the host up.
func checkFleetStatus(b *testing.B, url string, rt http.RoundTripper, n int) {
	cs, err := connect(url, rt)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "fleet_status"})
	if err != nil || res.IsError {
		b.Fatalf("fleet_status: %v %+v", err, res)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		b.Fatal(err)
	}
	var st struct {
		Hosts []struct {
			Name                string   `json:"name"`
			Problems            []string `json:"problems"`
			FailedServices      []string `json:"failed_services"`
			UnhealthyContainers []string `json:"unhealthy_containers"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		b.Fatal(err)
	}
	if len(st.Hosts) != n {
		b.Fatalf("fleet_status reported %d hosts, want %d: %s", len(st.Hosts), n, raw)
	}
	for _, h := range st.Hosts {
		if len(h.Problems) > 0 || !slices.Equal(h.FailedServices, []string{fleetFailedUnit}) || len(h.UnhealthyContainers) > 0 {
			b.Fatalf("%s: want every part answered, failed services [%s] and no unhealthy container: %s", h.Name, fleetFailedUnit, raw)
		}
	}
}
