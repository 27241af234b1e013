// SPDX-License-Identifier: Apache-2.0

// Package bare is the peer of TailOps' benchmarks: a bare mcp-go server
// with one no-op tool, nothing else (no auth, audit or sandbox).
package bare

import (
	"context"
	"net/http"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
)

// Handler serves the bare server's streamable HTTP at /mcp and a
// /healthz that answers 200.
func Handler() http.Handler {
	s := mcpserver.NewMCPServer("bare", "1", mcpserver.WithToolCapabilities(false))
	s.AddTool(mcpgo.NewTool("noop", mcpgo.WithDescription("does nothing")),
		func(context.Context, mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
			return mcpgo.NewToolResultText("ok"), nil
		})
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpserver.NewStreamableHTTPServer(s, mcpserver.WithEndpointPath("/mcp")))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}
