// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"tailscale.com/client/local"
	"tailscale.com/ipn/ipnstate"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
	fleettools "github.com/tailops/tailops/tools/fleet"
)

// The tests of this file run the tailnet tests' flows once more with a
// real Headscale (labtest.NewHeadscale) as the control server instead of
// Tailscale's in-process test control server.

// startHSServer runs `serve --tailnet tsnet` in-process joined to
// Headscale with --ts-control-url and a pre-auth key tagged with tags
// (--ts-authkey-file). It passes no --ts-tags: Headscale refuses a node
// that joins with a pre-auth key and advertises tags too.
func startHSServer(t *testing.T, hs *labtest.Headscale, hostname string, tags []string, extra ...string) *tsServer {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "authkey")
	if err := os.WriteFile(keyFile, []byte(hs.AuthKey(t, "", tags...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return startTSNode(t, append([]string{"--ts-control-url", hs.ControlURL, "--ts-authkey-file", keyFile}, extra...), hostname)
}

// hsPolicy is a Headscale policy that lets every node reach every other
// (the deny-by-default part is TailOps': no grant, no scopes) with the
// given grants, HuJSON objects joined by commas; the tags are owned by
// the user alice.
func hsPolicy(tags []string, grants ...string) string {
	var owners []string
	for _, tag := range tags {
		owners = append(owners, fmt.Sprintf("%q: [\"alice@\"],", tag))
	}
	return fmt.Sprintf(`{
  // Written by a TailOps test.
  "tagOwners": {%s},
  "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
  "grants": [%s],
}`, strings.Join(owners, " "), strings.Join(grants, ",\n"))
}

// hsGrant is a grant of the app capability c with values (JSON) from src
// to dst, as a Headscale policy writes it.
func hsGrant(src, dst, c string, values ...string) string {
	return fmt.Sprintf(`{"src": [%q], "dst": [%q], "app": {%q: [%s]}}`, src, dst, c, strings.Join(values, ", "))
}

// TestHeadscaleCallerIdentityInAudit: with --auth token, a TailOps node
// joined to Headscale serves the official Go SDK client on a user's node
// and on a tagged node, and each audit record carries the caller's
// identity as Headscale names it: the bare user name as login (no
// domain), "tagged-devices" for a tagged node, with its tags.
func TestHeadscaleCallerIdentityInAudit(t *testing.T) {
	hs := labtest.NewHeadscale(t, nil)
	alice := hs.Node(t, "alice", "alice")
	ci := hs.Node(t, "ci", "", "tag:ci")
	s := startHSServer(t, hs, "tailops-hs", []string{"tag:tailops"})
	waitHSRelays(t, "tailops-hs", alice, ci)

	for _, n := range []*labtest.Node{alice, ci} {
		cs := mustConnect(t, s.TailnetURL, via(n, s.mint(t, n.Hostname+"-agent", auth.ScopeReadonly)))
		if text, isErr := callText(t, cs, "health_check", nil); isErr {
			t.Fatalf("health_check from %s: %s", n.Hostname, text)
		}
	}
	if code, body := postInit(t, s.TailnetURL, via(alice, ""), nil); code != http.StatusUnauthorized {
		t.Errorf("no token: %d %s, want 401", code, body)
	}
	want := map[string]struct {
		login string
		node  *labtest.Node
	}{"alice-agent": {"alice", alice}, "ci-agent": {"tagged-devices", ci}}
	calls := s.records(t, "tool_call")
	if len(calls) != 2 {
		t.Fatalf("%d tool_call records, want 2", len(calls))
	}
	for _, r := range calls {
		c, id := caller(r), tsIdentity(r)
		w, ok := want[fmt.Sprint(c["agent"])]
		if !ok || id == nil {
			t.Fatalf("unexpected caller %v", c)
		}
		if id["login_name"] != w.login || id["node_name"] != w.node.Hostname || !slices.Equal(strs(id["tags"]), w.node.Tags) ||
			!slices.Equal(strs(id["addresses"]), addrStrings([]netip.Addr{w.node.IPv4, w.node.IPv6})) || c["auth_method"] != "hmac" {
			t.Errorf("%s: caller %v, want login %q, node %q, tags %v", w.node.Hostname, c, w.login, w.node.Hostname, w.node.Tags)
		}
	}
	if d := s.records(t, "auth_denied"); len(d) != 1 || tsIdentity(d[0])["login_name"] != "alice" {
		t.Errorf("auth_denied records = %v", d)
	}
}

// TestHeadscaleAllowList: with --auth tailscale and no grants in the
// policy, --ts-allow gives scopes by Headscale login name (without a
// domain) and by tag, and refuses a peer not on the list with 403.
func TestHeadscaleAllowList(t *testing.T) {
	hs := labtest.NewHeadscale(t, nil)
	alice := hs.Node(t, "alice", "alice")
	ci := hs.Node(t, "ci", "", "tag:ci")
	bob := hs.Node(t, "bob", "bob")
	s := startHSServer(t, hs, "tailops-allow", []string{"tag:tailops"}, "--auth", "tailscale",
		"--ts-allow", "alice=readonly", "--ts-allow", "tag:ci=network:read")
	waitHSRelays(t, "tailops-allow", alice, ci, bob)

	tests := []struct {
		node       *labtest.Node
		scopes     []string
		canCall    []string
		cannotCall []string
	}{
		{alice, []string{"readonly"}, []string{"health_check", "get_system_status"}, nil},
		{ci, []string{"network:read"}, []string{"get_network_status"}, []string{"get_system_status"}},
	}
	for _, tt := range tests {
		cs := mustConnect(t, s.TailnetURL, via(tt.node, ""))
		for _, tool := range tt.canCall {
			if text, isErr := callText(t, cs, tool, nil); isErr {
				t.Errorf("%s from %s: %s", tool, tt.node.Hostname, text)
			}
		}
		for _, tool := range tt.cannotCall {
			if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool}); err == nil {
				t.Errorf("%s from %s was not refused", tool, tt.node.Hostname)
			}
		}
		r := lastRecord(t, s, "tool_call", tt.canCall[0])
		if c := caller(r); c["auth_method"] != "tailscale" || !slices.Equal(strs(c["scopes"]), tt.scopes) ||
			tsIdentity(r)["node_name"] != tt.node.Hostname {
			t.Errorf("%s: caller %v, want scopes %v from the allow-list", tt.node.Hostname, c, tt.scopes)
		}
	}
	if code, body := postInit(t, s.TailnetURL, via(bob, ""), nil); code != http.StatusForbidden || !strings.Contains(body, "allow-list") {
		t.Errorf("bob, not on --ts-allow: %d %s, want 403", code, body)
	}
	if !hasRecord(s.records(t, "auth_denied"), func(r map[string]any) bool { return tsIdentity(r)["login_name"] == "bob" }) {
		t.Errorf("the refusal of bob is not audited with his identity")
	}
}

// TestHeadscaleGrants: with --auth tailscale, scopes come from grants of
// the app capability tailops.dev/cap/mcp in Headscale's policy (v0.29
// compiles them into the server node's packet filter): grants to a user
// and to a tag give, two grants merge, no grant is refused — and a
// policy changed while the server runs takes effect.
func TestHeadscaleGrants(t *testing.T) {
	hs := labtest.NewHeadscale(t, nil)
	alice := hs.Node(t, "alice", "alice")
	ci := hs.Node(t, "ci", "", "tag:ci")
	bob := hs.Node(t, "bob", "bob")
	s := startHSServer(t, hs, "tailops-grants", []string{"tag:tailops"}, "--auth", "tailscale")
	waitHSRelays(t, "tailops-grants", alice, ci, bob)
	const c = tailnet.DefaultCapability
	tags := []string{"tag:tailops", "tag:ci"}
	hs.SetPolicy(t, hsPolicy(tags,
		hsGrant("alice@", "tag:tailops", c, labtest.ScopesValue("readonly")),
		hsGrant("tag:ci", "tag:tailops", c, labtest.ScopesValue("network:read")),
		hsGrant("tag:ci", "tag:tailops", c, labtest.ScopesValue("container:read"))))
	labtest.WaitGrant(t, s.LC, alice.IPv4, c, []string{labtest.ScopesValue("readonly")})
	labtest.WaitGrant(t, s.LC, ci.IPv4, c, []string{labtest.ScopesValue("network:read"), labtest.ScopesValue("container:read")})

	for _, tt := range []struct {
		node   *labtest.Node
		tool   string
		scopes []string
	}{
		{alice, "get_system_status", []string{"readonly"}},
		{ci, "get_network_status", []string{"container:read", "network:read"}},
	} {
		cs := mustConnect(t, s.TailnetURL, via(tt.node, ""))
		if text, isErr := callText(t, cs, tt.tool, nil); isErr {
			t.Errorf("%s from %s: %s", tt.tool, tt.node.Hostname, text)
		}
		if got := strs(caller(lastRecord(t, s, "tool_call", tt.tool))["scopes"]); !slices.Equal(got, tt.scopes) {
			t.Errorf("%s: scopes %v, want %v", tt.node.Hostname, got, tt.scopes)
		}
	}
	if code, body := postInit(t, s.TailnetURL, via(bob, ""), nil); code != http.StatusForbidden || !strings.Contains(body, "has no grant") {
		t.Errorf("bob without a grant: %d %s, want 403", code, body)
	}

	// The policy changes: bob gets readonly, alice loses hers.
	hs.SetPolicy(t, hsPolicy(tags, hsGrant("bob@", "tag:tailops", c, labtest.ScopesValue("readonly"))))
	labtest.WaitGrant(t, s.LC, bob.IPv4, c, []string{labtest.ScopesValue("readonly")})
	labtest.WaitGrant(t, s.LC, alice.IPv4, c, nil)
	for deadline := time.Now().Add(2*tailnet.DefaultCacheTTL + time.Second); ; time.Sleep(100 * time.Millisecond) {
		bobCode, _ := postInit(t, s.TailnetURL, via(bob, ""), nil)
		aliceCode, _ := postInit(t, s.TailnetURL, via(alice, ""), nil)
		if bobCode == http.StatusOK && aliceCode == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy change not applied: bob %d, alice %d", bobCode, aliceCode)
		}
	}
}

// TestHeadscaleFleet: the fleet flows of TestFleet on Headscale, once
// with the members taking scopes from grants and once from forwarded
// tokens. The members grant the entry node (tag:fleet-entry) the
// capability tailops.dev/cap/fleet-entry in Headscale's policy. The
// entry node finds the members in its netmap (and those that join
// later), forwards calls, and both sides record them; a node without the
// capability cannot assert a caller's address; with grants, a caller the
// entry node admits but a member does not is refused by that member; a
// critical call waits for approval on the member, and its denial there
// is the answer; a hung member costs fleet_status its timeout, not the
// call; a member whose node goes down is reported offline once Headscale
// says so.
func TestHeadscaleFleet(t *testing.T) {
	for _, mode := range []string{"tailscale", "token"} {
		t.Run(mode, func(t *testing.T) { testHeadscaleFleet(t, mode) })
	}
}

func testHeadscaleFleet(t *testing.T, mode string) {
	hs := labtest.NewHeadscale(t, nil)
	// member-one carries a tag of its own, for bob's grant.
	const entryTag, oneTag = "tag:fleet-entry", "tag:member-one"
	c, fe := tailnet.DefaultCapability, string(tailnet.FleetEntryCapability)
	// Alice is admin on every member (those that join later too), bob
	// reads member-one only; the entry node may speak for callers on all
	// (and on itself, which is also tagged fleetTag: harmless, it never
	// forwards to itself).
	hs.SetPolicy(t, hsPolicy([]string{fleetTag, entryTag, oneTag},
		hsGrant("alice@", fleetTag, c, labtest.ScopesValue("admin")),
		hsGrant("bob@", oneTag, c, labtest.ScopesValue("readonly")),
		hsGrant(entryTag, fleetTag, fe, `{}`)))
	alice := hs.Node(t, "alice", "alice")
	bob := hs.Node(t, "bob", "bob")

	common := fleetArgs(t, mode)
	// member-one has critical calls approved by a second person.
	m1 := startHSServer(t, hs, "member-one", []string{fleetTag, oneTag}, append(slices.Clone(common), "--approval-two-person")...)
	m2 := startHSServer(t, hs, "member-two", []string{fleetTag}, common...)
	// The entry's own scopes come from its allow-list, by Headscale
	// login name.
	entryArgs := append(slices.Clone(common), "--fleet", fleetTag)
	if mode == "tailscale" {
		entryArgs = append(entryArgs, "--ts-allow", "alice=admin", "--ts-allow", "bob=readonly")
	}
	entry := startHSServer(t, hs, "entry", []string{fleetTag, entryTag}, entryArgs...)
	for _, m := range []*tsServer{m1, m2} {
		waitHSMember(t, m, entry, alice)
	}
	labtest.WaitGrant(t, m1.LC, bob.IPv4, c, []string{labtest.ScopesValue("readonly")})

	tokA := entry.mint(t, "alice-agent", auth.ScopeAdmin)
	tokB := entry.mint(t, "bob-agent", auth.ScopeReadonly)
	if mode == "tailscale" {
		tokA, tokB = "", ""
	}
	waitHSRelays(t, "entry", alice, bob)
	csA := mustConnect(t, entry.TailnetURL, via(alice, tokA))
	csB := mustConnect(t, entry.TailnetURL, via(bob, tokB))

	// Discovery: list_hosts names both members, not the entry, not the
	// clients.
	waitHosts(t, csA, func(names []string, _ map[string]string) bool {
		return slices.Equal(names, []string{"member-one", "member-two"})
	})

	// A hung member joins: fleet_status finds it, and it costs the call
	// its timeout. Then its node goes down; Headscale waits 10 s for a
	// node to reconnect before it tells the peers that it is offline, and
	// the flows that follow run meanwhile (none lists the hosts, which
	// would wait for the hung member's answer).
	hung := hsHungMember(t, hs, "hung")
	waitHSJoined(t, entry, csA, "hung")
	checkHungStatus(t, csA, "hung")
	hung.Close()

	// Forwarding: alice's call runs on member-one, recorded there with
	// alice (as Headscale names her) as the caller and the entry as via.
	if text, isErr, _ := fleetCall(t, csA, "health_check", map[string]any{"node": "member-one"}); isErr {
		t.Fatalf("health_check on member-one: %s", text)
	}
	checkForwarded(t, mode, entry, m1, "member-one", "health_check", "alice")
	if login := tsIdentity(lastRecord(t, m1, "tool_call", "health_check"))["login_name"]; login != "alice" {
		t.Errorf("member-one recorded login %v, want Headscale's bare user name alice", login)
	}
	if text, isErr, _ := fleetCall(t, csA, "get_system_status", map[string]any{"node": "member-two"}); isErr {
		t.Errorf("get_system_status on member-two: %s", text)
	}

	// No privilege amplification, as in TestFleet; bob is refused under
	// Headscale's login name.
	checkNoAmplification(t, mode, csB, m1, m2, bob, alice, tokB)
	if mode == "tailscale" && !hasRecord(m2.auditRecords(t), func(r map[string]any) bool {
		return r["event"] == "auth_denied" && tsIdentity(r)["login_name"] == "bob"
	}) {
		t.Errorf("member-two did not record refusing bob by his Headscale login")
	}

	checkDeniedOnMember(t, csA, entry, m1, "member-one", "alice")

	// A member appears: the entry forwards to it without being told, its
	// grants coming from its tag.
	m3 := startHSServer(t, hs, "member-three", []string{fleetTag}, common...)
	waitHSMember(t, m3, entry, alice)
	waitHSJoined(t, entry, csA, "member-three")
	if text, isErr, _ := fleetCall(t, csA, "health_check", map[string]any{"node": "member-three"}); isErr {
		t.Fatalf("health_check on the new member: %s", text)
	}
	checkForwarded(t, mode, entry, m3, "member-three", "health_check", "alice")

	// Once Headscale says the hung member's node is offline, list_hosts
	// reports it so (and the new member), and a call for it fails naming
	// it.
	labtest.WaitPeer(t, entry.LC, "hung", func(p *ipnstate.PeerStatus) bool { return !p.Online })
	waitHosts(t, csA, func(names []string, problems map[string]string) bool {
		return slices.Equal(names, []string{"hung", "member-one", "member-three", "member-two"}) &&
			problems["hung"] == "offline" && problems["member-three"] == ""
	})
	if text, isErr, _ := fleetCall(t, csA, "health_check", map[string]any{"node": "hung"}); !isErr || !strings.Contains(text, "hung is offline") {
		t.Errorf("a call for the member that went down: %v %s, want an error saying it is offline", isErr, text)
	}
}

// waitHSRelay waits until lc's node knows the home DERP relay of its
// peer hostname. Headscale tells the peers of a node that joins about it
// before the node has told Headscale its home relay; a first packet sent
// to it before then is lost, and WireGuard sends its handshake again only
// 5 s later.
func waitHSRelay(t *testing.T, lc *local.Client, hostname string) {
	t.Helper()
	labtest.WaitPeer(t, lc, hostname, func(p *ipnstate.PeerStatus) bool { return p.Relay != "" })
}

// waitHSRelays waits until each of nodes knows the home relay of its
// peer hostname (waitHSRelay).
func waitHSRelays(t *testing.T, hostname string, nodes ...*labtest.Node) {
	t.Helper()
	for _, n := range nodes {
		waitHSRelay(t, n.LC, hostname)
	}
}

// waitHSJoined waits until the entry node (session cs) takes calls for
// its new peer hostname: until the entry knows the peer's home relay
// (waitHSRelay), and its fleet names the peer among the members. The
// fleet reuses the netmap it read for a moment; a call for a node that
// does not exist lists the members without asking any.
func waitHSJoined(t *testing.T, entry *tsServer, cs *sdk.ClientSession, hostname string) {
	t.Helper()
	waitHSRelay(t, entry.LC, hostname)
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var isErr bool
		text, isErr, _ = fleetCall(t, cs, "health_check", map[string]any{"node": "nosuch"})
		_, members, _ := strings.Cut(text, " are ")
		members, _, _ = strings.Cut(members, ";")
		if isErr && slices.Contains(strings.Split(members, ", "), hostname) {
			return
		}
	}
	t.Fatalf("the entry node's fleet never named %s: %s", hostname, text)
}

// waitHSMember waits until the member m has the grants of the policy of
// testHeadscaleFleet from the entry node and from alice.
func waitHSMember(t *testing.T, m, entry *tsServer, alice *labtest.Node) {
	t.Helper()
	labtest.WaitGrant(t, m.LC, entry.in.node.Addrs()[0], string(tailnet.FleetEntryCapability), []string{`{}`})
	labtest.WaitGrant(t, m.LC, alice.IPv4, tailnet.DefaultCapability, []string{labtest.ScopesValue("admin")})
}

// hsHungMember is fakeMember on Headscale: a node tagged fleetTag that
// answers /healthz as TailOps and nothing else. It is not ephemeral, so
// closing it takes it offline rather than off the tailnet.
func hsHungMember(t *testing.T, hs *labtest.Headscale, name string) *labtest.Node {
	t.Helper()
	n := hs.PersistentNode(t, name, "", fleetTag)
	ln, err := n.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(tailnet.VersionHeader, "hung")
	})
	// Once the body is read, the request's context ends with its
	// connection (the caller giving up, or Close).
	mux.HandleFunc("/", func(_ http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return n
}

// checkHungStatus checks fleet_status on the entry node's session cs with
// a 3 s timeout: it answers within bounds, every member at once, the
// one named hung as not answering in time, the others with their load.
func checkHungStatus(t *testing.T, cs *sdk.ClientSession, hung string) {
	t.Helper()
	start := time.Now()
	text, isErr, sc := fleetCall(t, cs, "fleet_status", map[string]any{"timeout_seconds": 3})
	if took := time.Since(start); isErr || took > 10*time.Second {
		t.Fatalf("fleet_status with a 3 s timeout: error %v after %v: %s", isErr, took, text)
	}
	var st fleettools.Status
	decode(t, sc, &st)
	var sawHung bool
	for _, h := range st.Hosts {
		if h.Name == hung {
			sawHung = true
			if h.Answered || !strings.Contains(h.Error, "no answer within 3s") {
				t.Errorf("fleet_status on the hung member: %+v", h)
			}
		} else if !h.Answered || len(h.Load) != 3 {
			t.Errorf("fleet_status on %s: %+v", h.Name, h)
		}
	}
	if !sawHung {
		t.Errorf("fleet_status does not name the hung member: %s", text)
	}
}

// checkDeniedOnMember: a critical call (pull_image) sent on the
// entry node's session cs to member (named name, run with
// --approval-two-person) waits for approval on that member, not on the
// entry, held in the caller's name (login) with the entry as via; a
// second person denies it there, and that denial is what the call
// answers.
func checkDeniedOnMember(t *testing.T, cs *sdk.ClientSession, entry, member *tsServer, name, login string) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "pull_image",
			Arguments: map[string]any{"image": "busybox:1.36", "node": name}})
		if err == nil && len(res.Content) > 0 {
			if tc, ok := res.Content[0].(*sdk.TextContent); ok {
				done <- tc.Text
				return
			}
		}
		done <- fmt.Sprint(res, err)
	}()
	approver := &auth.Caller{Agent: "second-person", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeAdmin}}
	req := waitApprovalRequest(t, member, approver, "pull_image")
	if id, via := req.Caller.Tailscale, req.Caller.Via; id == nil || id.LoginName != login || via == nil || via.NodeName != "entry" {
		t.Errorf("%s holds the request for %+v via %+v, want %s via the entry node", name, id, via, login)
	}
	if rs, _ := entry.in.approvals.gate.List(t.Context(), approver, true); len(rs) != 0 {
		t.Errorf("the entry node holds approval requests: %+v", rs)
	}
	if _, err := member.in.approvals.gate.Deny(t.Context(), req.ID, approver, "not today"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if !strings.Contains(got, "not today") {
			t.Errorf("the denied call answered %q, want %s's denial", got, name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the denied call did not return")
	}
}

// waitApprovalRequest waits up to 20 s for s to hold a pending approval
// request for tool, which approver lists.
func waitApprovalRequest(t *testing.T, s *tsServer, approver *auth.Caller, tool string) approval.Request {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		rs, err := s.in.approvals.gate.List(t.Context(), approver, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Tool == tool {
				return r
			}
		}
	}
	t.Fatalf("no approval request for %s", tool)
	return approval.Request{}
}
