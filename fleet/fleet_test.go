// SPDX-License-Identifier: Apache-2.0

package fleet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
	"tailscale.com/types/views"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
)

// netmap is a Node whose status is fixed and that dials nothing: the
// netmap of a tailnet, as Status reports it (a stand-in for the tsnet
// node; TestFleet in package main runs a real one).
type netmap struct{ st *ipnstate.Status }

func (n netmap) Status(context.Context) (*ipnstate.Status, error) { return n.st, nil }
func (n netmap) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Err: net.ErrClosed}
}

func peer(name, dns string, online bool, addr string, tags ...string) *ipnstate.PeerStatus {
	t := views.SliceOf(tags)
	return &ipnstate.PeerStatus{ID: tailcfg.StableNodeID(name), HostName: name, DNSName: dns, Online: online,
		TailscaleIPs: []netip.Addr{netip.MustParseAddr(addr), netip.MustParseAddr("fd7a:115c:a1e0::" + strings.TrimPrefix(addr, "100.64.0."))},
		Tags:         &t, LastSeen: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
}

func testFleet(t *testing.T) *Fleet {
	t.Helper()
	st := &ipnstate.Status{
		Self: peer("entry", "entry.example.ts.net.", true, "100.64.0.1", "tag:tailops"),
		Peer: map[key.NodePublic]*ipnstate.PeerStatus{
			key.NewNode().Public(): peer("nas", "nas.example.ts.net.", true, "100.64.0.2", "tag:tailops"),
			key.NewNode().Public(): peer("pi", "pi.example.ts.net.", false, "100.64.0.3", "tag:tailops", "tag:arm"),
			key.NewNode().Public(): peer("laptop", "laptop.example.ts.net.", true, "100.64.0.4"),
			key.NewNode().Public(): peer("printer", "", true, "100.64.0.5", "tag:iot"),
		},
	}
	f, err := New(Config{Tags: []string{"tag:tailops"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Attach(netmap{st})
	return f
}

// TestMembers: members are the peers with a fleet tag, online or not,
// sorted; the entry itself and untagged peers are not; a peer that does
// not answer is not TailOps, with why.
func TestMembers(t *testing.T) {
	ms, err := testFleet(t).Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "nas.example.ts.net" || ms[1].Name != "pi.example.ts.net" {
		t.Fatalf("members %+v, want nas and pi", ms)
	}
	nas, pi := ms[0], ms[1]
	if !nas.Online || nas.TailOps || nas.Problem == "" || nas.Reachable() {
		t.Errorf("nas (online, answers nothing): %+v", nas)
	}
	if pi.Online || pi.Problem != "offline" || pi.LastSeen != "2026-12-01T10:00:00Z" {
		t.Errorf("pi (offline): %+v", pi)
	}
	if got := candidates(nas); len(got) != 2 || got[0] != "http://100.64.0.2" || got[1] != "https://nas.example.ts.net" {
		t.Errorf("nas's candidate URLs %v", got)
	}
}

// TestLookup: a member by full name, first label, host name or address;
// errors name the node and the members.
func TestLookup(t *testing.T) {
	f := testFleet(t)
	tests := []struct {
		node, wantErr string
	}{
		{"nas", "does not answer as TailOps"},
		{"NAS.example.ts.net.", "does not answer as TailOps"},
		{"100.64.0.2", "does not answer as TailOps"},
		{"pi", "is offline (last seen 2026-12-01T10:00:00Z)"},
		{"laptop", `no fleet member "laptop" on the tailnet: the members (peers tagged tag:tailops) are nas.example.ts.net, pi.example.ts.net`},
		{"entry", `no fleet member "entry"`},
		{"", `no fleet member ""`},
	}
	for _, tt := range tests {
		_, err := f.Lookup(context.Background(), tt.node)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Lookup(%q) = %v, want %q", tt.node, err, tt.wantErr)
		}
	}
	for node, want := range map[string]bool{"": true, "entry": true, "entry.example.ts.net": true, "100.64.0.1": true, "nas": false, "entr": false} {
		if got := f.Self(context.Background(), node); got != want {
			t.Errorf("Self(%q) = %v, want %v", node, got, want)
		}
	}
}

// TestLookupAmbiguous: a name is looked for as a MagicDNS name, an
// address, a first label, then a host name (which each node sets
// itself), and the first level that matches decides; two members at that
// level are an error naming both, never a pick.
func TestLookupAmbiguous(t *testing.T) {
	web1 := peer("web-1", "web-1.example.ts.net.", true, "100.64.0.3", "tag:tailops")
	web1.HostName = "web" // claims the other member's first label
	dbA, dbB := peer("db-a", "db-a.example.ts.net.", true, "100.64.0.4", "tag:tailops"), peer("db-b", "db-b.example.ts.net.", true, "100.64.0.5", "tag:tailops")
	dbA.HostName, dbB.HostName = "db", "db"
	short := peer("100.64.0.2", "short.example.ts.net.", true, "100.64.0.6", "tag:tailops") // a host name that is an address
	self := peer("web", "entry.example.ts.net.", true, "100.64.0.1", "tag:tailops")         // its host name is a member's first label
	st := &ipnstate.Status{Self: self,
		Peer: map[key.NodePublic]*ipnstate.PeerStatus{
			key.NewNode().Public(): peer("web", "web.example.ts.net.", true, "100.64.0.2", "tag:tailops"),
			key.NewNode().Public(): web1, key.NewNode().Public(): dbA, key.NewNode().Public(): dbB, key.NewNode().Public(): short,
		}}
	f, err := New(Config{Tags: []string{"tag:tailops"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Attach(netmap{st})
	tests := []struct{ node, wantErr string }{
		{"web", "node web.example.ts.net carries a fleet tag"},
		{"web-1", "node web-1.example.ts.net carries a fleet tag"},
		{"100.64.0.2", "node web.example.ts.net carries a fleet tag"},
		{"db", `"db" names 2 fleet members (db-a.example.ts.net, db-b.example.ts.net): give the full MagicDNS name or an address`},
		{"db-b", "node db-b.example.ts.net carries a fleet tag"},
	}
	for range 20 { // the netmap's peers come in a random order
		for _, tt := range tests {
			if _, err := f.Lookup(context.Background(), tt.node); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Lookup(%q) = %v, want %q", tt.node, err, tt.wantErr)
			}
		}
	}
	// The same order decides between this node and a member.
	for node, want := range map[string]bool{"web": false, "entry": true, "entry.example.ts.net": true, "100.64.0.1": true, "web.example.ts.net": false} {
		if got := f.Self(context.Background(), node); got != want {
			t.Errorf("Self(%q) = %v, want %v", node, got, want)
		}
	}
}

// recordingNode is a loopbackNode that records the addresses it is asked
// to dial.
type recordingNode struct {
	loopbackNode
	mu     *sync.Mutex
	dialed *[]string
}

func (n recordingNode) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	*n.dialed = append(*n.dialed, addr)
	n.mu.Unlock()
	return n.loopbackNode.Dial(ctx, network, addr)
}

// TestHTTPSMemberProbedOnceAndRedialled: a member serving HTTPS at its
// name is probed once, not on every call, and once its name moves to
// another address both the probe and the calls go to the new address.
func TestHTTPSMemberProbedOnceAndRedialled(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"nas.example.ts.net"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	var probes atomic.Int32
	member := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(tailnet.VersionHeader, "test")
		if r.URL.Path == "/healthz" {
			probes.Add(1)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}`))
	}))
	member.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: k}}}
	member.StartTLS()
	defer member.Close()
	nas := peer("nas", "nas.example.ts.net.", true, "100.64.0.2", "tag:tailops")
	st := &ipnstate.Status{Self: peer("entry", "entry.example.ts.net.", true, "100.64.0.1"),
		Peer: map[key.NodePublic]*ipnstate.PeerStatus{key.NewNode().Public(): nas}}
	f, err := New(Config{Tags: []string{"tag:tailops"}})
	if err != nil {
		t.Fatal(err)
	}
	node := recordingNode{loopbackNode{netmap{st}, strings.TrimPrefix(member.URL, "https://")}, &sync.Mutex{}, &[]string{}}
	f.Attach(node)
	ctx := auth.WithCaller(context.Background(), &auth.Caller{})
	call := func() {
		t.Helper()
		if _, err := f.Call(ctx, "nas", "health_check", nil, mcp.ClientCapabilities{}, mcp.MultiRoundTripParams{}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		call()
	}
	if n := probes.Load(); n != 1 {
		t.Errorf("three calls probed the member %d times, want 1", n)
	}
	nas.TailscaleIPs = []netip.Addr{netip.MustParseAddr("100.64.0.9")}
	f.mu.Lock()
	f.status = nil // as if the netmap's snapshot had expired
	f.mu.Unlock()
	node.mu.Lock()
	*node.dialed = nil
	node.mu.Unlock()
	call()
	if n := probes.Load(); n != 2 {
		t.Errorf("after the address changed the member was probed %d times in all, want 2", n)
	}
	node.mu.Lock()
	defer node.mu.Unlock()
	if !slices.Contains(*node.dialed, "100.64.0.9:443") {
		t.Errorf("after the address changed, dials %v: none to the new address", *node.dialed)
	}
	for _, addr := range *node.dialed {
		if !strings.HasPrefix(addr, "100.64.0.9:") {
			t.Errorf("after the address changed, a dial to %s", addr)
		}
	}
}

// TestNew: tags must look like tag:NAME.
func TestNew(t *testing.T) {
	for _, tags := range [][]string{nil, {"tailops"}, {"tag:"}, {"tag:ok", "group:x"}} {
		if _, err := New(Config{Tags: tags}); err == nil {
			t.Errorf("New(%q) accepted", tags)
		}
	}
	if _, err := (&Fleet{}).snapshot(context.Background()); err == nil {
		t.Error("a fleet without a node answered")
	}
}

// TestForwardHeaders: the caller's token and first IPv4 tailnet address
// go with a forwarded call; a caller outside the tailnet is "none".
func TestForwardHeaders(t *testing.T) {
	ts := &auth.TailscaleIdentity{Addresses: []string{"fd7a:115c:a1e0::7", "100.64.0.7"}}
	tests := []struct {
		caller *auth.Caller
		tok    string
		want   map[string]string
	}{
		{&auth.Caller{Tailscale: ts}, "", map[string]string{tailnet.FleetCallerHeader: "100.64.0.7"}},
		{&auth.Caller{Tailscale: ts}, "tok", map[string]string{tailnet.FleetCallerHeader: "100.64.0.7", "Authorization": "Bearer tok"}},
		{&auth.Caller{}, "tok", map[string]string{tailnet.FleetCallerHeader: tailnet.FleetNoCaller, "Authorization": "Bearer tok"}},
		{nil, "", map[string]string{tailnet.FleetCallerHeader: tailnet.FleetNoCaller}},
		{&auth.Caller{Tailscale: &auth.TailscaleIdentity{Addresses: []string{"fd7a:115c:a1e0::9"}}}, "", map[string]string{tailnet.FleetCallerHeader: "fd7a:115c:a1e0::9"}},
	}
	for i, tt := range tests {
		ctx := auth.WithCaller(context.Background(), tt.caller)
		if tt.tok != "" {
			ctx = auth.WithBearer(ctx, tt.tok)
		}
		got := forwardHeaders(ctx)
		if len(got) != len(tt.want) {
			t.Errorf("%d: headers %v, want %v", i, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%d: %s = %q, want %q", i, k, got[k], v)
			}
		}
	}
}

// TestMemberTLS: a member's certificate must be for its name and current;
// its chain is not what authenticates the member (the tailnet does).
func TestMemberTLS(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name      string
		dnsNames  []string
		notBefore time.Time
		notAfter  time.Time
		wantErr   string
	}{
		{"for the name", []string{"nas.example.ts.net"}, now.Add(-time.Hour), now.Add(time.Hour), ""},
		{"another name", []string{"evil.example.ts.net"}, now.Add(-time.Hour), now.Add(time.Hour), "not nas.example.ts.net"},
		{"expired", []string{"nas.example.ts.net"}, now.Add(-2 * time.Hour), now.Add(-time.Hour), "not valid now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: tt.dnsNames, NotBefore: tt.notBefore, NotAfter: tt.notAfter}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
			if err != nil {
				t.Fatal(err)
			}
			leaf, _ := x509.ParseCertificate(der)
			err = memberTLS("nas.example.ts.net").VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}})
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("VerifyConnection = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if err := memberTLS("nas").VerifyConnection(tls.ConnectionState{}); err == nil {
		t.Error("no certificate accepted")
	}
}

// loopbackNode is a Node whose netmap has one tagged member, and that
// dials every address at target instead (a member played by an
// httptest server on loopback).
type loopbackNode struct {
	netmap
	target string
}

func (n loopbackNode) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, n.target)
}

// loopbackFleet is a Fleet whose one member, nas, is played by the
// server at url.
func loopbackFleet(t *testing.T, url string) *Fleet {
	t.Helper()
	st := &ipnstate.Status{Self: peer("entry", "", true, "100.64.0.1"),
		Peer: map[key.NodePublic]*ipnstate.PeerStatus{key.NewNode().Public(): peer("nas", "", true, "100.64.0.2", "tag:tailops")}}
	f, err := New(Config{Tags: []string{"tag:tailops"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Attach(loopbackNode{netmap{st}, strings.TrimPrefix(url, "http://")})
	return f
}

// TestMemberRedirectRefused: a member that answers a forwarded call with
// a redirect to another host gets no second request: the caller's token
// and address go to the member named and nowhere else (GO-2026-6911, the
// mcp-go client following Location with the caller's headers).
func TestMemberRedirectRefused(t *testing.T) {
	var leaked, asked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Add(1) }))
	defer elsewhere.Close()
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(tailnet.VersionHeader, "test")
		if r.URL.Path == "/healthz" {
			return
		}
		if r.URL.Path == "/elsewhere" {
			asked.Add(1) // a followed redirect
			return
		}
		http.Redirect(w, r, elsewhere.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer member.Close()
	f := loopbackFleet(t, member.URL)
	ctx := auth.WithBearer(auth.WithCaller(context.Background(), &auth.Caller{}), "secret-token")
	_, err := f.Call(ctx, "nas", "health_check", nil, mcp.ClientCapabilities{}, mcp.MultiRoundTripParams{})
	// The members' clients dial the member's address whatever the URL
	// says, so a followed redirect would come back to the member, for the
	// redirect's path: it must never see one.
	if err == nil || leaked.Load() != 0 || asked.Load() != 0 {
		t.Fatalf("call through a redirecting member: %v; redirects followed: %d to the member, %d elsewhere", err, asked.Load(), leaked.Load())
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("the error carries the token: %v", err)
	}
}

// TestForwardedCallGoesNoFurther: for a caller a fleet entry node
// forwarded here, no request leaves for a member — not a call naming a
// node, not fleet_status' questions, not list_hosts' tool listing — and
// the error says why; the same calls from a caller who came directly
// reach the member.
func TestForwardedCallGoesNoFurther(t *testing.T) {
	var asked atomic.Int32
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(tailnet.VersionHeader, "test")
		if r.URL.Path == "/healthz" {
			return
		}
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}],"tools":[]}}`))
	}))
	defer member.Close()
	f := loopbackFleet(t, member.URL)
	direct := auth.WithCaller(context.Background(), &auth.Caller{})
	m, err := f.Lookup(direct, "nas")
	if err != nil {
		t.Fatal(err)
	}
	forwarded := auth.WithBearer(auth.WithCaller(context.Background(), &auth.Caller{Via: &auth.TailscaleIdentity{NodeName: "entry-1"}}), "secret-token")
	requests := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"Call", func(ctx context.Context) error {
			_, err := f.Call(ctx, "nas", "health_check", nil, mcp.ClientCapabilities{}, mcp.MultiRoundTripParams{})
			return err
		}},
		{"CallMember", func(ctx context.Context) error { _, err := f.CallMember(ctx, m, "get_system_status", nil); return err }},
		{"ListTools", func(ctx context.Context) error { _, err := f.ListTools(ctx, m); return err }},
	}
	for _, r := range requests {
		err := r.do(forwarded)
		if err == nil || !strings.Contains(err.Error(), "forwarded by entry-1 cannot be forwarded again") || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%s for a forwarded caller: %v", r.name, err)
		}
		if n := asked.Load(); n != 0 {
			t.Fatalf("%s for a forwarded caller reached the member (%d requests)", r.name, n)
		}
	}
	for _, r := range requests {
		if err := r.do(direct); err != nil {
			t.Errorf("%s for a direct caller: %v", r.name, err)
		}
	}
	if n := asked.Load(); n != int32(len(requests)) {
		t.Errorf("the member got %d requests from direct callers, want %d", n, len(requests))
	}
}

// TestCallRelaysConfirmation: a member's input_required answer comes back
// whole (its question and request state), and the retry carries the
// answers, the member's request state and the caller's elicitation
// capability; a call that is no retry carries neither.
func TestCallRelaysConfirmation(t *testing.T) {
	var got []map[string]any
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(tailnet.VersionHeader, "test")
		if r.URL.Path == "/healthz" {
			return
		}
		var msg struct {
			Params map[string]any `json:"params"`
		}
		json.NewDecoder(r.Body).Decode(&msg)
		got = append(got, msg.Params)
		w.Header().Set("Content-Type", "application/json")
		if msg.Params["requestState"] == nil {
			w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","requestState":"member-state",` +
				`"inputRequests":{"confirm":{"method":"elicitation/create","params":{"mode":"form","message":"sure?","requestedSchema":{"type":"object"}}}}}}`))
			return
		}
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"restarted"}]}}`))
	}))
	defer member.Close()
	f := loopbackFleet(t, member.URL)
	ctx := auth.WithCaller(context.Background(), &auth.Caller{})
	caps := mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{}}
	args := map[string]any{"container": "web"}

	asked, err := f.Call(ctx, "nas", "restart_container", args, caps, mcp.MultiRoundTripParams{})
	if err != nil {
		t.Fatal(err)
	}
	q, ok := asked.InputRequests["confirm"]
	if !asked.NeedsInput() || asked.RequestState != "member-state" || !ok || q.Elicitation == nil || q.Elicitation.Message != "sure?" {
		t.Fatalf("the member's question came back as %+v", asked)
	}
	yes := mcp.InputResponses{"confirm": mcp.NewElicitationInputResponse(mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"confirm": true}}})}
	res, err := f.Call(ctx, "nas", "restart_container", args, caps, mcp.MultiRoundTripParams{InputResponses: yes, RequestState: asked.RequestState})
	if err != nil || res.NeedsInput() || res.IsError {
		t.Fatalf("the retry: %+v %v", res, err)
	}
	if len(got) != 2 {
		t.Fatalf("the member got %d requests, want 2", len(got))
	}
	if _, ok := got[0]["inputResponses"]; ok {
		t.Errorf("the first call carries answers: %v", got[0])
	}
	retry, _ := json.Marshal(got[1])
	for _, want := range []string{`"requestState":"member-state"`, `"inputResponses":{"confirm":{"action":"accept","content":{"confirm":true}}}`, `"elicitation":{`, `"arguments":{"container":"web"}`} {
		if !strings.Contains(string(retry), want) {
			t.Errorf("the retry %s lacks %s", retry, want)
		}
	}
	if b, _ := json.Marshal(got[0]); !strings.Contains(string(b), `"elicitation"`) {
		t.Errorf("the caller's elicitation capability was not declared: %s", b)
	}
	m, err := f.Lookup(ctx, "nas")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CallMember(ctx, m, "restart_container", args); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(got[2]); strings.Contains(string(b), `"elicitation"`) {
		t.Errorf("CallMember declared the elicitation capability: %s", b)
	}
}

// TestFromStream: the response is found among an event stream's events,
// after notifications, across data lines; a stream without one is an
// error.
func TestFromStream(t *testing.T) {
	tests := []struct {
		name, stream, wantResult, wantErr string
	}{
		{"one event", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}\n\n", `{"ok":true}`, ""},
		{"after progress", "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n", `{}`, ""},
		{"split data lines", "data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":1,\"result\":[1]}\n", `[1]`, ""},
		{"an error", "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"no\"}}\n\n", "", ""},
		{"no response", ": ping\n\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n", "", "without a response"},
		{"empty", "", "", "without a response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := fromStream(strings.NewReader(tt.stream))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(a.Result) != tt.wantResult || (tt.wantResult == "" && a.Error == nil) {
				t.Errorf("fromStream = %s %+v %v", a.Result, a.Error, err)
			}
		})
	}
}

// FuzzFromStream: any stream a member sends is read without a panic, and
// what is returned is a response (an id and a result or an error).
func FuzzFromStream(f *testing.F) {
	for _, s := range []string{"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n", "data: x\n\n", ":\n\n", "data:\ndata:\n", "data: {\"id\":1,\"error\":{}}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := fromStream(bytes.NewReader(b))
		if err == nil && (len(a.ID) == 0 || (a.Result == nil && a.Error == nil)) {
			t.Fatalf("returned a non-response %+v from %q", a, b)
		}
	})
}
