// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/server"
)

// legacyProtocol is a protocol revision with sessions (2026-07-28 has none).
const legacyProtocol = "2025-11-25"

// exchange is one raw HTTP exchange with /mcp.
type exchange struct {
	status int
	header http.Header
	body   string // empty for an SSE stream, which is closed unread
}

// send makes one raw request to base+"/mcp" over rt: method, a bearer
// token and a session id (each left out when empty), extra headers
// ("Host" sets the Host), and a JSON-RPC body for POST.
func send(t *testing.T, rt http.RoundTripper, base, method, tok, sid string, hdr map[string]string, msg any) exchange {
	t.Helper()
	req := mcpRequest(t, method, base, tok, sid, msg)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := (&http.Client{Transport: rt, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, base, err)
	}
	defer resp.Body.Close()
	ex := exchange{status: resp.StatusCode, header: resp.Header}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		ex.body = string(b)
	}
	return ex
}

// do is send to s's loopback listener.
func (s *testServer) do(t *testing.T, method, tok, sid string, hdr map[string]string, msg any) exchange {
	t.Helper()
	return send(t, http.DefaultTransport, s.URL, method, tok, sid, hdr, msg)
}

// initMsg is an initialize request for protocol.
func initMsg(protocol string) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize",
		"params": map[string]any{"protocolVersion": protocol, "capabilities": map[string]any{},
			"clientInfo": map[string]any{"name": "raw-test", "version": "1"}}}
}

var listMsg = map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

// openSession initializes a session over rt and returns its id; it
// fails the test unless the server opened one.
func openSession(t *testing.T, rt http.RoundTripper, base, tok string, hdr map[string]string) string {
	t.Helper()
	ex := send(t, rt, base, "POST", tok, "", hdr, initMsg(legacyProtocol))
	sid := ex.header.Get("Mcp-Session-Id")
	if ex.status != 200 || sid == "" || strings.Contains(ex.body, `"error"`) {
		t.Fatalf("initialize: %d, session %q, %s", ex.status, sid, ex.body)
	}
	return sid
}

// refusedInit initializes over rt, expects the server to refuse a new
// session, and returns the JSON-RPC error message.
func refusedInit(t *testing.T, rt http.RoundTripper, base, tok string) string {
	t.Helper()
	ex := send(t, rt, base, "POST", tok, "", nil, initMsg(legacyProtocol))
	var m struct {
		ID    any `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(ex.body), &m); err != nil || ex.status != 200 || m.Error.Message == "" ||
		ex.header.Get("Mcp-Session-Id") != "" || m.ID != float64(1) {
		t.Fatalf("initialize past the cap: %d, session %q, %s; want a JSON-RPC error for id 1 and no session",
			ex.status, ex.header.Get("Mcp-Session-Id"), ex.body)
	}
	return m.Error.Message
}

// mcpgoHealthCheck connects mark3labs/mcp-go's client to base with tok,
// initializes on protocol (its default when empty), calls health_check,
// closes, and returns the protocol version the server agreed to.
func mcpgoHealthCheck(t *testing.T, base, tok, protocol string) string {
	t.Helper()
	c, err := mcpclient.NewStreamableHttpClient(base+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcpgo.InitializeRequest{}
	init.Params.ProtocolVersion = protocol
	init.Params.ClientInfo = mcpgo.Implementation{Name: "mcp-go-test", Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize %q: %v", protocol, err)
	}
	call := mcpgo.CallToolRequest{}
	call.Params.Name = "health_check"
	if r, err := c.CallTool(ctx, call); err != nil || r.IsError {
		t.Errorf("%s: health_check: %v %+v", res.ProtocolVersion, err, r)
	}
	return res.ProtocolVersion
}

// legacySDKConnect connects the official Go SDK client to base with
// tok, on a protocol revision with sessions (its default, 2026-07-28, has
// none).
func legacySDKConnect(base, tok string) (*sdk.ClientSession, error) {
	c := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: base + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}, DisableStandaloneSSE: true},
		&sdk.ClientSessionOptions{ProtocolVersion: legacyProtocol})
}

// madeUpSessionIDs look like the ids servers hand out (mcp-go's uuid
// form, and 128 random bits in hex) but were never handed out.
func madeUpSessionIDs() []string {
	b := make([]byte, 16)
	rand.Read(b)
	uuid := fmt.Sprintf("mcp-session-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	rand.Read(b)
	return []string{uuid, hex.EncodeToString(b), "x"}
}

// TestSessionEndsOnDeleteAndUnknownIDsGet404 follows the streamable HTTP
// transport's session rules with exact status codes: a request that needs
// a session and has no id is 400; an id the server never handed out is
// 404 for POST, GET and DELETE; DELETE ends a session (200), after which
// its id is 404 everywhere; and a real client's Close ends its session.
func TestSessionEndsOnDeleteAndUnknownIDsGet404(t *testing.T) {
	s := startServer(t)
	tok := s.token(t, "lifecycle", auth.ScopeReadonly)
	sid := openSession(t, http.DefaultTransport, s.URL, tok, nil)
	type req struct {
		method, sid string
		msg         any
		want        int
	}
	cases := []req{
		{"POST", sid, listMsg, 200},
		{"POST", "", listMsg, 400},
		{"POST", "", map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}, 400},
		{"GET", "", nil, 400},
		{"DELETE", "", nil, 400},
	}
	for _, id := range madeUpSessionIDs() {
		cases = append(cases, req{"POST", id, listMsg, 404}, req{"GET", id, nil, 404}, req{"DELETE", id, nil, 404})
	}
	cases = append(cases,
		req{"POST", sid, listMsg, 200},
		req{"GET", sid, nil, 200}, // the session's event stream
		req{"DELETE", sid, nil, 200},
		req{"POST", sid, listMsg, 404},
		req{"GET", sid, nil, 404},
		req{"DELETE", sid, nil, 404},
	)
	for i, c := range cases {
		if ex := s.do(t, c.method, tok, c.sid, nil, c.msg); ex.status != c.want {
			t.Errorf("step %d: %s with session %q: %d %s, want %d", i, c.method, c.sid, ex.status, ex.body, c.want)
		}
	}
	// The answers say what to do.
	if ex := s.do(t, "POST", tok, "", nil, listMsg); !strings.Contains(ex.body, "initialize") {
		t.Errorf("no session id: %q does not say to initialize", ex.body)
	}
	if ex := s.do(t, "POST", tok, sid, nil, listMsg); !strings.Contains(ex.body, "initialize") {
		t.Errorf("ended session: %q does not say to initialize", ex.body)
	}

	// The official Go SDK client ends its session when it closes.
	cs, err := legacySDKConnect(s.URL, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ListTools(context.Background(), nil); err != nil || cs.ID() == "" {
		t.Fatalf("go-sdk session %q: %v", cs.ID(), err)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	if ex := s.do(t, "POST", tok, cs.ID(), nil, listMsg); ex.status != 404 {
		t.Errorf("the closed go-sdk session still answers: %d %s", ex.status, ex.body)
	}
	if n := s.in.srv.OpenSessions(); n != 0 || mcpHolds(s, sid) || mcpHolds(s, cs.ID()) {
		t.Errorf("%d sessions still open, want 0; mcp-go holds the ended ones: %v %v", n, mcpHolds(s, sid), mcpHolds(s, cs.ID()))
	}
}

// TestSessionBelongsToItsCaller: another token — of the same agent, or
// of another agent with more scopes — that presents a session's id can
// neither use it (POST, GET) nor end it (DELETE): 404 as for an unknown
// id, and the attempt is audited. The owner's session goes on working.
func TestSessionBelongsToItsCaller(t *testing.T) {
	s := startServer(t)
	owner := s.token(t, "owner", auth.ScopeReadonly)
	sid := openSession(t, http.DefaultTransport, s.URL, owner, nil)
	intruders := map[string]string{"same agent, another token": s.token(t, "owner", auth.ScopeReadonly),
		"another agent with admin": s.token(t, "stranger", auth.ScopeAdmin)}
	for name, tok := range intruders {
		for _, method := range []string{"POST", "GET", "DELETE"} {
			var msg any
			if method == "POST" {
				msg = listMsg
			}
			if ex := s.do(t, method, tok, sid, nil, msg); ex.status != 404 {
				t.Errorf("%s: %s with the owner's session: %d %s, want 404", name, method, ex.status, ex.body)
			}
		}
	}
	if ex := s.do(t, "POST", owner, sid, nil, listMsg); ex.status != 200 || !strings.Contains(ex.body, "health_check") {
		t.Errorf("the owner's session after the attempts: %d %s", ex.status, ex.body)
	}
	denied := s.records(t, "session_denied")
	if len(denied) != 6 {
		t.Fatalf("%d session_denied records, want 6: %v", len(denied), denied)
	}
	for _, r := range denied {
		if !strings.Contains(fmt.Sprint(r["reason"]), "another caller") || r["decision"] != "denied" ||
			(caller(r)["agent"] != "owner" && caller(r)["agent"] != "stranger") || strings.Contains(fmt.Sprint(r), sid) {
			t.Errorf("session_denied record = %v", r)
		}
	}
}

// TestSessionCapsRefuseInitialize: past --max-sessions-per-caller, and
// past --max-sessions in total, initialize is refused with a JSON-RPC
// error that names the limit and says what to do — raw, and as the
// official Go SDK client shows it — and each refusal is audited. Ending a
// session frees its place.
func TestSessionCapsRefuseInitialize(t *testing.T) {
	s := startServer(t, "--max-sessions", "3", "--max-sessions-per-caller", "2")
	a, b := s.token(t, "a", auth.ScopeReadonly), s.token(t, "b", auth.ScopeReadonly)
	rt := http.DefaultTransport
	a1 := openSession(t, rt, s.URL, a, nil)
	a2 := openSession(t, rt, s.URL, a, nil)
	msg := refusedInit(t, rt, s.URL, a)
	for _, want := range []string{"2 of 2", "--max-sessions-per-caller", "DELETE", "--session-idle-timeout", "5m0s"} {
		if !strings.Contains(msg, want) {
			t.Errorf("per-caller refusal %q lacks %q", msg, want)
		}
	}
	openSession(t, rt, s.URL, b, nil)
	msg = refusedInit(t, rt, s.URL, b)
	for _, want := range []string{"3 of 3", "(--max-sessions)", "DELETE", "--session-idle-timeout"} {
		if !strings.Contains(msg, want) {
			t.Errorf("total refusal %q lacks %q", msg, want)
		}
	}
	// A real client shows the reason.
	_, err := legacySDKConnect(s.URL, b)
	if err == nil || !strings.Contains(err.Error(), "--max-sessions") {
		t.Errorf("go-sdk client past the cap: %v, want the refusal's reason", err)
	}
	// The sessions already open are untouched; ending one makes room.
	if ex := s.do(t, "POST", a, a2, nil, listMsg); ex.status != 200 {
		t.Errorf("a's second session: %d %s", ex.status, ex.body)
	}
	if ex := s.do(t, "DELETE", a, a1, nil, nil); ex.status != 200 {
		t.Fatalf("DELETE: %d %s", ex.status, ex.body)
	}
	openSession(t, rt, s.URL, b, nil)
	denied := s.records(t, "session_denied")
	if len(denied) != 3 {
		t.Fatalf("%d session_denied records, want 3: %v", len(denied), denied)
	}
	for i, agent := range []string{"a", "b", "b"} {
		r := denied[i]
		if caller(r)["agent"] != agent || r["decision"] != "denied" || r["result"] != "denied" ||
			!strings.Contains(fmt.Sprint(r["reason"]), "--max-sessions") {
			t.Errorf("session_denied record %d = %v", i, r)
		}
	}
}

// TestSessionIdleTimeout: a session in use stays open past the idle
// timeout, and so does one whose event stream (GET) is open; one left
// idle for longer ends (404, mcp-go's state of it freed), and its place
// counts no more against the caller's cap.
func TestSessionIdleTimeout(t *testing.T) {
	s := startServer(t, "--session-idle-timeout", "1s", "--max-sessions-per-caller", "1")
	tok, streamer := s.token(t, "idle", auth.ScopeReadonly), s.token(t, "streamer", auth.ScopeReadonly)
	sid := openSession(t, http.DefaultTransport, s.URL, tok, nil)
	streaming := openSession(t, http.DefaultTransport, s.URL, streamer, nil)
	stream, err := http.DefaultClient.Do(mcpRequest(t, "GET", s.URL, streamer, streaming, nil))
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("opening the event stream: %v %v", err, stream)
	}
	defer stream.Body.Close()
	go io.Copy(io.Discard, stream.Body) // the heartbeats
	for range 8 {
		time.Sleep(300 * time.Millisecond)
		if ex := s.do(t, "POST", tok, sid, nil, listMsg); ex.status != 200 {
			t.Fatalf("a session in use expired: %d %s", ex.status, ex.body)
		}
	}
	// mcp-go sweeps every second the sessions idle for a second or more.
	time.Sleep(2500 * time.Millisecond)
	if ex := s.do(t, "POST", tok, sid, nil, listMsg); ex.status != 404 || !strings.Contains(ex.body, "1s") {
		t.Errorf("an idle session: %d %s, want 404 naming the timeout", ex.status, ex.body)
	}
	if mcpHolds(s, sid) {
		t.Error("mcp-go still holds the idle session")
	}
	if ex := s.do(t, "POST", streamer, streaming, nil, listMsg); ex.status != 200 {
		t.Errorf("the session with an open event stream: %d %s", ex.status, ex.body)
	}
	openSession(t, http.DefaultTransport, s.URL, tok, nil)
	if n := s.in.srv.OpenSessions(); n != 2 {
		t.Errorf("%d sessions in the table, want 2", n)
	}
}

// mcpHolds reports whether mcp-go's server still holds session sid.
func mcpHolds(s *testServer, sid string) bool {
	return s.in.srv.SessionHeld(sid)
}

// TestStatelessProtocolNeedsNoSession: protocol 2026-07-28 has no
// sessions. mark3labs/mcp-go's client and the official Go SDK client
// speak it by default and keep working while the only session place is
// taken; no session id is handed out or needed.
func TestStatelessProtocolNeedsNoSession(t *testing.T) {
	s := startServer(t, "--max-sessions", "1", "--max-sessions-per-caller", "1")
	tok := s.token(t, "modern", auth.ScopeReadonly)
	openSession(t, http.DefaultTransport, s.URL, tok, nil)
	refusedInit(t, http.DefaultTransport, s.URL, tok)
	for i := range 3 {
		if v := mcpgoHealthCheck(t, s.URL, tok, ""); v != mcpgo.ProtocolVersion20260728 {
			t.Errorf("mcp-go client %d negotiated %s, want %s", i, v, mcpgo.ProtocolVersion20260728)
		}
	}
	for range 3 {
		cs := sdkSession(t, s.URL, tok)
		if text, isErr := callText(t, cs, "health_check", nil); isErr || cs.ID() != "" {
			t.Errorf("go-sdk on 2026-07-28: %s, session %q", text, cs.ID())
		}
	}
	if n := s.in.srv.OpenSessions(); n != 1 {
		t.Errorf("%d sessions open, want the one legacy session", n)
	}
}

// TestSessionFlags: the session limits come from flags, TAILOPS_*
// variables and config-file keys in that order, and values that would
// switch a limit off stop the server with a message naming the setting.
func TestSessionFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"session_idle_timeout": "2m", "max_sessions": 7, "max_sessions_per_caller": 3}`), 0o600)
	t.Run("defaults", func(t *testing.T) {
		if got := startServer(t).in.cfg.Sessions; got != (server.SessionLimits{IdleTimeout: 5 * time.Minute, Max: 1024, MaxPerCaller: 32}) {
			t.Errorf("defaults %+v", got)
		}
	})
	t.Run("file, environment, flag", func(t *testing.T) {
		t.Setenv("TAILOPS_MAX_SESSIONS", "9")
		got := startServer(t, "--config", cfg, "--max-sessions-per-caller", "4").in.cfg.Sessions
		if got != (server.SessionLimits{IdleTimeout: 2 * time.Minute, Max: 9, MaxPerCaller: 4}) {
			t.Errorf("limits %+v", got)
		}
	})
	for _, tc := range []struct {
		args []string
		file string
		want string
	}{
		{[]string{"--session-idle-timeout", "0s"}, "", "--session-idle-timeout"},
		{[]string{"--max-sessions", "0"}, "", "--max-sessions"},
		{[]string{"--max-sessions-per-caller", "-1"}, "", "--max-sessions-per-caller"},
		{nil, `{"max_sessions": 0}`, `"max_sessions"`},
		{nil, `{"session_idle_timeout": "soon"}`, `"session_idle_timeout"`},
		{nil, `{"max_sessions_per_caller": -2}`, `"max_sessions_per_caller"`},
	} {
		args := append([]string{"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--sandbox", "off"}, tc.args...)
		if tc.file != "" {
			p := filepath.Join(t.TempDir(), "bad.hujson")
			os.WriteFile(p, []byte(tc.file), 0o600)
			args = append(args, "--config", p)
		}
		in, err := setup(context.Background(), args, io.Discard)
		if err == nil {
			in.close()
			t.Errorf("%v %s: started", tc.args, tc.file)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %s: %v, want it to name %s", tc.args, tc.file, err, tc.want)
		}
	}
}

// TestTailnetSessionsBelongToTheNode: over the tailnet (--auth token), a
// caller's cap is its node's, whatever token it sends, and a session
// belongs to the node and token that opened it: the same token from
// another node cannot use it. Browser origins of the node's own names and
// addresses are this server's; others are refused.
func TestTailnetSessionsBelongToTheNode(t *testing.T) {
	tn := labtest.NewTailnet(t, nil)
	alice := tn.Node(t, "alice")
	bob := tn.Node(t, "bob")
	s := startTSServer(t, tn, "tailops-sessions", "--max-sessions-per-caller", "1")
	t1, t2 := s.mint(t, "agent-1", auth.ScopeReadonly), s.mint(t, "agent-2", auth.ScopeReadonly)
	sid := openSession(t, via(alice, ""), s.TailnetURL, t1, nil)
	if msg := refusedInit(t, via(alice, ""), s.TailnetURL, t2); !strings.Contains(msg, "--max-sessions-per-caller") {
		t.Errorf("a second token from the same node: %s", msg)
	}
	openSession(t, via(bob, ""), s.TailnetURL, t1, nil)
	if ex := send(t, via(bob, ""), s.TailnetURL, "POST", t1, sid, nil, listMsg); ex.status != 404 {
		t.Errorf("alice's session from bob with the same token: %d %s, want 404", ex.status, ex.body)
	}
	if ex := send(t, via(alice, ""), s.TailnetURL, "POST", t1, sid, nil, listMsg); ex.status != 200 {
		t.Errorf("alice's session from alice: %d %s", ex.status, ex.body)
	}
	// Origins: the node's address and names (with the port requests
	// reach it on) are its own.
	ip := strings.TrimPrefix(s.TailnetURL, "http://")
	for origin, want := range map[string]int{
		"http://" + ip:              200,
		"http://tailops-sessions":   200,
		"https://tailops-sessions":  403, // port 443, not the port the request came in on
		"http://evil.example":       403,
		"http://" + ip + ":8080":    403,
		"http://alice":              403, // another node's page
		"http://tailops-sessions.x": 403,
	} {
		if ex := send(t, via(alice, ""), s.TailnetURL, "POST", t1, sid, map[string]string{"Origin": origin}, listMsg); ex.status != want {
			t.Errorf("Origin %s: %d %s, want %d", origin, ex.status, ex.body, want)
		}
	}
}
