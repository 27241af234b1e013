// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
)

// TestFleetLocalEntry: an entry point in --tailnet local mode, beside a
// host tailscaled (userspace networking, as on a host without a TUN),
// finds a member in tailscaled's netmap and forwards calls to it, dialled
// by tailscaled over LocalAPI; the member records the caller and the
// entry node as via. Then the same as the built binary under --sandbox
// enforce, which reaches tailscaled only through its socket.
func TestFleetLocalEntry(t *testing.T) {
	tn := labtest.NewTailnet(t, nil)
	alice := tn.Node(t, "alice", "tag:alice")
	m1 := startTSServer(t, tn, "member-one", "--auth", "tailscale")
	host := tn.Tailscaled(t, "fleet-entry", fleetTag)
	// member-one must know the entry node before its grants freeze its
	// netmap (labtest.Tailnet.SetGrants).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := m1.LC.WhoIs(context.Background(), host.IPv4.String()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("member-one never learned of the entry node")
		}
	}
	entryCap := labtest.Grant{Src: []netip.Addr{host.IPv4, host.IPv6}, Cap: string(tailnet.FleetEntryCapability), Values: []string{`{}`}}
	setGrants(t, tn, m1.Key, m1.LC, []*labtest.Node{alice},
		grant(tailnet.DefaultCapability, []*labtest.Node{alice}, labtest.ScopesValue("readonly")), entryCap)
	labtest.WaitGrant(t, m1.LC, host.IPv4, string(tailnet.FleetEntryCapability), []string{`{}`})

	args := []string{"--tailnet", "local", "--tailscaled-socket", host.Socket, "--auth", "tailscale",
		"--ts-allow", "tag:alice=readonly", "--fleet", fleetTag}
	s := startInProcess(t, args...)
	port := s.in.ln.Addr().(*net.TCPAddr).Port
	checkLocalEntry(t, fmt.Sprintf("http://%s:%d", host.IPv4, port), alice, m1, s.Logs.String)

	p := runBinary(t, binPath, append(args, "--sandbox", "enforce")...)
	if !p.waitLog("sandbox applied") {
		t.Fatalf("no sandbox report:\n%s", p.Stderr)
	}
	_, port2, _ := net.SplitHostPort(strings.TrimPrefix(p.URL, "http://"))
	checkLocalEntry(t, fmt.Sprintf("http://%s:%s", host.IPv4, port2), alice, m1, p.Stderr.String)
	for _, bad := range []string{"operation not permitted", "permission denied"} {
		if strings.Contains(p.Stderr.String(), bad) {
			t.Errorf("the entry logged %q under the sandbox:\n%s", bad, p.Stderr)
		}
	}
}

// checkLocalEntry: alice, through the entry node at url, sees member-one
// in list_hosts and runs health_check on it, which member-one records as
// hers, via fleet-entry.
func checkLocalEntry(t *testing.T, url string, alice *labtest.Node, m1 *tsServer, logs func() string) {
	t.Helper()
	cs := mustConnect(t, url, via(alice, ""))
	defer cs.Close()
	text, isErr, _ := fleetCall(t, cs, "list_hosts", nil)
	if isErr || !strings.Contains(text, `"member-one"`) || !strings.Contains(text, `"tailops": true`) {
		t.Fatalf("list_hosts through a local-mode entry: %s\nentry log:\n%s", text, logs())
	}
	if text, isErr, _ := fleetCall(t, cs, "health_check", map[string]any{"node": "member-one"}); isErr {
		t.Fatalf("a call forwarded by a local-mode entry: %s\nentry log:\n%s", text, logs())
	}
	rec := lastRecord(t, m1, "tool_call", "health_check")
	via, _ := caller(rec)["via"].(map[string]any)
	if fmt.Sprint(tsIdentity(rec)["node_name"]) != "alice" || fmt.Sprint(via["node_name"]) != "fleet-entry" {
		t.Errorf("member-one's record: want alice via fleet-entry, got %v", rec)
	}
}
