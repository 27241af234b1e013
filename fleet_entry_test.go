// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
)

// TestFleetEntryMustBeTSNet: a host tailscaled's node speaks for every
// process and container on its host, so it cannot vouch for whom a call
// is for: a member refuses Tailops-Fleet-Caller from it even though the
// tailnet policy grants it the fleet-entry capability — here a process
// on that host (any local user, a container behind Docker's masquerade)
// dialling member-one through tailscaled and naming alice, who holds
// readonly there — and records the refusal; and --fleet is refused
// with --tailnet local, which would be such an entry point.
func TestFleetEntryMustBeTSNet(t *testing.T) {
	tn := labtest.NewTailnet(t, nil)
	alice := tn.Node(t, "alice", "tag:alice")
	m1 := startTSServer(t, tn, "member-one", "--auth", "tailscale")
	host := tn.Tailscaled(t, "fleet-entry", fleetTag)
	// member-one must know the host's node before its grants freeze its
	// netmap (labtest.Tailnet.SetGrants).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := m1.LC.WhoIs(context.Background(), host.IPv4.String()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("member-one never learned of the host's node")
		}
	}
	entryCap := labtest.Grant{Src: []netip.Addr{host.IPv4, host.IPv6}, Cap: string(tailnet.FleetEntryCapability), Values: []string{`{}`}}
	setGrants(t, tn, m1.Key, m1.LC, []*labtest.Node{alice},
		grant(tailnet.DefaultCapability, []*labtest.Node{alice}, labtest.ScopesValue("readonly")), entryCap)
	labtest.WaitGrant(t, m1.LC, host.IPv4, string(tailnet.FleetEntryCapability), []string{`{}`})

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(m1.TailnetURL, "http://"))
	if port == "" {
		port = "80"
	}
	p, _ := strconv.ParseUint(port, 10, 16)
	fromHost := &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		h, _, _ := net.SplitHostPort(addr)
		return host.LC.UserDial(ctx, "tcp", h, uint16(p))
	}}
	code, body := postInit(t, m1.TailnetURL, fromHost, map[string]string{tailnet.FleetCallerHeader: alice.IPv4.String()})
	if code != http.StatusForbidden || !strings.Contains(body, "is not a TailOps entry point with its own tsnet node") {
		t.Errorf("a process on the host tailscaled's node naming alice: %d %s, want 403 saying it is no tsnet entry point", code, body)
	}
	if !slices.ContainsFunc(m1.records(t, "auth_denied"), func(r map[string]any) bool {
		return strings.Contains(fmt.Sprint(r["reason"]), "tsnet")
	}) {
		t.Error("member-one did not record the refused claim")
	}

	_, err := setup(context.Background(), []string{"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--sandbox", "off",
		"--tailnet", "local", "--tailscaled-socket", host.Socket, "--auth", "tailscale", "--fleet", fleetTag}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--fleet needs --tailnet tsnet") {
		t.Errorf("--fleet with --tailnet local: %v, want a refusal naming --tailnet tsnet", err)
	}
}
