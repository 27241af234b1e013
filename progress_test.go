// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/toolstest"
)

// TestProgressRisesAcrossApprovalAndPull: a pull_image call that asked
// for progress waits for two-person approval, a second person approves it
// during the wait, and it pulls from a local registry. The official Go
// SDK client sees one strictly rising sequence of progress values, all
// with the call's token: the gate's wait, then the pull after it (which
// used to start again at 0).
func TestProgressRisesAcrossApprovalAndPull(t *testing.T) {
	ref := imageToPull(t, "progress")
	s := startServer(t, "--approval-two-person", "--approval-wait", "2m")
	alice := sdkSession(t, s.URL, s.token(t, "alice", auth.ScopeApprovalsGrant))

	type note struct {
		token           any
		progress, total float64
		message         string
	}
	var mu sync.Mutex
	var notes []note
	got := func() []note { mu.Lock(); defer mu.Unlock(); return append([]note(nil), notes...) }
	c := sdk.NewClient(&sdk.Implementation{Name: "progress-test", Version: "1"}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			notes = append(notes, note{r.Params.ProgressToken, r.Params.Progress, r.Params.Total, r.Params.Message})
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bot, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: s.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{s.token(t, "bot", auth.ScopeAdmin), http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()

	type result struct {
		res *sdk.CallToolResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		params := &sdk.CallToolParams{Name: "pull_image", Arguments: map[string]any{"image": ref}}
		params.SetProgressToken("pull-1")
		res, err := bot.CallTool(ctx, params)
		done <- result{res, err}
	}()

	// The second person approves once the request is pending and the
	// wait has been reported.
	id := regexp.MustCompile(`"id": "([0-9a-f]{16})"`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil || len(got()) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no pending request with a progress report: %v", got())
		}
		text, _ := callText(t, alice, "list_approvals", nil)
		m = id.FindStringSubmatch(text)
	}
	if text, isErr := callText(t, alice, "approve_request", map[string]any{"id": m[1]}); isErr {
		t.Fatalf("approve_request: %s", text)
	}
	r := <-done
	if r.err != nil || r.res.IsError {
		t.Fatalf("pull_image: %v %+v", r.err, r.res)
	}
	status, _ := r.res.StructuredContent.(map[string]any)["status"].(string)
	if !strings.HasPrefix(status, "Downloaded newer image") {
		t.Fatalf("pull_image status %q", status)
	}
	// Notifications travel apart from the response: wait for the last.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if n := got(); len(n) > 0 && n[len(n)-1].message == status {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final notification %q: %v", status, got())
		}
	}

	ns := got()
	if !strings.HasPrefix(ns[0].message, "waiting for approval of request "+m[1]) {
		t.Errorf("first notification %+v: want the approval wait", ns[0])
	}
	pulled := false
	for i, n := range ns {
		for _, layer := range []string{"Downloading ", "Verifying Checksum ", "Download complete ", "Extracting ", "Pull complete "} {
			pulled = pulled || strings.HasPrefix(n.message, layer)
		}
		if n.token != "pull-1" {
			t.Errorf("notification %d has token %v: %+v", i, n.token, n)
		}
		if i > 0 && n.progress <= ns[i-1].progress {
			t.Errorf("notification %d: progress %v after %v (%q after %q)", i, n.progress, ns[i-1].progress, n.message, ns[i-1].message)
		}
	}
	if end := ns[len(ns)-1]; !pulled || end.progress != end.total {
		t.Errorf("no layer progress, or the end is not at its total: %+v", ns)
	}
}

// TestPullAsTaskWaitsForApproval: pull_image started as an MCP task
// answers with a task at once; the task waits for two-person approval
// (another caller cannot see it), a second person approves, the pull runs
// from a local registry, and tasks/result hands back the pull's result.
// The audit log has the started and finished records of the one call.
func TestPullAsTaskWaitsForApproval(t *testing.T) {
	ref := imageToPull(t, "task")
	s := startServer(t, "--approval-two-person", "--approval-wait", "2m")
	alice := sdkSession(t, s.URL, s.token(t, "alice", auth.ScopeApprovalsGrant))
	bot := toolstest.NewLegacy(t, s.URL+"/mcp", s.token(t, "bot", auth.ScopeAdmin))
	eve := toolstest.NewLegacy(t, s.URL+"/mcp", s.token(t, "eve", auth.ScopeAdmin))

	res, msg := bot.RPC(t, "tools/call", map[string]any{"name": "pull_image", "arguments": map[string]any{"image": ref},
		"task": map[string]any{"ttl": 300_000}})
	var created struct {
		Task struct {
			TaskID string `json:"taskId"`
		} `json:"task"`
	}
	if json.Unmarshal(res, &created); msg != "" || created.Task.TaskID == "" {
		t.Fatalf("pull_image as a task: %s %s", res, msg)
	}
	task := map[string]any{"taskId": created.Task.TaskID}
	status := func(c *toolstest.LegacyClient) string {
		res, msg := c.RPC(t, "tasks/get", task)
		var r struct {
			Status string `json:"status"`
		}
		json.Unmarshal(res, &r)
		return r.Status + msg
	}
	id := regexp.MustCompile(`"id": "([0-9a-f]{16})"`)
	var m []string
	toolstest.WaitFor(t, "the approval request", func() bool {
		text, _ := callText(t, alice, "list_approvals", nil)
		m = id.FindStringSubmatch(text)
		return m != nil
	})
	if st := status(bot); st != "working" {
		t.Errorf("while waiting for approval the task is %q, want working", st)
	}
	if st := status(eve); !strings.Contains(st, "task not found") {
		t.Errorf("another caller's tasks/get: %q, want task not found", st)
	}
	if text, isErr := callText(t, alice, "approve_request", map[string]any{"id": m[1]}); isErr {
		t.Fatalf("approve_request: %s", text)
	}
	toolstest.WaitFor(t, "the task to complete", func() bool { return status(bot) == "completed" })
	res, msg = bot.RPC(t, "tasks/result", task)
	if msg != "" || !strings.Contains(string(res), "Downloaded newer image") || strings.Contains(string(res), `"isError":true`) {
		t.Fatalf("tasks/result: %s %s, want the pull's result", res, msg)
	}
	var started, done int
	for _, r := range s.auditRecords(t) {
		if r["tool"] == "pull_image" && r["event"] == "tool_call_started" {
			started++
		}
		if r["tool"] == "pull_image" && r["event"] == "tool_call" && r["result"] == "success" && r["approval"] != nil {
			done++
		}
	}
	if started != 1 || done != 1 {
		t.Errorf("pull_image records: %d started, %d approved successes; want 1 and 1", started, done)
	}
}

// imageToPull starts a dockerd (DOCKER_HOST) with a local registry that
// holds a new image NAME/pull:v1 the daemon does not have, and returns
// the image's reference in the registry.
func imageToPull(t *testing.T, name string) string {
	d := labtest.StartDockerd(t)
	reg := d.StartRegistry(t)
	local := "local/" + name + ":v1"
	d.Image(t, labtest.ImageSpec{Name: local, Busybox: true, Files: map[string]string{"/etc/unique": time.Now().String()}})
	ref := reg.Push(t, local, name+"/pull:v1")
	d.RemoveImage(t, local)
	d.RemoveImage(t, ref)
	t.Setenv("DOCKER_HOST", d.Host)
	return ref
}
