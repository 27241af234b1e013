// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// TestDrainRecordsACallThatNeverReturns: a call that ignores its
// cancellation (as a hung system call would) gets its outcome recorded as
// interrupted once the grace after cancelling runs out, so the log never
// holds a started record without an outcome; when it returns after all,
// nothing more is written. Calls arriving while the server drains are
// refused and audited.
func TestDrainRecordsACallThatNeverReturns(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(logPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	release, entered := make(chan struct{}), make(chan struct{})
	stuck := tools.Spec{Scope: auth.ScopeReadonly, Risk: tools.RiskHigh,
		Tool: mcp.NewTool("stuck", mcp.WithDescription("a tool that ignores its cancellation"),
			mcp.WithReadOnlyHintAnnotation(false), mcp.WithDestructiveHintAnnotation(false),
			mcp.WithIdempotentHintAnnotation(false), mcp.WithOpenWorldHintAnnotation(false)),
		Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			close(entered)
			<-release // ignores ctx
			return mcp.NewToolResultText("done"), nil
		}}
	a, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: l, Enabled: []tools.Spec{stuck}})
	if err != nil {
		t.Fatal(err)
	}
	h := a.authorizeAndAudit(stuck.Handler)
	ctx := auth.WithCaller(context.Background(), &auth.Caller{Agent: "bot", Scopes: []auth.Scope{auth.ScopeReadonly}})
	call := func() string {
		req := mcp.CallToolRequest{}
		req.Params.Name = "stuck"
		res, err := h(ctx, req)
		if err != nil {
			return err.Error()
		}
		return res.Content[0].(mcp.TextContent).Text
	}
	first := make(chan string, 1)
	go func() { first <- call() }()
	<-entered
	drained := make(chan struct{})
	go func() { a.drain(50*time.Millisecond, 100*time.Millisecond); close(drained) }()
	waitUntil(t, "the drain to begin", 5*time.Second, func() bool {
		a.calls.mu.Lock()
		defer a.calls.mu.Unlock()
		return a.calls.closing
	})
	if got := call(); !strings.Contains(got, "the server is shutting down") {
		t.Errorf("a call during the drain answered %q, want a refusal", got)
	}
	<-drained
	recs := readAuditLog(t, logPath)
	started := findRecord(recs, audit.EventToolCallStarted, "stuck", "")
	if started == nil {
		t.Fatalf("no started record: %v", recs)
	}
	result := findRecord(recs, audit.EventToolCall, "stuck", started["request_id"].(string))
	if result == nil || result["result"] != string(audit.ResultError) || !strings.HasPrefix(fmt.Sprint(result["error"]), "interrupted: ") {
		t.Errorf("outcome of the call that never returned = %v, want it recorded as interrupted", result)
	}
	refused := 0
	for _, r := range recs {
		if r["decision"] == string(audit.DecisionDenied) && strings.Contains(fmt.Sprint(r["reason"]), "the server is shutting down") {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d refusals for the shutdown in the log, want 1: %v", refused, recs)
	}
	close(release)
	if got := <-first; !strings.HasPrefix(got, "interrupted: ") {
		t.Errorf("the late call answered %q", got)
	}
	if n := len(readAuditLog(t, logPath)); n != len(recs) {
		t.Errorf("the late return wrote %d more records", n-len(recs))
	}
}

// readAuditLog returns the records of the audit log at path.
func readAuditLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// findRecord returns the last record of event for tool and request id
// (either may be empty: any), or nil.
func findRecord(recs []map[string]any, event audit.Event, tool, requestID string) map[string]any {
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r["event"] == string(event) && (tool == "" || r["tool"] == tool) && (requestID == "" || r["request_id"] == requestID) {
			return r
		}
	}
	return nil
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
