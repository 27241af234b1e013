// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// modernRPC posts a 2026-07-28 JSON-RPC message (a request when id is not
// nil) with tok; meta false leaves out the _meta protocol version, as the
// Go SDK does on notifications.
func modernRPC(ctx context.Context, t *testing.T, cs *chokeServer, tok string, id any, method string, params map[string]any, meta bool) *http.Response {
	t.Helper()
	return postRPC(ctx, t, cs, tok, mcp.LATEST_PROTOCOL_VERSION, id, method, params, meta)
}

// postRPC is modernRPC with the MCP-Protocol-Version header's value
// (none when empty) and no session.
func postRPC(ctx context.Context, t *testing.T, cs *chokeServer, tok, version string, id any, method string, params map[string]any, meta bool) *http.Response {
	t.Helper()
	if meta {
		params["_meta"] = map[string]any{mcp.MetaKeyProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, mcp.MetaKeyClientCapabilities: map[string]any{},
			mcp.MetaKeyClientInfo: map[string]any{"name": "raw", "version": "1"}}
	}
	msg := map[string]any{"jsonrpc": "2.0", "method": method, "params": params}
	if id != nil {
		msg["id"] = id
	}
	body, _ := json.Marshal(msg)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cs.url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if version != "" {
		req.Header.Set("MCP-Protocol-Version", version)
	}
	req.Header.Set("Mcp-Method", method)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestModernCancelIsNotForwarded: on 2026-07-28 over HTTP a
// notifications/cancelled is answered 202 and cancels nothing — another
// caller's listen stream with the named request ID stays subscribed,
// whether the notification carries its _meta protocol version or not (the
// Go SDK's does not; mcp-go would answer it 400); nor does one sent as an
// earlier revision without a session, or without the protocol header —
// while closing the stream, the transport's cancellation, ends the
// subscription. One the edge cannot read (a field of the wrong type) is
// refused with 400, never passed on.
func TestModernCancelIsNotForwarded(t *testing.T) {
	watching := make(chan struct{}, 1)
	cs := serveChoke(t, Config{
		Enabled: []tools.Spec{echoTool("thing", auth.ScopeReadonly)},
		Views: []tools.ResourceView{{URI: "test://things/{id}", Name: "things", Description: "d", MIMEType: "text/plain", Tool: "thing",
			Args: func(v map[string]string) map[string]any { return map[string]any{"id": v["id"]} }, Watch: "thing", Key: "id"}},
		Watchers: map[string]tools.Watcher{"thing": func(ctx context.Context, _ time.Time, _ func(...string)) error {
			watching <- struct{}{}
			<-ctx.Done()
			return nil
		}},
	})
	tok := func(agent string, scopes ...auth.Scope) string {
		s, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: agent, Scopes: scopes, Expiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	listenCtx, closeStream := context.WithCancel(t.Context())
	defer closeStream()
	listen := modernRPC(listenCtx, t, cs, tok("victim", auth.ScopeReadonly), 2, "subscriptions/listen",
		map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"test://things/web"}}}, true)
	defer listen.Body.Close()
	if line, err := bufio.NewReader(listen.Body).ReadString('\n'); listen.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("listen: %d %q %v", listen.StatusCode, line, err)
	}
	<-watching
	if uris, _ := cs.srv.Subscriptions(); uris != 1 {
		t.Fatalf("%d URIs subscribed after the listen, want 1", uris)
	}
	for _, tc := range []struct {
		name, caller, version string
		meta                  bool
		status                int
		extra                 map[string]any // more params
	}{
		{"another caller, with _meta", "attacker", mcp.LATEST_PROTOCOL_VERSION, true, http.StatusAccepted, nil},
		{"another caller, without _meta", "attacker", mcp.LATEST_PROTOCOL_VERSION, false, http.StatusAccepted, nil},
		{"the listener itself, without _meta (the Go SDK's Unsubscribe)", "victim", mcp.LATEST_PROTOCOL_VERSION, false, http.StatusAccepted, nil},
		{"another caller, an earlier revision without a session", "attacker", "2025-11-25", false, 0, nil},
		{"another caller, no protocol header", "attacker", "", false, 0, nil},
		{"another caller, no header but a 2026-07-28 _meta", "attacker", "", true, 0, nil},
		// A field the edge reads but a cancellation does not need, of the
		// wrong type, once let the notification through to mcp-go.
		{"another caller, a number where a name goes", "attacker", mcp.LATEST_PROTOCOL_VERSION, true, http.StatusBadRequest, map[string]any{"name": 1}},
		{"another caller, _meta not an object", "attacker", mcp.LATEST_PROTOCOL_VERSION, false, http.StatusBadRequest, map[string]any{"_meta": 1}},
	} {
		params := map[string]any{"requestId": 2, "reason": "test"}
		for k, v := range tc.extra {
			params[k] = v
		}
		resp := postRPC(t.Context(), t, cs, tok(tc.caller, auth.ScopeReadonly), tc.version, nil, "notifications/cancelled", params, tc.meta)
		resp.Body.Close()
		if tc.status != 0 && resp.StatusCode != tc.status {
			t.Errorf("%s: answered %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		time.Sleep(200 * time.Millisecond)
		if uris, _ := cs.srv.Subscriptions(); uris != 1 {
			t.Fatalf("%s (answered %d): %d URIs subscribed, want the listen's 1 still", tc.name, resp.StatusCode, uris)
		}
	}
	closeStream()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if uris, watchers := cs.srv.Subscriptions(); uris == 0 && watchers == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after the stream closed: %d URIs, %d watchers", uris, watchers)
		}
	}
}

// TestUnreadableSubscriptionRefused: a subscriptions/listen the edge
// cannot read (a field of the wrong type that a listen does not need) is
// refused with 400 and subscribes nothing, as one it can read from a
// caller without the view's scope is refused with 403; it never reaches
// mcp-go, which would subscribe it unchecked.
func TestUnreadableSubscriptionRefused(t *testing.T) {
	cs := serveChoke(t, Config{
		Enabled: []tools.Spec{echoTool("thing", auth.ScopeAdmin)},
		Views: []tools.ResourceView{{URI: "test://things/{id}", Name: "things", Description: "d", MIMEType: "text/plain", Tool: "thing",
			Args: func(v map[string]string) map[string]any { return map[string]any{"id": v["id"]} }, Watch: "thing", Key: "id"}},
		Watchers: map[string]tools.Watcher{"thing": func(ctx context.Context, _ time.Time, _ func(...string)) error {
			<-ctx.Done()
			return nil
		}},
	})
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "reader", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		extra  map[string]any
		status int
	}{
		{"readable", nil, http.StatusForbidden},
		{"a number where a name goes", map[string]any{"name": 1}, http.StatusBadRequest},
		{"a string where the uri list goes", map[string]any{"notifications": map[string]any{"resourceSubscriptions": "test://things/web"}}, http.StatusBadRequest},
	} {
		params := map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"test://things/web"}}}
		for k, v := range tc.extra {
			params[k] = v
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		resp := modernRPC(ctx, t, cs, tok, 7, "subscriptions/listen", params, true)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: answered %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if uris, _ := cs.srv.Subscriptions(); uris != 0 {
			t.Fatalf("%s: %d URIs subscribed", tc.name, uris)
		}
	}
}
