// SPDX-License-Identifier: Apache-2.0

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// slow is a toolset with a task tool that runs until released or
// cancelled, and a quick tool that cannot run as a task.
type slow struct {
	release chan struct{}
	ended   atomic.Value // how the last slow call ended
}

type slowIn struct {
	Say string `json:"say"`
}

type slowOut struct {
	Said string `json:"said"`
}

func (s *slow) Name() string { return "slow" }

func (s *slow) Tools() []tools.Spec {
	return []tools.Spec{
		tools.TypedSpec[slowIn, slowOut]{
			Name: "slow_write", Title: "Slow write", Description: "waits to be released", Scope: auth.ScopeContainerWrite, Risk: tools.RiskHigh,
			Task: true,
			Run: func(ctx context.Context, in slowIn) (slowOut, error) {
				select {
				case <-s.release:
					s.ended.Store("released")
					return slowOut{Said: in.Say}, nil
				case <-ctx.Done():
					s.ended.Store("cancelled")
					return slowOut{}, fmt.Errorf("stopped: %w", ctx.Err())
				}
			},
		}.Spec(),
		tools.TypedSpec[slowIn, slowOut]{
			Name: "quick_read", Title: "Quick read", Description: "answers at once", Scope: auth.ScopeReadonly, Risk: tools.RiskLow, Hints: tools.ReadHints,
			Run: func(_ context.Context, in slowIn) (slowOut, error) { return slowOut{Said: in.Say}, nil },
		}.Spec(),
	}
}

// startTask calls tool as a task with ttl (ms; 0: none) and returns the
// task's id, or the error.
func startTask(t *testing.T, c *toolstest.LegacyClient, tool string, ttl int64) (string, string) {
	t.Helper()
	task := map[string]any{}
	if ttl != 0 {
		task["ttl"] = ttl
	}
	res, msg := c.RPC(t, "tools/call", map[string]any{"name": tool, "arguments": map[string]any{"say": "hi"}, "task": task})
	if msg != "" {
		return "", msg
	}
	var r struct {
		Task struct {
			TaskID string `json:"taskId"`
			Status string `json:"status"`
		} `json:"task"`
	}
	if err := json.Unmarshal(res, &r); err != nil || r.Task.TaskID == "" {
		t.Fatalf("tools/call as a task: %s (%v), want a task", res, err)
	}
	return r.Task.TaskID, ""
}

// status is tasks/get's status of id as c sees it, or its error.
func status(t *testing.T, c *toolstest.LegacyClient, id string) string {
	t.Helper()
	res, msg := c.RPC(t, "tasks/get", map[string]any{"taskId": id})
	if msg != "" {
		return "error: " + msg
	}
	var r struct {
		Status string `json:"status"`
	}
	json.Unmarshal(res, &r)
	return r.Status
}

// TestTasks: a task tool's call runs as a task that outlives the request
// that started it, through the choke point (scope, audit record); only
// the caller that started it can see, fetch or cancel it; cancelling
// ends the call, and the record says so; a task needs a bounded ttl, the
// list is not offered, and a tool not declared as a task cannot run as
// one.
func TestTasks(t *testing.T) {
	ts := &slow{release: make(chan struct{})}
	srv := toolstest.New(t, []tools.Toolset{ts}, nil)
	owner := srv.Legacy(t, auth.ScopeContainerWrite)
	other := srv.Legacy(t, auth.ScopeAdmin)

	id, msg := startTask(t, owner, "slow_write", 120_000)
	if msg != "" {
		t.Fatalf("starting a task: %s", msg)
	}
	time.Sleep(300 * time.Millisecond) // past the request that started it
	if got := status(t, owner, id); got != "working" {
		r, m := owner.RPC(t, "tasks/get", map[string]any{"taskId": id})
		t.Errorf("the owner's tasks/get: %s, want working (%s %s; %v)", got, r, m, ts.ended.Load())
	}
	for _, m := range []string{"tasks/get", "tasks/result", "tasks/cancel"} {
		if _, msg := other.RPC(t, m, map[string]any{"taskId": id}); !strings.Contains(msg, "task not found") {
			t.Errorf("another caller's %s: %q, want task not found", m, msg)
		}
	}
	close(ts.release)
	toolstest.WaitFor(t, "the task to complete", func() bool { return status(t, owner, id) == "completed" })
	res, msg := owner.RPC(t, "tasks/result", map[string]any{"taskId": id})
	if msg != "" || !strings.Contains(string(res), `"said":"hi"`) {
		t.Errorf("tasks/result: %s %s, want the tool's result", res, msg)
	}

	// Cancelled by its owner: the call's context ends, and so does the call.
	ts.release = make(chan struct{})
	id2, msg := startTask(t, owner, "slow_write", 120_000)
	if msg != "" {
		t.Fatal(msg)
	}
	toolstest.WaitFor(t, "the second task to run", func() bool { return status(t, owner, id2) == "working" })
	if _, msg := owner.RPC(t, "tasks/cancel", map[string]any{"taskId": id2}); msg != "" {
		t.Fatalf("tasks/cancel: %s", msg)
	}
	toolstest.WaitFor(t, "the call to end", func() bool { return ts.ended.Load() == "cancelled" })

	var started, ok, failed int
	toolstest.WaitFor(t, "the records", func() bool {
		started, ok, failed = 0, 0, 0
		for _, r := range srv.Records(t) {
			if r["tool"] != "slow_write" {
				continue
			}
			switch {
			case r["event"] == "tool_call_started":
				started++
			case r["result"] == "success":
				ok++
			case r["result"] == "error" && strings.Contains(fmt.Sprint(r["error"]), "context canceled"):
				failed++
			}
		}
		return started == 2 && ok == 1 && failed == 1
	})

	for _, tc := range []struct {
		name, tool string
		ttl        int64
		want       string
	}{
		{"no ttl", "slow_write", 0, "must ask for a ttl"},
		{"ttl too short", "slow_write", 1000, "must ask for a ttl"},
		{"ttl too long", "slow_write", 2 * 3600_000, "must ask for a ttl"},
	} {
		if _, msg := startTask(t, other, tc.tool, tc.ttl); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, msg, tc.want)
		}
	}
	// A field of the wrong type that mcp-go does not read (a number
	// taskId on a tools/call) once let a task past these rules: no ttl,
	// kept forever, past the quota. Refused.
	if res, msg := other.RPC(t, "tools/call", map[string]any{"name": "slow_write", "arguments": map[string]any{"say": "hi"},
		"task": map[string]any{}, "taskId": 1}); !strings.Contains(msg, "invalid tools/call request") {
		t.Errorf("a task call with a number taskId: %s %q, want it refused", res, msg)
	}
	// A tool not declared as a task answers as usual.
	if res, msg := other.RPC(t, "tools/call", map[string]any{"name": "quick_read", "arguments": map[string]any{"say": "hi"},
		"task": map[string]any{"ttl": 120_000}}); msg != "" || !strings.Contains(string(res), `"said":"hi"`) {
		t.Errorf("quick_read with a task: %s %s, want its result", res, msg)
	}
	if _, msg := owner.RPC(t, "tasks/list", map[string]any{}); !strings.Contains(msg, "not offered") {
		t.Errorf("tasks/list: %q, want refused", msg)
	}
	// The task runs through the choke point: a caller without the scope
	// gets a task whose result is the refusal.
	reader := srv.Legacy(t, auth.ScopeReadonly)
	if id, msg := startTask(t, reader, "slow_write", 120_000); msg == "" {
		toolstest.WaitFor(t, "the refused task to end", func() bool { return status(t, reader, id) == "completed" })
		res, _ := reader.RPC(t, "tasks/result", map[string]any{"taskId": id})
		if !strings.Contains(string(res), `"isError":true`) || !strings.Contains(string(res), "scope") {
			t.Errorf("a task without the scope: %s, want the scope refusal", res)
		}
	} else if !strings.Contains(msg, "scope") && !strings.Contains(msg, "not found") {
		t.Errorf("a task without the scope: %q", msg)
	}
}

// TestTasksNeedALegacyRevision: on 2026-07-28, where mcp-go serves no
// tasks/result, a call as a task is refused with what to do instead, and
// nothing runs.
func TestTasksNeedALegacyRevision(t *testing.T) {
	ts := &slow{release: make(chan struct{})}
	srv := toolstest.New(t, []tools.Toolset{ts}, nil)
	c := srv.Client(t, auth.ScopeContainerWrite)
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = "slow_write", map[string]any{"say": "hi"}
	ttl := int64(120_000)
	req.Params.Task = &mcp.TaskParams{TTL: &ttl}
	_, err := c.CallTool(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "without a task") {
		t.Errorf("a task on 2026-07-28: %v, want refused", err)
	}
	if n := len(srv.Records(t)); n != 0 {
		t.Errorf("%d audit records, want none: nothing ran", n)
	}
}

// TestTaskQuota: a caller may start at most 32 tasks within an hour; the
// next is refused with a message, and another caller is unaffected.
func TestTaskQuota(t *testing.T) {
	ts := &slow{release: make(chan struct{})}
	close(ts.release)
	srv := toolstest.New(t, []tools.Toolset{ts}, nil)
	a, b := srv.Legacy(t, auth.ScopeContainerWrite), srv.Legacy(t, auth.ScopeAdmin)
	for i := range 32 {
		if _, msg := startTask(t, a, "slow_write", 60_000); msg != "" {
			t.Fatalf("task %d: %s", i+1, msg)
		}
	}
	if _, msg := startTask(t, a, "slow_write", 60_000); !strings.Contains(msg, "32 tasks started") {
		t.Errorf("task 33: %q, want the quota's refusal", msg)
	}
	if _, msg := startTask(t, b, "slow_write", 60_000); msg != "" {
		t.Errorf("another caller: %s", msg)
	}
}

// TestTaskStatusStaysWithItsOwner: mcp-go sends a task's status
// notification to every session; another caller's event stream never
// carries it (it would say when the owner's deploys end, and how), while
// another session of the owner's own token does.
func TestTaskStatusStaysWithItsOwner(t *testing.T) {
	ts := &slow{release: make(chan struct{})}
	srv := toolstest.New(t, []tools.Toolset{ts}, nil)
	tok := srv.Token(t, auth.ScopeContainerWrite)
	owner, ownerWatch := toolstest.NewLegacy(t, srv.URL, tok), toolstest.NewLegacy(t, srv.URL, tok)
	other := srv.Legacy(t, auth.ScopeReadonly)
	ownerLines, otherLines := ownerWatch.Stream(t), other.Stream(t)
	id, msg := startTask(t, owner, "slow_write", 120_000)
	if msg != "" {
		t.Fatal(msg)
	}
	if _, msg := owner.RPC(t, "tasks/cancel", map[string]any{"taskId": id}); msg != "" {
		t.Fatal(msg)
	}
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case l := <-ownerLines:
			seen = strings.Contains(l, "notifications/tasks/status") && strings.Contains(l, id)
		case l := <-otherLines:
			if strings.Contains(l, id) {
				t.Fatalf("another caller's event stream carried the task: %s", l)
			}
		case <-deadline:
			t.Fatal("the owner's other session got no status notification of its task")
		}
	}
	// The broadcast reached both sessions at once; give the other's a
	// moment more.
	grace := time.After(500 * time.Millisecond)
	for {
		select {
		case l := <-otherLines:
			if strings.Contains(l, id) {
				t.Fatalf("another caller's event stream carried the task: %s", l)
			}
		case <-grace:
			return
		}
	}
}
