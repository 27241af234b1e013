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
