// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// TestServeBoundsSlowAndIdleConnections: on Serve's connections a body
// that stalls is given up on after the body timeout (before, a tokenless
// request announcing a long body and sending one byte held its
// connection and handler for ever), and a keep-alive connection after
// the idle timeout; a call whose body has arrived may then take longer
// than the body timeout to answer.
func TestServeBoundsSlowAndIdleConnections(t *testing.T) {
	const timeout = 400 * time.Millisecond
	slow := readTool("slow", auth.ScopeReadonly)
	slow.Handler = func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-time.After(3 * timeout):
			return mcp.NewToolResultText("slow ran"), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cs := serveChoke(t, Config{Known: []tools.Spec{slow}, Enabled: []tools.Spec{slow}})
	cs.srv.bodyTimeout, cs.srv.idleTimeout = timeout, timeout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- cs.srv.Serve(ctx, []net.Listener{ln}) }()
	t.Cleanup(func() { stop(); <-served })
	addr := ln.Addr().String()

	for _, tc := range []struct{ name, request string }{
		{"stalled body", "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.request); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c.SetReadDeadline(start.Add(timeout + 5*time.Second))
			got, err := io.ReadAll(bufio.NewReader(c)) // until the server closes the connection
			if err != nil {
				t.Fatalf("the server kept the connection open %s after the request (%v); it sent %q", time.Since(start), err, got)
			}
		})
	}

	cs.url = "http://" + addr + "/mcp"
	c := cs.client(t, false, "agent", auth.ScopeReadonly)
	req := mcp.CallToolRequest{}
	req.Params.Name = "slow"
	res, err := c.CallTool(t.Context(), req)
	if err != nil || res.IsError || !strings.Contains(res.Content[0].(mcp.TextContent).Text, "slow ran") {
		t.Errorf("a call answering after 3 body timeouts: %v %+v", err, res)
	}
}
