// SPDX-License-Identifier: Apache-2.0

package toolstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
)

// LegacyClient speaks MCP protocol 2025-11-25 over raw HTTP, in a
// session (the revision whose tasks mcp-go serves whole, with
// tasks/result), for requests the SDK clients do not make.
type LegacyClient struct {
	url, tok, sid string
	n             int
}

// Legacy opens a session on s with a token of scopes.
func (s *Server) Legacy(t testing.TB, scopes ...auth.Scope) *LegacyClient {
	t.Helper()
	return NewLegacy(t, s.URL, s.Token(t, scopes...))
}

// NewLegacy opens a session on the MCP endpoint url with the bearer
// token tok.
func NewLegacy(t testing.TB, url, tok string) *LegacyClient {
	t.Helper()
	c := &LegacyClient{url: url, tok: tok}
	res, msg := c.RPC(t, "initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "tasks-test", "version": "1"}})
	if msg != "" || c.sid == "" {
		t.Fatalf("initialize: %s %s, session %q", res, msg, c.sid)
	}
	c.RPC(t, "notifications/initialized", nil)
	return c
}

// RPC sends one JSON-RPC request (a notification for a method
// notifications/…) and returns the result, or the error's message.
func (c *LegacyClient) RPC(t testing.TB, method string, params map[string]any) (json.RawMessage, string) {
	t.Helper()
	c.n++
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if !strings.HasPrefix(method, "notifications/") {
		msg["id"] = c.n
	}
	if params != nil {
		msg["params"] = params
	}
	b, _ := json.Marshal(msg)
	req, _ := http.NewRequest("POST", c.url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.sid != "" {
		req.Header.Set("Mcp-Session-Id", c.sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		c.sid = sid
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
	}
	if len(body) == 0 {
		return nil, fmt.Sprintf("HTTP %d, no body", resp.StatusCode)
	}
	// An event stream carries the response, after any notifications, on
	// a data line of its own.
	lines := [][]byte{body}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		lines = nil
		for _, l := range bytes.Split(body, []byte("\n")) {
			if d, ok := bytes.CutPrefix(l, []byte("data: ")); ok {
				lines = append(lines, d)
			}
		}
	}
	var r struct {
		ID     any             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	for _, l := range lines {
		r.ID = nil
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("%s: %s: %v", method, l, err)
		}
		if r.ID != nil {
			break
		}
	}
	if r.Error != nil {
		return nil, r.Error.Message
	}
	return r.Result, ""
}

// Stream opens the session's event stream (GET) and returns the data
// lines it carries, until the test ends.
func (c *LegacyClient) Stream(t testing.TB) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.url, nil)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", c.sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET event stream: HTTP %d", resp.StatusCode)
	}
	out := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case out <- d:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
