// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/redact/redacttest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// TestProgressIsOneRisingSequence: through a real MCP client, a call
// whose approval wait (reported as the server's gate reports it, through
// ApprovalWait) is followed by a tool that counts from 0 again, and also
// reports a value lower than its last, gets one strictly rising sequence
// of notifications, each with its token; a call without a token gets
// none.
func TestProgressIsOneRisingSequence(t *testing.T) {
	t.Parallel()
	counter := tools.TypedSpec[tools.NoArgs, tools.NoArgs]{
		Name: "count", Title: "Count", Description: "Reports progress 0 to 3, with a lower value and a repeat among them.",
		Scope: "", Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(ctx context.Context, _ tools.NoArgs) (tools.NoArgs, error) {
			p := tools.ProgressFrom(ctx)
			for _, v := range []float64{0, 1, 2, 1, 2, 3} {
				p.Report(v, 3, "counting", true)
			}
			return tools.NoArgs{}, nil
		},
	}.Spec()
	// As the server's approval gate: a wait of 10 s, reported at 0 and 5 s.
	gate := func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if wait := tools.ProgressFrom(ctx).ApprovalWait(); wait != nil {
				wait(0, 10*time.Second, "waiting for approval")
				wait(5*time.Second, 10*time.Second, "waiting for approval")
			}
			return next(ctx, req)
		}
	}
	srv := mcptest.NewUnstartedServer(t)
	srv.AddServerOptions(server.WithToolHandlerMiddleware(tools.ProgressMiddleware), server.WithToolHandlerMiddleware(gate))
	srv.AddTool(counter.Tool, counter.Handler)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	notes := toolstest.RecordProgress(srv.Client())
	call := func(token any) {
		var req mcp.CallToolRequest
		req.Params.Name = "count"
		if token != nil {
			req.Params.Meta = &mcp.Meta{ProgressToken: token}
		}
		if res, err := srv.Client().CallTool(context.Background(), req); err != nil || res.IsError {
			t.Fatalf("count: %v %+v", err, res)
		}
	}

	call("count-1")
	// Wait 0 and 5 of 10; then the tool's 0..3 of 3, placed after 5.
	want := [][2]float64{{0, 10}, {5, 10}, {6, 9}, {7, 9}, {8, 9}, {9, 9}}
	toolstest.WaitFor(t, "the last notification", func() bool { return len(notes.Get()) >= len(want) })
	time.Sleep(100 * time.Millisecond) // none may follow
	var got [][2]float64
	for _, n := range notes.Get() {
		p, _ := n["progress"].(float64)
		total, _ := n["total"].(float64)
		got = append(got, [2]float64{p, total})
		if n["progressToken"] != "count-1" {
			t.Errorf("notification without the call's token: %v", n)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("progress, total: %v, want %v", got, want)
	}

	notes.Reset()
	call(nil)
	time.Sleep(100 * time.Millisecond)
	if n := notes.Get(); len(n) != 0 {
		t.Errorf("notifications for a call without a progress token: %v", n)
	}
}

// TestProgressMessagesAreRedacted: a progress message quoting a daemon's
// error with a credential in a URL (as compose's pull errors do) reaches
// the client redacted, as the call's result would be.
func TestProgressMessagesAreRedacted(t *testing.T) {
	leak := "Error response from daemon: Get \"https://u:" + redacttest.HMACToken + "@registry.example/v2/\": unauthorized"
	sp := tools.TypedSpec[tools.NoArgs, tools.NoArgs]{
		Name: "leaky", Title: "Leaky", Description: "reports a daemon error as progress", Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(ctx context.Context, _ tools.NoArgs) (tools.NoArgs, error) {
			tools.ProgressFrom(ctx).Report(1, 0, "web: "+leak, true)
			return tools.NoArgs{}, nil
		},
	}.Spec()
	srv := mcptest.NewUnstartedServer(t)
	srv.AddServerOptions(server.WithToolHandlerMiddleware(tools.ProgressMiddleware))
	srv.AddTool(sp.Tool, sp.Handler)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	notes := toolstest.RecordProgress(srv.Client())
	var req mcp.CallToolRequest
	req.Params.Name = "leaky"
	req.Params.Meta = &mcp.Meta{ProgressToken: "p"}
	if _, err := srv.Client().CallTool(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	toolstest.WaitFor(t, "progress", func() bool { return len(notes.Get()) > 0 })
	for _, n := range notes.Get() {
		m := fmt.Sprint(n["message"])
		if strings.Contains(m, redacttest.HMACToken) || !strings.Contains(m, "web: Error response from daemon") {
			t.Errorf("progress message %q, want it redacted and otherwise kept", m)
		}
	}
}
