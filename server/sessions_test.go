// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// TestListenStreamsCountAsSessions: a 2026-07-28 subscriptions/listen
// stream holds a place of its caller's under --max-sessions-per-caller
// while it is open, so one token cannot hold open listen streams without
// bound. Past the cap a listen is refused with a JSON-RPC error naming
// the flag, and audited; another caller is not affected, and closing a
// stream gives its place back.
func TestListenStreamsCountAsSessions(t *testing.T) {
	c := watchedConfig(auth.ScopeReadonly, nil)
	c.Sessions = SessionLimits{MaxPerCaller: 2}
	cs := serveChoke(t, c)
	tok := func(id string) string {
		s, err := auth.MintHMAC(cs.secret, auth.Claims{ID: id, Agent: id, Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// listen opens a stream for token id; it returns the stream's first
	// line, and a close.
	listen := func(id string, reqID int) (string, func()) {
		ctx, cancel := context.WithCancel(t.Context())
		resp := modernRPC(ctx, t, cs, tok(id), reqID, "subscriptions/listen",
			map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"test://things/web"}}}, true)
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != http.StatusOK || (err != nil && err != io.EOF) {
			t.Fatalf("listen %s/%d: %d %q %v", id, reqID, resp.StatusCode, line, err)
		}
		return line, func() { cancel(); resp.Body.Close() }
	}
	refused := func(line string) bool {
		var m struct {
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m)
		return m.Error != nil && m.Error.Code == sessionLimitCode && strings.Contains(m.Error.Message, "--max-sessions-per-caller")
	}
	var open []func()
	for i := range 2 {
		line, stop := listen("greedy", 10+i)
		if refused(line) {
			t.Fatalf("listen %d of 2 refused: %s", i+1, line)
		}
		open = append(open, stop)
	}
	line, stop := listen("greedy", 12)
	stop()
	if !refused(line) {
		t.Fatalf("a third listen stream past --max-sessions-per-caller 2: %q, want a JSON-RPC error naming the flag", line)
	}
	if line, stop := listen("other", 13); refused(line) {
		t.Errorf("another caller's listen refused: %s", line)
	} else {
		stop()
	}
	open[0]()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		line, stop := listen("greedy", 14)
		stop()
		if !refused(line) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed listen stream's place was not given back: %s", line)
		}
	}
	open[1]()
	denied := 0
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] == string(audit.EventSessionDenied) && strings.Contains(fmt.Sprint(r["reason"]), "listen streams for this caller") {
			denied++
		}
	}
	if denied == 0 {
		t.Error("the refused listen stream left no session_denied record")
	}
}

// TestSessionHasOneEventStream: a session's event stream (GET /mcp) is
// one at a time, as the official TypeScript SDK's server has it: another
// while it is open is 409, and once it is closed a new one opens. (mcp-go
// alone opened 300 on one session, each a goroutine and a connection.)
func TestSessionHasOneEventStream(t *testing.T) {
	cs := startChokeServer(t)
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "a", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	post := func(sid, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, cs.url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize: %d, no session id", resp.StatusCode)
	}
	post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	stream := func() (*http.Response, context.CancelFunc) {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cs.url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		return resp, func() { cancel(); resp.Body.Close() }
	}
	first, closeFirst := stream()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("the first event stream: %d", first.StatusCode)
	}
	second, closeSecond := stream()
	closeSecond()
	if second.StatusCode != http.StatusConflict {
		t.Errorf("a second event stream while the first is open: %d, want 409", second.StatusCode)
	}
	closeFirst()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		third, closeThird := stream()
		closeThird()
		if third.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a new event stream once the first closed: %d, want 200", third.StatusCode)
		}
	}
}
