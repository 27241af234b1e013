// SPDX-License-Identifier: Apache-2.0

package tailnet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tailscale.com/client/local"
	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
)

// TestMain runs the package's tests in a network namespace with only
// loopback: some of them start Tailscale nodes.
func TestMain(m *testing.M) {
	labtest.ReexecInLoopbackNetNS()
	os.Exit(m.Run())
}

const capName = tailnet.DefaultCapability

// whois builds a WhoIs answer: a user-owned node when tags is empty, else
// a tagged one; values are the TailOps capability's values.
func whois(login, node string, tags []string, values ...string) *apitype.WhoIsResponse {
	r := &apitype.WhoIsResponse{
		Node: &tailcfg.Node{
			ID: 7, StableID: "nSTABLE7", Name: node + ".tail1234.ts.net.", Key: key.NewNode().Public(), Tags: tags,
			Addresses: []netip.Prefix{netip.MustParsePrefix("100.64.0.7/32"), netip.MustParsePrefix("fd7a:115c:a1e0::7/128")},
		},
		UserProfile: &tailcfg.UserProfile{LoginName: login, DisplayName: "Display " + login},
	}
	if len(values) > 0 {
		vals := make([]tailcfg.RawMessage, len(values))
		for i, v := range values {
			vals[i] = tailcfg.RawMessage(v)
		}
		r.CapMap = tailcfg.PeerCapMap{capName: vals, "other.example/cap": {`{"scopes":["admin"]}`}}
	}
	return r
}

// fakeWhoIs answers from a table keyed by remote address and counts calls.
type fakeWhoIs struct {
	answers map[string]*apitype.WhoIsResponse
	err     error
	calls   atomic.Int64
}

func (f *fakeWhoIs) WhoIs(_ context.Context, addr string) (*apitype.WhoIsResponse, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	if r, ok := f.answers[addr]; ok {
		return r, nil
	}
	return nil, local.ErrPeerNotFound
}

// TestIdentify drives Identify through the WhoIs seam: what it extracts,
// how grants and the allow-list apply, and how failures come out.
func TestIdentify(t *testing.T) {
	alice := whois("alice@example.com", "laptop", nil, `{"scopes":["readonly"]}`, `{"scopes":["container:write"]}`)
	ci := whois("ops-owner@example.com", "ci-runner", []string{"tag:ci", "tag:ops"}, `{"scopes":["system:read"]}`)
	bad := whois("bob@example.com", "desk", nil, `{"scopes":["readonly","root"]}`, `{"scope":["admin"]}`, `{"scopes":["network:read"]}`)
	none := whois("carol@example.com", "phone", nil)
	f := &fakeWhoIs{answers: map[string]*apitype.WhoIsResponse{
		"100.64.0.7:1001": alice, "100.64.0.8:1002": ci, "100.64.0.9:1003": bad, "100.64.0.10:1004": none,
	}}
	tests := []struct {
		name       string
		addr       string
		allow      []string
		wantErr    error
		wantName   string
		wantTagged bool
		wantGrant  []auth.Scope
		wantAllow  []auth.Scope
		admitted   bool
		rejected   int
	}{
		{name: "user with two grant rules", addr: "100.64.0.7:1001", wantName: "alice@example.com",
			wantGrant: []auth.Scope{auth.ScopeContainerWrite, auth.ScopeReadonly}, admitted: true},
		{name: "tagged node is named by node, not user", addr: "100.64.0.8:1002", wantName: "ci-runner.tail1234.ts.net",
			wantTagged: true, wantGrant: []auth.Scope{auth.ScopeSystemRead}, admitted: true},
		{name: "malformed rules are dropped, never widened", addr: "100.64.0.9:1003", wantName: "bob@example.com",
			wantGrant: []auth.Scope{auth.ScopeNetworkRead}, admitted: true, rejected: 2},
		{name: "no capability", addr: "100.64.0.10:1004", wantName: "carol@example.com", admitted: true},
		{name: "allow-list by tag gives scopes", addr: "100.64.0.8:1002", allow: []string{"tag:ops=readonly+network:diag", "alice@example.com"},
			wantName: "ci-runner.tail1234.ts.net", wantTagged: true, wantGrant: []auth.Scope{auth.ScopeSystemRead},
			wantAllow: []auth.Scope{auth.ScopeNetworkDiag, auth.ScopeReadonly}, admitted: true},
		{name: "allow-list by login name", addr: "100.64.0.7:1001", allow: []string{"tag:ops", "ALICE@example.com"},
			wantName: "alice@example.com", wantGrant: []auth.Scope{auth.ScopeContainerWrite, auth.ScopeReadonly}, admitted: true},
		{name: "not on the allow-list", addr: "100.64.0.10:1004", allow: []string{"tag:ops", "alice@example.com"},
			wantName: "carol@example.com", admitted: false},
		{name: "login name never matches a tagged node", addr: "100.64.0.8:1002", allow: []string{"ops-owner@example.com"},
			wantName: "ci-runner.tail1234.ts.net", wantTagged: true, wantGrant: []auth.Scope{auth.ScopeSystemRead}, admitted: false},
		{name: "unknown peer", addr: "100.64.0.99:1", wantErr: tailnet.ErrUnknownPeer},
		{name: "loopback is unknown too", addr: "127.0.0.1:5555", wantErr: tailnet.ErrUnknownPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow, err := tailnet.ParseAllow(tt.allow)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: f.WhoIs, Allow: allow, CacheTTL: -1,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			p, err := id.Identify(context.Background(), tt.addr)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != tt.wantName || p.Tagged != tt.wantTagged || p.Admitted != tt.admitted {
				t.Errorf("name %q tagged %v admitted %v; want %q %v %v", p.Name(), p.Tagged, p.Admitted, tt.wantName, tt.wantTagged, tt.admitted)
			}
			if !slices.Equal(p.GrantScopes, tt.wantGrant) || !slices.Equal(p.AllowScopes, tt.wantAllow) {
				t.Errorf("grant scopes %v allow scopes %v; want %v %v", p.GrantScopes, p.AllowScopes, tt.wantGrant, tt.wantAllow)
			}
			if len(p.Rejected) != tt.rejected {
				t.Errorf("rejected %+v, want %d", p.Rejected, tt.rejected)
			}
			if tt.rejected > 0 && strings.Count(logs.String(), "ignoring a malformed grant rule") != tt.rejected {
				t.Errorf("want %d log lines about malformed rules:\n%s", tt.rejected, logs.String())
			}
			id0 := p.Identity
			if id0.NodeID != "nSTABLE7" || !slices.Equal(id0.Addresses, []string{"100.64.0.7", "fd7a:115c:a1e0::7"}) ||
				!strings.HasPrefix(id0.DisplayName, "Display ") || id0.NodeName == "" || strings.HasSuffix(id0.NodeName, ".") {
				t.Errorf("identity = %+v", id0)
			}
		})
	}
}

func TestIdentifyWhoIsFailureIsNotUnknownPeer(t *testing.T) {
	f := &fakeWhoIs{err: errors.New("connection refused")}
	id, _ := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: f.WhoIs})
	_, err := id.Identify(context.Background(), "100.64.0.7:1")
	if err == nil || errors.Is(err, tailnet.ErrUnknownPeer) || !strings.Contains(err.Error(), "calling WhoIs") {
		t.Errorf("err = %v, want a wrapped WhoIs failure that is not ErrUnknownPeer", err)
	}
	if _, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{}); err == nil {
		t.Error("NewIdentifier without WhoIs succeeded")
	}
	// An answer without node or user is refused like an unknown peer.
	g := &fakeWhoIs{answers: map[string]*apitype.WhoIsResponse{"100.64.0.7:1": {Node: &tailcfg.Node{}}}}
	id, _ = tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: g.WhoIs})
	if _, err := id.Identify(context.Background(), "100.64.0.7:1"); !errors.Is(err, tailnet.ErrUnknownPeer) {
		t.Errorf("err = %v, want ErrUnknownPeer", err)
	}
}

// TestIdentifySelfIsUnknown: a connection WhoIs names the server's own
// node for (a process on the host dialling the node's tailnet address)
// is no peer: it is refused like an unknown one, whatever the node's
// grants and tags; another node with the same owner still is a peer.
func TestIdentifySelfIsUnknown(t *testing.T) {
	self := whois("owner@example.com", "homelab", []string{"tag:tailops"}, `{"scopes":["admin"]}`)
	other := whois("owner@example.com", "laptop", nil, `{"scopes":["readonly"]}`)
	other.Node.StableID = "nOTHER"
	f := &fakeWhoIs{answers: map[string]*apitype.WhoIsResponse{"100.64.0.7:1": self, "100.64.0.8:1": other}}
	id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: f.WhoIs, Self: func() tailcfg.StableNodeID { return "nSTABLE7" }})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := id.Identify(context.Background(), "100.64.0.7:1"); !errors.Is(err, tailnet.ErrUnknownPeer) || !strings.Contains(fmt.Sprint(err), "own node") {
		t.Errorf("the server's own node: %v %v, want ErrUnknownPeer", p, err)
	}
	if p, err := id.Identify(context.Background(), "100.64.0.8:1"); err != nil || p.Name() != "owner@example.com" {
		t.Errorf("another node: %v %v", p, err)
	}
}

// TestIdentifyHostNodeIsUnknown: in tsnet mode, a node holding one of
// this host's own Tailscale addresses is the host's tailscaled, which
// carries the connections of every local process and container under its
// owner's identity: it is refused like an unknown peer, whatever its
// grants; another node of the same owner is a peer. When the interfaces
// can no longer be listed (the sandbox denies netlink), the last list
// stays in use.
func TestIdentifyHostNodeIsUnknown(t *testing.T) {
	host := whois("owner@example.com", "homelab", nil, `{"scopes":["admin"]}`)
	host.Node.StableID = "nHOST"
	host.Node.Addresses = []netip.Prefix{netip.MustParsePrefix("100.64.0.7/32"), netip.MustParsePrefix("fd7a:115c:a1e0::7/128")}
	other := whois("owner@example.com", "laptop", nil, `{"scopes":["readonly"]}`)
	other.Node.StableID = "nOTHER"
	other.Node.Addresses = []netip.Prefix{netip.MustParsePrefix("100.64.0.8/32")}
	f := &fakeWhoIs{answers: map[string]*apitype.WhoIsResponse{"100.64.0.7:1": host, "100.64.0.8:1": other}}
	calls := 0
	list := func() ([]net.Addr, error) {
		calls++
		if calls > 1 {
			return nil, errors.New("netlink: operation not permitted")
		}
		return []net.Addr{&net.IPNet{IP: net.ParseIP("192.168.1.10"), Mask: net.CIDRMask(24, 32)},
			&net.IPNet{IP: net.ParseIP("fd7a:115c:a1e0::7"), Mask: net.CIDRMask(128, 128)}}, nil
	}
	h := tailnet.NewHostAddrsFrom(list)
	id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: f.WhoIs, Host: h, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if i == 1 {
			h.RefreshNow() // fails: the first list stays
			if calls != 2 {
				t.Fatalf("%d listings, want 2", calls)
			}
		}
		if p, err := id.Identify(context.Background(), "100.64.0.7:1"); !errors.Is(err, tailnet.ErrUnknownPeer) || !strings.Contains(fmt.Sprint(err), "this host's own tailscaled node") {
			t.Errorf("the host's node: %v %v, want ErrUnknownPeer", p, err)
		}
		if p, err := id.Identify(context.Background(), "100.64.0.8:1"); err != nil || p.Name() != "owner@example.com" {
			t.Errorf("another node: %v %v", p, err)
		}
	}
}

// TestIdentifyOffTailnetIsUnknown: a connection a host listener wrapped
// by OffTailnet accepted is refused as an unknown peer even from an
// address WhoIs knows (a LAN host that took a tailnet peer's address),
// and WhoIs is not asked; one accepted by the plain listener is looked up.
func TestIdentifyOffTailnetIsUnknown(t *testing.T) {
	f := &fakeWhoIs{answers: map[string]*apitype.WhoIsResponse{"127.0.0.1:1": whois("alice@example.com", "laptop", nil, `{"scopes":["admin"]}`)}}
	id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: f.WhoIs})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		off  bool
	}{{"plain listener", false}, {"off the tailnet", true}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if tc.off {
			ln = tailnet.OffTailnet(ln)
		}
		go func() {
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Close()
			}
		}()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		ln.Close()
		before := f.calls.Load()
		p, err := id.Identify(tailnet.WithConn(context.Background(), c), "127.0.0.1:1")
		switch {
		case tc.off && (!errors.Is(err, tailnet.ErrUnknownPeer) || f.calls.Load() != before):
			t.Errorf("%s: %v %v (WhoIs asked %d times), want ErrUnknownPeer without asking", tc.name, p, err, f.calls.Load()-before)
		case !tc.off && (err != nil || p.Name() != "alice@example.com"):
			t.Errorf("%s: %v %v, want alice", tc.name, p, err)
		}
	}
}

// TestIdentifyCache shows that WhoIs runs once per connection (or remote
// address) per TTL, that the TTL bounds staleness, and that failures are
// not cached.
func TestIdentifyCache(t *testing.T) {
	f := &fakeWhoIs{answers: map[string]*apitype.WhoIsResponse{
		"100.64.0.7:1001": whois("alice@example.com", "laptop", nil, `{"scopes":["readonly"]}`),
	}}
	now := time.Unix(1_700_000_000, 0)
	id, _ := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: f.WhoIs, Now: func() time.Time { return now }})
	ctx := context.Background()
	for range 100 {
		if _, err := id.Identify(ctx, "100.64.0.7:1001"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("100 lookups within the TTL made %d WhoIs calls, want 1", n)
	}
	// The grant changes; until the TTL runs out the cached answer stays.
	f.answers["100.64.0.7:1001"] = whois("alice@example.com", "laptop", nil, `{"scopes":["admin"]}`)
	now = now.Add(tailnet.DefaultCacheTTL - time.Millisecond)
	p, _ := id.Identify(ctx, "100.64.0.7:1001")
	if !slices.Equal(p.GrantScopes, []auth.Scope{auth.ScopeReadonly}) {
		t.Fatalf("within the TTL: %v", p.GrantScopes)
	}
	now = now.Add(2 * time.Millisecond)
	p, _ = id.Identify(ctx, "100.64.0.7:1001")
	if !slices.Equal(p.GrantScopes, []auth.Scope{auth.ScopeAdmin}) || f.calls.Load() != 2 {
		t.Fatalf("after the TTL: %v, %d calls", p.GrantScopes, f.calls.Load())
	}
	// Another port of the same peer is another connection: its own entry.
	f.answers["100.64.0.7:1002"] = f.answers["100.64.0.7:1001"]
	id.Identify(ctx, "100.64.0.7:1002")
	if f.calls.Load() != 3 {
		t.Errorf("a new remote address did not call WhoIs")
	}
	// Unknown peers are looked up every time.
	for range 3 {
		id.Identify(ctx, "100.64.0.66:1")
	}
	if f.calls.Load() != 6 {
		t.Errorf("unknown peers: %d calls, want 6", f.calls.Load())
	}
	// Per connection: a new connection from a cached address (a reused
	// port) is looked up afresh; the old one stays cached.
	f.calls.Store(0)
	conn1 := tailnet.WithConn(ctx, nil)
	conn2 := tailnet.WithConn(ctx, nil)
	for range 3 {
		id.Identify(conn1, "100.64.0.7:1001")
	}
	if f.calls.Load() != 1 {
		t.Errorf("one connection: %d calls, want 1", f.calls.Load())
	}
	id.Identify(conn2, "100.64.0.7:1001")
	if f.calls.Load() != 2 {
		t.Errorf("a second connection on the same address: %d calls, want 2", f.calls.Load())
	}
	// A negative TTL turns the cache off.
	f.calls.Store(0)
	off, _ := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: f.WhoIs, CacheTTL: -1})
	for range 3 {
		off.Identify(ctx, "100.64.0.7:1001")
	}
	if f.calls.Load() != 3 {
		t.Errorf("without cache: %d calls, want 3", f.calls.Load())
	}
}

func TestParseAllow(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string // String() of each entry
		wantErr string
	}{
		{in: nil, want: nil},
		{in: []string{"tag:ops", " alice@example.com "}, want: []string{"tag:ops", "alice@example.com"}},
		{in: []string{"tag:ops=readonly+container:write"}, want: []string{"tag:ops=readonly+container:write"}},
		{in: []string{"tag:ops=root"}, wantErr: `unknown scope "root"`},
		{in: []string{"tag:ops="}, wantErr: "no scopes"},
		{in: []string{"group:ops"}, wantErr: "groups live in the tailnet policy"},
		{in: []string{"autogroup:member"}, wantErr: "groups live in the tailnet policy"},
		{in: []string{"tag:"}, wantErr: "malformed tag"},
		{in: []string{"alice", "bob@"}, want: []string{"alice", "bob@"}}, // Headscale login names
		{in: []string{"a b"}, wantErr: "want tag:NAME or a login name"},
		{in: []string{"http://x"}, wantErr: "want tag:NAME or a login name"},
		{in: []string{"@example.com"}, wantErr: "want tag:NAME or a login name"},
		{in: []string{"*"}, wantErr: "want tag:NAME or a login name"},
	}
	for _, tt := range tests {
		got, err := tailnet.ParseAllow(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAllow(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAllow(%q): %v", tt.in, err)
			continue
		}
		var s []string
		for _, e := range got {
			s = append(s, e.String())
		}
		if !slices.Equal(s, tt.want) {
			t.Errorf("ParseAllow(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
}

// TestCallerAndRefusal is the decision table of the three auth modes.
func TestCallerAndRefusal(t *testing.T) {
	user := &tailnet.Peer{Identity: auth.TailscaleIdentity{LoginName: "alice@example.com", NodeName: "laptop"}, Admitted: true}
	granted := *user
	granted.GrantScopes = []auth.Scope{auth.ScopeReadonly}
	allowOnly := *user
	allowOnly.AllowScopes = []auth.Scope{auth.ScopeNetworkDiag}
	outsider := *user
	outsider.Admitted = false
	outsider.GrantScopes = []auth.Scope{auth.ScopeAdmin}
	badRules := *user
	badRules.Rejected = []auth.RejectedGrant{{Rule: `{"scope":1}`, Reason: `parsing rule: unknown field "scope"`}}
	admin := &auth.Caller{Agent: "ci-bot", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeAdmin}}
	files := &auth.Caller{Agent: "ci-bot", Method: auth.MethodJWT, Scopes: []auth.Scope{auth.ScopeFileRead}}

	tests := []struct {
		name       string
		mode       tailnet.AuthMode
		peer       *tailnet.Peer
		tok        *auth.Caller
		refusal    string // substring; "" means admitted
		wantAgent  string
		wantMethod auth.Method
		wantScopes []auth.Scope
	}{
		{name: "token mode: token scopes, identity recorded", mode: tailnet.AuthToken, peer: user, tok: admin,
			wantAgent: "ci-bot", wantMethod: auth.MethodHMAC, wantScopes: []auth.Scope{auth.ScopeAdmin}},
		{name: "token mode needs no grant", mode: tailnet.AuthToken, peer: user, tok: files,
			wantAgent: "ci-bot", wantMethod: auth.MethodJWT, wantScopes: []auth.Scope{auth.ScopeFileRead}},
		{name: "tailscale mode: grant scopes", mode: tailnet.AuthTailscale, peer: &granted,
			wantAgent: "alice@example.com", wantMethod: auth.MethodTailscale, wantScopes: []auth.Scope{auth.ScopeReadonly}},
		{name: "tailscale mode: allow-list scopes", mode: tailnet.AuthTailscale, peer: &allowOnly,
			wantAgent: "alice@example.com", wantMethod: auth.MethodTailscale, wantScopes: []auth.Scope{auth.ScopeNetworkDiag}},
		{name: "tailscale mode: no grant is refused", mode: tailnet.AuthTailscale, peer: user, refusal: "has no grant"},
		{name: "tailscale mode: malformed rules are named", mode: tailnet.AuthTailscale, peer: &badRules, refusal: "malformed rule"},
		{name: "both: intersection narrows the token", mode: tailnet.AuthBoth, peer: &granted, tok: admin,
			wantAgent: "ci-bot", wantMethod: auth.MethodHMAC,
			wantScopes: []auth.Scope{auth.ScopeContainerRead, auth.ScopeFileRead, auth.ScopeNetworkRead, auth.ScopeReadonly, auth.ScopeSystemRead}},
		{name: "both: intersection narrows the grant", mode: tailnet.AuthBoth, peer: &granted, tok: files,
			wantAgent: "ci-bot", wantMethod: auth.MethodJWT, wantScopes: []auth.Scope{auth.ScopeFileRead}},
		{name: "both: disjoint leaves nothing", mode: tailnet.AuthBoth, peer: &allowOnly, tok: files,
			wantAgent: "ci-bot", wantMethod: auth.MethodJWT, wantScopes: []auth.Scope{}},
		{name: "both: no grant is refused", mode: tailnet.AuthBoth, peer: user, tok: admin, refusal: "has no grant"},
		{name: "allow-list refuses in every mode", mode: tailnet.AuthToken, peer: &outsider, tok: admin, refusal: "not on the allow-list"},
		{name: "allow-list refuses with a grant too", mode: tailnet.AuthTailscale, peer: &outsider, refusal: "not on the allow-list"},
		{name: "loopback by token", mode: tailnet.AuthToken, peer: nil, tok: admin,
			wantAgent: "ci-bot", wantMethod: auth.MethodHMAC, wantScopes: []auth.Scope{auth.ScopeAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.peer != nil {
				r := tt.peer.Refusal(tt.mode)
				if tt.refusal != "" {
					if !strings.Contains(r, tt.refusal) {
						t.Fatalf("refusal = %q, want %q", r, tt.refusal)
					}
					return
				}
				if r != "" {
					t.Fatalf("refused: %s", r)
				}
			}
			c := tailnet.Caller(tt.mode, tt.peer, tt.tok)
			if c.Agent != tt.wantAgent || c.Method != tt.wantMethod || !slices.Equal(c.Scopes, tt.wantScopes) {
				t.Errorf("caller = %s %s %v; want %s %s %v", c.Agent, c.Method, c.Scopes, tt.wantAgent, tt.wantMethod, tt.wantScopes)
			}
			if (tt.peer == nil) != (c.Tailscale == nil) {
				t.Errorf("tailscale identity = %+v", c.Tailscale)
			}
			if tt.tok != nil && c == tt.tok {
				t.Error("Caller returned the token's caller itself; it must not be changed")
			}
		})
	}
}

func TestParseModes(t *testing.T) {
	for in, want := range map[string]tailnet.Mode{"": tailnet.ModeOff, "off": tailnet.ModeOff, "tsnet": tailnet.ModeTSNet, "local": tailnet.ModeLocal} {
		got, err := tailnet.ParseMode(in)
		if want == tailnet.ModeTSNet && !tailnet.TSNetBuilt { // built with -tags tailops_notsnet
			if err == nil || !strings.Contains(err.Error(), "no tsnet mode") {
				t.Errorf("ParseMode(tsnet) in a build without it = %q, %v", got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := tailnet.ParseMode("funnel"); err == nil {
		t.Error("ParseMode(funnel) succeeded")
	}
	for in, want := range map[string]tailnet.AuthMode{"": tailnet.AuthToken, "token": tailnet.AuthToken, "tailscale": tailnet.AuthTailscale, "both": tailnet.AuthBoth} {
		if got, err := tailnet.ParseAuthMode(in); err != nil || got != want {
			t.Errorf("ParseAuthMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := tailnet.ParseAuthMode("either"); err == nil {
		t.Error("ParseAuthMode(either) succeeded")
	}
	for _, a := range []string{"127.0.0.1:80", "[::1]:80", "[::ffff:127.0.0.1]:80"} {
		if !tailnet.IsLoopback(a) {
			t.Errorf("IsLoopback(%s) = false", a)
		}
	}
	for _, a := range []string{"100.64.0.1:80", "[fd7a:115c:a1e0::1]:80", "garbage"} {
		if tailnet.IsLoopback(a) {
			t.Errorf("IsLoopback(%s) = true", a)
		}
	}
	if h := tailnet.DefaultHostname(); !strings.HasPrefix(h, "tailops") || strings.ContainsAny(h, ". _") {
		t.Errorf("DefaultHostname() = %q", h)
	}
}
