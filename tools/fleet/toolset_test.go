// SPDX-License-Identifier: Apache-2.0

package fleet

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"tailscale.com/ipn/ipnstate"
	"tailscale.com/types/key"
	"tailscale.com/types/views"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/fleet"
	"github.com/tailops/tailops/tailnet"
)

// TestFill: each part of fleet_status reads the member's structured
// result: unhealthy means a failing health check, restarting or dead.
func TestFill(t *testing.T) {
	var h HostStatus
	if err := fillSystem(&h, []byte(`{"load":[1,2,3],"memory":{"used_percent":41.5},"disks":[{"mountpoint":"/","used_percent":90}]}`)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.Load, []float64{1, 2, 3}) || *h.MemoryUsedPercent != 41.5 || h.Disks[0].UsedPercent != 90 {
		t.Errorf("system: %+v", h)
	}
	err := fillContainers(&h, []byte(`{"containers":[
		{"name":"ok","state":"running","status":"Up 5 minutes (healthy)"},
		{"name":"sick","state":"running","status":"Up 5 minutes (unhealthy)"},
		{"name":"loop","state":"restarting","status":"Restarting (1) 2 seconds ago"},
		{"name":"gone","state":"dead","status":"Dead"},
		{"name":"done","state":"exited","status":"Exited (0) 1 hour ago"}]}`))
	if err != nil || !slices.Equal(h.UnhealthyContainers, []string{"sick", "loop", "gone"}) {
		t.Errorf("containers: %v %v", h.UnhealthyContainers, err)
	}
	if err := fillServices(&h, []byte(`{"services":[{"name":"nginx.service"}]}`)); err != nil || !slices.Equal(h.FailedServices, []string{"nginx.service"}) {
		t.Errorf("services: %v %v", h.FailedServices, err)
	}
	if err := fillUpdates(&h, []byte(`{"upgradable":12,"security":3}`)); err != nil || *h.PendingUpdates != (Updates{12, 3}) {
		t.Errorf("updates: %v %v", h.PendingUpdates, err)
	}
	if err := fillSystem(&h, []byte(`{"load":"high"}`)); err == nil {
		t.Error("a result of another shape was accepted")
	}
}

// TestNoFleet: without --fleet every call says how to make this node an
// entry point; a timeout out of range names the argument.
func TestNoFleet(t *testing.T) {
	ts, _ := New(Config{})
	if _, err := ts.listHosts(context.Background(), ListArgs{}); !errors.Is(err, errNoFleet) {
		t.Errorf("list_hosts: %v", err)
	}
	if _, err := ts.status(context.Background(), StatusArgs{}); !errors.Is(err, errNoFleet) {
		t.Errorf("fleet_status: %v", err)
	}
	if names := []string{ts.Tools()[0].Name(), ts.Tools()[1].Name()}; !slices.Equal(names, []string{"list_hosts", "fleet_status"}) {
		t.Errorf("tools %v", names)
	}
	for _, s := range ts.Tools() {
		if !s.ReadOnly() {
			t.Errorf("%s is not read-only", s.Name())
		}
	}
}

// TestForwardedFleetTools: list_hosts and fleet_status refuse a caller
// whom a fleet entry node forwarded here, before asking any member.
func TestForwardedFleetTools(t *testing.T) {
	f, err := fleet.New(fleet.Config{Tags: []string{"tag:tailops"}}) // no node: any member lookup would fail otherwise
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := New(Config{Fleet: f})
	ctx := auth.WithCaller(context.Background(), &auth.Caller{Via: &auth.TailscaleIdentity{NodeName: "entry-1"}})
	const want = "a call forwarded by entry-1 cannot be forwarded again"
	if _, err := ts.listHosts(ctx, ListArgs{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("list_hosts: %v", err)
	}
	if _, err := ts.status(ctx, StatusArgs{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("fleet_status: %v", err)
	}
}

// TestEach: at most concurrency at once, every index once.
func TestEach(t *testing.T) {
	var mu = make(chan struct{}, 1)
	running, most := 0, 0
	seen := make([]int, 30)
	each(context.Background(), len(seen), func(i int) {
		mu <- struct{}{}
		running++
		most = max(most, running)
		seen[i]++
		<-mu
		for range 1000 {
		}
		mu <- struct{}{}
		running--
		<-mu
	})
	if most > concurrency {
		t.Errorf("%d at once, want at most %d", most, concurrency)
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("index %d ran %d times", i, n)
		}
	}
}

// oneMember is a fleet.Node whose netmap holds one tagged member, nas,
// played by the HTTP server at target.
type oneMember struct{ target string }

func (n oneMember) Status(context.Context) (*ipnstate.Status, error) {
	tags := views.SliceOf([]string{"tag:tailops"})
	return &ipnstate.Status{Self: &ipnstate.PeerStatus{HostName: "entry", TailscaleIPs: []netip.Addr{netip.MustParseAddr("100.64.0.1")}},
		Peer: map[key.NodePublic]*ipnstate.PeerStatus{key.NewNode().Public(): {ID: "nas", HostName: "nas", Online: true, Tags: &tags,
			TailscaleIPs: []netip.Addr{netip.MustParseAddr("100.64.0.2")}}}}, nil
}

func (n oneMember) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, n.target)
}

// TestStatusRedactsMemberErrors: what a member says when a part fails
// reaches fleet_status' caller with secrets redacted, as every tool
// error is.
func TestStatusRedactsMemberErrors(t *testing.T) {
	const secret = "hunter2hunter2hunter2"
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(tailnet.VersionHeader, "test")
		if r.URL.Path == "/healthz" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"isError":true,"content":[{"type":"text","text":"cannot connect: password=` + secret + `"}]}}`))
	}))
	defer member.Close()
	f, err := fleet.New(fleet.Config{Tags: []string{"tag:tailops"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Attach(oneMember{strings.TrimPrefix(member.URL, "http://")})
	ts, _ := New(Config{Fleet: f})
	st, err := ts.status(auth.WithCaller(context.Background(), &auth.Caller{}), StatusArgs{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Hosts) != 1 || len(st.Hosts[0].Problems) != len(parts) {
		t.Fatalf("fleet_status: %+v", st)
	}
	for _, p := range st.Hosts[0].Problems {
		if strings.Contains(p, secret) || !strings.Contains(p, "cannot connect") {
			t.Errorf("a member's error reached the caller as %q", p)
		}
	}
}
